"""Use cases of accounts that leave a trace: sign-in, sign-out, failed sign-in,
the second factor (enrolment, verification, step-up at a signature), API
tokens, changes made in the administration and acting designations."""

from __future__ import annotations

import time
from base64 import b32encode
from datetime import date
from typing import Any, cast

import qrcode
import qrcode.image.svg
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from knox.settings import knox_settings

from audit import log

from .models import ActingDesignation, ApiToken, Role, User

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


# ---------------------------------------------------------------------------
# Acting designations ("faisant fonction"): made and ended in the app by the
# Président or the DG (or their acting deputies that day), under a decision
# of the council. Never deleted: ending one records from which day it no
# longer counts. Events carry ids, the role code and dates, never the
# decision's reference.

DESIGNATION_OBJECT = "acting_designation"
DESIGNATION_REFERENCE_MAX = 100
SIGNING_ROLE_GROUPS = (Role.PRESIDENT.value, Role.DIRECTOR_GENERAL.value)


class DesignationRefused(Exception):
    """A designation not made or not ended; `message` is shown to the user.

    400: bad input, nothing changed and nothing recorded. 403: no right (or
    one's own designation), recorded in the trail as a refused attempt.
    """

    def __init__(self, message: str, *, cause: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.http_status = http_status


def may_manage_designations(user: User, day: date | None = None) -> bool:
    """The Président and the DG, or whoever acts as one of them on `day`."""
    return bool(
        user.is_active
        and (user.has_role(Role.PRESIDENT, day) or user.has_role(Role.DIRECTOR_GENERAL, day))
    )


def designation_candidates() -> QuerySet[User]:
    """Active staff members who may be designated: a role of their own, and
    neither the Président nor the DG (two distinct people sign a reply)."""
    return (
        User.objects.filter(is_active=True, groups__name__in=Role.values)
        .exclude(groups__name__in=SIGNING_ROLE_GROUPS)
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


def _refused_attempt(
    actor: User, attempted: str, cause: str, designation_id: int | None = None
) -> None:
    """A designation refused for want of right: a security event, recorded
    after the attempt's transaction rolled back."""
    with transaction.atomic():
        log.append(
            actor_id=actor.pk,
            action="refused",
            object_type=DESIGNATION_OBJECT,
            object_id=designation_id if designation_id is not None else "",
            details={"attempted": attempted, "cause": cause},
        )


def _check_right(actor: User, attempted: str, designation_id: int | None = None) -> None:
    if not may_manage_designations(actor):
        _refused_attempt(actor, attempted, "permission_denied", designation_id)
        raise DesignationRefused(
            gettext(
                "Only the President and the Director general (or their acting deputies) "
                "designate acting deputies."
            ),
            cause="permission_denied",
            http_status=403,
        )


def designate_acting(
    actor: User,
    user: User,
    role: str,
    starts_on: date,
    ends_on: date,
    council_decision_on: date,
    council_decision_reference: str,
) -> ActingDesignation:
    """Designate `user` acting `role` from `starts_on` to `ends_on` (both included).

    Refused (DesignationRefused): the actor is neither Président nor DG
    today (403, recorded); the actor designates themself (403, recorded);
    bad input (400, nothing changed): an unknown role, a user who is not an
    active staff member or already holds a signing role, a start in the
    past, an end before the start, a council decision in the future or
    without a reference, a period overlapping another designation of that
    person (in either role: nobody acts as both signers).
    """
    _check_right(actor, "designate_acting")
    if user.pk == actor.pk:
        _refused_attempt(actor, "designate_acting", "self_designation")
        raise DesignationRefused(
            gettext("Nobody designates themself: another person must make this designation."),
            cause="self_designation",
            http_status=403,
        )
    today = timezone.localdate()
    reference = " ".join((council_decision_reference or "").split())
    if role not in ActingDesignation.ActingRole.values:
        raise DesignationRefused(
            gettext("Choose the role: President or Director general."), cause="unknown_role"
        )
    if starts_on < today:
        raise DesignationRefused(
            gettext("The designation cannot start in the past: choose today or a later day."),
            cause="starts_in_the_past",
        )
    if ends_on < starts_on:
        raise DesignationRefused(
            gettext("The last day cannot come before the first day."), cause="period_reversed"
        )
    if council_decision_on > today:
        raise DesignationRefused(
            gettext("The council decision cannot be dated in the future."),
            cause="decision_in_the_future",
        )
    if not reference:
        raise DesignationRefused(
            gettext("Give the reference of the council decision."), cause="reference_missing"
        )
    if len(reference) > DESIGNATION_REFERENCE_MAX:
        raise DesignationRefused(
            gettext("The reference of the council decision is too long (100 characters at most)."),
            cause="reference_too_long",
        )
    with transaction.atomic():
        # Serialise the designations of one person: the overlap check holds.
        designee = User.objects.select_for_update().filter(pk=user.pk).first()
        groups = (
            set(designee.groups.values_list("name", flat=True)) if designee is not None else set()
        )
        if designee is None or not designee.is_active or not groups & set(Role.values):
            raise DesignationRefused(
                gettext("Only an active staff member can be designated."),
                cause="not_staff",
            )
        if groups & set(SIGNING_ROLE_GROUPS):
            raise DesignationRefused(
                gettext(
                    "The President and the Director general cannot be designated acting: "
                    "a reply takes two distinct signers."
                ),
                cause="holds_signing_role",
            )
        # Only the days a designation still counts: an ended one frees the rest.
        overlapping = set(
            ActingDesignation.objects.filter(
                user=designee, starts_on__lte=ends_on, ends_on__gte=starts_on
            )
            .exclude(revoked_from__lte=starts_on)
            .exclude(revoked_from__lte=F("starts_on"))
            .values_list("role", flat=True)
        )
        if role in overlapping:
            raise DesignationRefused(
                gettext("This person is already designated in this role for part of this period."),
                cause="overlap",
            )
        if overlapping:
            # Acting President and acting DG on the same day: one person
            # could not give the two distinct signatures of a reply.
            raise DesignationRefused(
                gettext(
                    "This person is already acting in the other role for part of this period: "
                    "a reply takes two distinct signers."
                ),
                cause="overlap_other_role",
            )
        designation = ActingDesignation.objects.create(
            user=designee,
            role=role,
            starts_on=starts_on,
            ends_on=ends_on,
            council_decision_on=council_decision_on,
            council_decision_reference=reference,
            designated_by=actor,
        )
        log.append(
            actor_id=actor.pk,
            action="designate_acting",
            object_type=DESIGNATION_OBJECT,
            object_id=designation.pk,
            details={
                "designation_id": designation.pk,
                "user_id": designee.pk,
                "role": role,
                "starts_on": starts_on.isoformat(),
                "ends_on": ends_on.isoformat(),
                "council_decision_on": council_decision_on.isoformat(),
            },
        )
    return designation


def end_acting_designation(
    actor: User, designation: ActingDesignation, *, effective_on: date | None = None
) -> ActingDesignation:
    """End a designation from `effective_on` (today by default): it no longer
    counts from that day. One that has not begun by then is cancelled.

    An ended designation can be ended earlier again. Refused: no right or
    one's own designation (403, recorded); a day in the past, or a
    designation already over by that day (400, nothing changed).
    """
    _check_right(actor, "end_acting_designation", designation.pk)
    if designation.user_id == actor.pk:
        _refused_attempt(actor, "end_acting_designation", "own_designation", designation.pk)
        raise DesignationRefused(
            gettext("Your own designation is ended by another person."),
            cause="own_designation",
            http_status=403,
        )
    today = timezone.localdate()
    effective_on = effective_on or today
    if effective_on < today:
        raise DesignationRefused(
            gettext("A designation cannot be ended in the past: choose today or a later day."),
            cause="ends_in_the_past",
        )
    with transaction.atomic():
        current = ActingDesignation.objects.select_for_update().get(pk=designation.pk)
        if effective_on >= current.no_longer_counts_from:
            raise DesignationRefused(
                gettext("This designation no longer counts on that day: there is nothing to end."),
                cause="already_over",
            )
        current.revoked_from = max(effective_on, current.starts_on)
        current.revoked_at = timezone.now()
        current.revoked_by = actor
        current.save(update_fields=["revoked_from", "revoked_at", "revoked_by"])
        log.append(
            actor_id=actor.pk,
            action="end_acting_designation",
            object_type=DESIGNATION_OBJECT,
            object_id=current.pk,
            details={
                "designation_id": current.pk,
                "user_id": current.user_id,
                "role": current.role,
                "starts_on": current.starts_on.isoformat(),
                "ends_on": current.ends_on.isoformat(),
                "ended_from": current.revoked_from.isoformat(),
                "cancelled": current.is_cancelled,
            },
        )
    return current
