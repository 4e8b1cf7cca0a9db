"""The words of the accounts' audit events (sessions, second factor, API
tokens, administration, acting designations), for the auditor's pages
(audit.vocabulary)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from audit import vocabulary

from .models import Role

ACTIONS = {
    "login": _("Signed in"),
    "logout": _("Signed out"),
    "login_failed": _("Sign-in failed"),
    "lockout": _("Locked after wrong attempts"),
    "unlock": _("Lock lifted"),
    "session_expired": _("Session expired"),
    "second_factor_enrolled": _("Second factor enrolled"),
    "second_factor_verified": _("Second factor confirmed"),
    "second_factor_failed": _("Second factor refused"),
    "api_token_created": _("API token created"),
    "api_token_revoked": _("API token revoked"),
    "api_tokens_revoked": _("API tokens revoked"),
    "password_set_by_admin": _("Password set by the administrator"),
    "designate_acting": _("Acting designation made"),
    "end_acting_designation": _("Acting designation ended"),
}

OBJECT_TYPES = {
    "user": _("User"),
    "role_group": _("Role"),
    "api_token": _("API token"),
    "acting_designation": _("Acting designation"),
}

KEYS = {
    "ip": _("IP address"),
    "user_agent": _("Browser"),
    "device": _("Factor"),
    "scope": _("Counted by"),
    "kind": _("Kind"),
    "channel": _("Channel"),
    "failures": _("Failures"),
    "locked_until": _("Locked until"),
    "user_id": _("User"),
    "expires_on": _("Expires on"),
    "count": _("Number"),
    "token_ids": _("Tokens"),
    "designation_id": _("Designation"),
    "role": _("Role"),
    "starts_on": _("From"),
    "ends_on": _("To"),
    "council_decision_on": _("Council decision of"),
    "ended_from": _("Ended from"),
}

VALUES: dict[str, Any] = {
    "device": {
        "totp": _("authenticator app"),
        "webauthn": _("security key or passkey"),
        "recovery_code": _("recovery code"),
    },
    "scope": {"account": _("account"), "address": _("address")},
    "kind": {"sign_in": _("sign-in"), "step_up": _("signature code")},
    "channel": {"web": _("web pages"), "api": _("API"), "admin": _("administration")},
    "role": Role.choices,
    "roles_added": Role.choices,
    "roles_removed": Role.choices,
    "cause": {
        "idle": _("inactivity"),
        "absolute": _("maximum duration reached"),
        "cool_off": _("waiting time over"),
        "password_change": _("password changed"),
        "deactivation": _("account deactivated"),
        "self_designation": _("designation of oneself"),
        "own_designation": _("one's own designation"),
        "already_over": _("already over"),
        "decision_in_the_future": _("council decision in the future"),
        "ends_in_the_past": _("ends in the past"),
        "starts_in_the_past": _("starts in the past"),
        "holds_signing_role": _("already holds a signing role"),
        "not_staff": _("not a staff member"),
        "overlap": _("overlapping period"),
        "overlap_other_role": _("acting in the other role meanwhile"),
        "period_reversed": _("end before start"),
        "reference_missing": _("decision reference missing"),
        "reference_too_long": _("decision reference too long"),
        "unknown_role": _("unknown role"),
    },
    "fields": {
        "username": _("username"),
        "first_name": _("first name"),
        "last_name": _("last name"),
        "email": _("email address"),
        "is_active": _("active"),
        "is_staff": _("staff status"),
        "is_superuser": _("superuser status"),
        "groups": _("groups"),
    },
}


def register() -> None:
    vocabulary.register(
        actions=ACTIONS,
        object_types=OBJECT_TYPES,
        keys=KEYS,
        values=VALUES,
        verbatim={"ip", "user_agent"},
    )
