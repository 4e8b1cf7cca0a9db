"""API tokens: the authentication class of the API and the hand-over of every
user save to `services.user_saved` (a new password or a deactivation revokes
the user's tokens, whichever page, command or script made the change).

Clients send `Authorization: Token <token>`, as with DRF's former tokens.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from knox.settings import knox_settings
from rest_framework import exceptions
from rest_framework.request import Request

from . import services
from .models import ApiToken, User

# `last_used_at` is written at most once a minute per token.
LAST_USE_PRECISION = timedelta(minutes=1)


class ApiTokenAuthentication(TokenAuthentication):  # type: ignore[misc]  # knox is untyped
    """knox's token check (digest, expiry, active user), noting the last use."""

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        try:
            return super().authenticate(request)  # type: ignore[no-any-return]
        except exceptions.AuthenticationFailed:
            # One French answer for a bad, expired, revoked or disabled token.
            raise exceptions.AuthenticationFailed(
                gettext("Invalid or expired token: create a new one on your tokens page.")
            ) from None

    def validate_user(self, auth_token: ApiToken) -> tuple[User, ApiToken]:
        user, token = super().validate_user(auth_token)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USE_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return user, token


class ApiTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """The scheme in the OpenAPI schema: `Authorization: Token <token>`."""

    target_class = "accounts.tokens.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=knox_settings.AUTH_HEADER_PREFIX
        )


@receiver(post_save, sender=User)
def _user_saved(
    sender: Any, instance: User, created: bool, update_fields: Any = None, **kwargs: Any
) -> None:
    if created:
        return
    # `set_password` keeps the raw password in `_password` until the save
    # ends: a rehash at sign-in (hasher upgrade) does not, and keeps tokens.
    password_changed = getattr(instance, "_password", None) is not None
    if update_fields is not None and not (
        password_changed or "is_active" in update_fields or "password" in update_fields
    ):
        return
    services.user_saved(instance, password_changed=password_changed)
