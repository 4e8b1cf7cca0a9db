"""Session events for the audit trail.

The receivers only hand over to `accounts.services`, which writes the event.
"""

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from . import services, sessions, throttling


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    sessions.start(request)
    services.record_session_event(
        "login", actor_id=user.pk, details=throttling.client_details(request)
    )


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    services.record_session_event(
        "logout", actor_id=user.pk if user else None, details=throttling.client_details(request)
    )


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    # A try refused by the lock (accounts/throttling.py) checked no password
    # and is not an event: the lockout is.
    if getattr(request, "axes_locked_out", False) and (
        getattr(request, "axes_failures_since_start", None) is None
    ):
        return
    # The attempted username is not stored: it may be a person's name
    # typed in the wrong field. The account id is kept when it exists.
    key = throttling.account_key(request, credentials)
    services.record_session_event(
        "login_failed",
        actor_id=throttling.account_id(key),
        details=throttling.client_details(request),
    )


@receiver(user_locked_out)
def _locked_out(sender: Any, request: Any, username: str | None = None, **kwargs: Any) -> None:
    throttling.record_lockout(request, username)
