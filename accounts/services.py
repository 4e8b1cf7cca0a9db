"""Use cases of accounts that leave a trace: sign-in, sign-out, failed sign-in,
the second factor (enrolment, verification, step-up at a signature)."""

from __future__ import annotations

import time
from base64 import b32encode
from typing import Any, cast

import qrcode
import qrcode.image.svg
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils import timezone
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from knox.settings import knox_settings

from audit import log

from .models import ApiToken, User

SESSION_ACTIONS = frozenset(
    {"login", "logout", "login_failed", "lockout", "unlock", "session_expired"}
)


def record_session_event(
    action: str, *, actor_id: int | None, details: dict[str, Any] | None = None
) -> None:
    """A session event. `details` holds ids, codes, the source address and the
    user agent (accounts.throttling.client_details), never a typed name."""
    if action not in SESSION_ACTIONS:
        raise ValueError(f"unknown session event {action!r}")
    log.record_session_event(action, actor_id=actor_id, details=details or None)


# ---------------------------------------------------------------------------
# Second factor (django-otp): a TOTP authenticator or a WebAuthn key/passkey,
# with ten single-use recovery codes. Every account enrols at its first
# sign-in (accounts/middleware.py); each signature asks for a fresh factor.

RECOVERY_CODE_COUNT = 10
RECOVERY_DEVICE_NAME = "recovery"
TOTP_DEVICE_NAME = "authenticator"
# A WebAuthn assertion made for a signature counts for this long, once.
STEP_UP_SECONDS = 120
STEP_UP_SESSION_KEY = "huisclos_step_up"


def has_second_factor(user: AbstractBaseUser) -> bool:
    """The user has enrolled: a confirmed TOTP device or WebAuthn credential."""
    return any(
        not isinstance(device, StaticDevice) for device in devices_for_user(user, confirmed=True)
    )


def has_webauthn(user: AbstractBaseUser) -> bool:
    return bool(WebAuthnCredential.objects.filter(user=user, confirmed=True).exists())


def pending_totp_device(user: AbstractBaseUser) -> TOTPDevice:
    """The unconfirmed authenticator being enrolled (created on first call)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def totp_secret(device: TOTPDevice) -> str:
    """The key in base32, as typed into an authenticator app."""
    return b32encode(device.bin_key).decode("ascii")


def totp_qr_svg(device: TOTPDevice) -> bytes:
    """The otpauth:// URL of `device` as an SVG QR code."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    return cast(bytes, image.to_string(encoding="unicode").encode("utf-8"))


def confirm_totp(user: AbstractBaseUser, code: str) -> list[str] | None:
    """Confirm the pending authenticator with a code it shows.

    Returns the ten recovery codes (to be shown once), or None when the code
    is wrong or nothing is pending.
    """
    code = _normalised(code)
    with transaction.atomic():
        if has_second_factor(user):
            return None
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("pk")
            .first()
        )
        if device is None or not code.isdigit() or not device.verify_token(code):
            log.record_session_event(
                "second_factor_failed", actor_id=user.pk, details={"device": "totp"}
            )
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        codes = _new_recovery_codes(user)
        log.record_session_event(
            "second_factor_enrolled", actor_id=user.pk, details={"device": "totp"}
        )
    return codes


def webauthn_enrolled(user: AbstractBaseUser) -> list[str]:
    """A key was just registered: recovery codes if the user had none."""
    with transaction.atomic():
        codes = (
            [] if StaticDevice.objects.filter(user=user).exists() else _new_recovery_codes(user)
        )
        log.record_session_event(
            "second_factor_enrolled", actor_id=user.pk, details={"device": "webauthn"}
        )
    return codes


def _new_recovery_codes(user: AbstractBaseUser) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def _normalised(code: str) -> str:
    return "".join(str(code or "").split()).lower()


def verify_second_factor(user: AbstractBaseUser, code: str) -> Device | None:
    """Check a TOTP code or a recovery code against the user's devices.

    A TOTP code is accepted once (django-otp keeps the last time step used);
    a recovery code is deleted when used. Failures are throttled per device
    by django-otp and recorded.
    """
    code = _normalised(code)
    matched: Device | None = None
    if code and len(code) <= 16 and code.isalnum():
        with transaction.atomic():
            for device in devices_for_user(user, confirmed=True, for_verify=True):
                if isinstance(device, TOTPDevice | StaticDevice) and device.verify_token(code):
                    matched = device
                    break
    log.record_session_event(
        "second_factor_verified" if matched else "second_factor_failed",
        actor_id=user.pk,
        details={"device": _device_kind(matched) if matched else "code"},
    )
    return matched


def _device_kind(device: Device) -> str:
    if isinstance(device, TOTPDevice):
        return "totp"
    if isinstance(device, StaticDevice):
        return "recovery_code"
    return "webauthn"


def remaining_recovery_codes(user: AbstractBaseUser) -> int:
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


def record_webauthn_step_up(session: SessionBase, user: AbstractBaseUser) -> None:
    """A WebAuthn assertion was just verified for a signature in this session."""
    session[STEP_UP_SESSION_KEY] = {"user": user.pk, "at": time.time()}


def consume_webauthn_step_up(session: SessionBase, user: AbstractBaseUser) -> bool:
    """True once for an assertion of `user` verified less than 2 minutes ago."""
    record = session.pop(STEP_UP_SESSION_KEY, None)
    if not isinstance(record, dict):
        return False
    session.save()
    age = time.time() - float(record.get("at", 0))
    return record.get("user") == user.pk and 0 <= age <= STEP_UP_SECONDS


def check_step_up(
    user: AbstractBaseUser, *, otp: str = "", session: SessionBase | None = None
) -> bool:
    """A fresh second factor for an action that asks for one (a signature).

    `otp`: a TOTP or recovery code typed now. Without one, a WebAuthn
    assertion verified in `session` within the last 2 minutes, consumed.
    """
    if otp:
        return verify_second_factor(user, otp) is not None
    if session is not None and consume_webauthn_step_up(session, user):
        log.record_session_event(
            "second_factor_verified", actor_id=user.pk, details={"device": "webauthn"}
        )
        return True
    return False


# ---------------------------------------------------------------------------
# API tokens (django-rest-knox, model `ApiToken`): only a digest is kept; the
# token is shown once. Revoked on a password change and on deactivation
# (accounts/tokens.py hands each User save over to `user_saved`).

API_TOKEN_OBJECT = "api_token"
TOKEN_CHANNELS = frozenset({"web", "api"})
REVOCATION_CAUSES = frozenset({"password_change", "deactivation"})


class TokenLimitReached(Exception):
    """The owner already holds the maximum number of live tokens."""


def live_api_tokens(user: User) -> list[ApiToken]:
    """The owner's tokens not yet expired, newest first."""
    now = timezone.now()
    return list(ApiToken.objects.filter(user=user, expiry__gt=now).order_by("-created", "-id"))


def create_api_token(user: User, *, label: str, channel: str) -> tuple[ApiToken, str]:
    """A new token for `user`: the instance and the token in clear (shown once)."""
    if channel not in TOKEN_CHANNELS:
        raise ValueError(f"unknown token channel {channel!r}")
    if not user.is_active:
        raise PermissionError("inactive account")
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    with transaction.atomic():
        # Serialise the creations of one owner: the limit holds under races.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if limit is not None and len(live_api_tokens(user)) >= limit:
            raise TokenLimitReached
        token, clear = ApiToken.objects.create(
            user=user, expiry=knox_settings.TOKEN_TTL, label=label.strip()[:100]
        )
        log.append(
            actor_id=user.pk,
            action="api_token_created",
            object_type=API_TOKEN_OBJECT,
            object_id=token.pk,
            details={
                "user_id": user.pk,
                "channel": channel,
                "expires_on": timezone.localdate(token.expiry).isoformat()
                if token.expiry
                else None,
            },
        )
    return token, clear


def revoke_api_token(owner: User, token_id: int) -> None:
    """The owner revokes one of their tokens; another's is `ApiToken.DoesNotExist`."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token_id, user=owner)
        token.delete()
        log.append(
            actor_id=owner.pk,
            action="api_token_revoked",
            object_type=API_TOKEN_OBJECT,
            object_id=token_id,
            details={"user_id": owner.pk, "by": "owner"},
        )


def revoke_api_token_by_admin(*, actor_id: int | None, token: ApiToken) -> None:
    """An administrator revokes a token (deleted from the admin)."""
    token_id, owner_id = token.pk, token.user_id
    with transaction.atomic():
        token.delete()
        log.append(
            actor_id=actor_id,
            action="api_token_revoked",
            object_type=API_TOKEN_OBJECT,
            object_id=token_id,
            details={"user_id": owner_id, "by": "admin"},
        )


def revoke_all_api_tokens(user: User, *, cause: str, actor_id: int | None = None) -> int:
    """Every token of `user` goes (password changed, account deactivated)."""
    if cause not in REVOCATION_CAUSES:
        raise ValueError(f"unknown revocation cause {cause!r}")
    with transaction.atomic():
        ids = sorted(ApiToken.objects.filter(user=user).values_list("pk", flat=True))
        if not ids:
            return 0
        ApiToken.objects.filter(pk__in=ids).delete()
        log.append(
            actor_id=actor_id,
            action="api_tokens_revoked",
            object_type="user",
            object_id=user.pk,
            details={"cause": cause, "count": len(ids), "token_ids": ids},
        )
    return len(ids)


def user_saved(user: User, *, password_changed: bool) -> None:
    """After any save of a user: a new password or a deactivation ends its tokens."""
    if password_changed:
        revoke_all_api_tokens(user, cause="password_change")
    if not user.is_active:
        revoke_all_api_tokens(user, cause="deactivation")


# ---------------------------------------------------------------------------
# Administration of accounts: users, roles, passwords set by an administrator.
# The admin pages call these inside their own transaction; ids and field
# names only, never values.


def record_user_admin_change(
    *, actor_id: int | None, user: User, fields: list[str], created: bool
) -> None:
    if created:
        action = "create"
    elif "is_active" in fields and not user.is_active:
        action = "deactivate"
    elif "is_active" in fields:
        action = "reactivate"
    else:
        action = "change"
    log.record_admin_change(
        actor_id=actor_id, object_type="user", object_id=user.pk, action=action, fields=fields
    )


def record_roles_change(
    *, actor_id: int | None, user_id: int, added: list[str], removed: list[str]
) -> None:
    log.record_admin_change(
        actor_id=actor_id,
        object_type="user",
        object_id=user_id,
        action="roles",
        fields=[],
        roles_added=sorted(added),
        roles_removed=sorted(removed),
    )


def record_password_set_by_admin(*, actor_id: int | None, user: User) -> None:
    """An administrator set (or disabled) a user's password from the admin.

    The user's tokens go with the old password (a new one already revoked
    them through `user_saved`; a disabled one does here).
    """
    with transaction.atomic():
        revoke_all_api_tokens(user, cause="password_change", actor_id=actor_id)
        log.append(
            actor_id=actor_id,
            action="password_set_by_admin",
            object_type="user",
            object_id=user.pk,
            details={"user_id": user.pk, "usable_password": user.has_usable_password()},
        )
