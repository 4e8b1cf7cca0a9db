"""Session events for the audit trail.

The receivers only hand over to `accounts.services`, which writes the event.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from . import services


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    services.record_session_event("login", actor_id=user.pk)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    services.record_session_event("logout", actor_id=user.pk if user else None)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    # The attempted username is not stored: it may be a person's name
    # typed in the wrong field. The account id is kept when it exists.
    username = credentials.get("username") or ""
    user_id = (
        get_user_model().objects.filter(username=username).values_list("pk", flat=True).first()
    )
    services.record_session_event("login_failed", actor_id=user_id)
