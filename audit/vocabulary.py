"""Words for the trail's codes, so that the auditor's pages speak French.

Events keep codes: stable, searchable, exported as they are. The pages show
labels. The trail imports no other app: each app registers the labels of the
codes it writes (its actions, object types, states, and the keys and values
of its details), as it registers how its references map to ids
(audit.objects). A code nobody labelled is shown as it is, and the page
test (tests/browser/test_every_page.py) fails on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

Label = str | Promise

_ACTIONS: dict[str, Label] = {}
_OBJECT_TYPES: dict[str, Label] = {}
_STATES: dict[str, Label] = {}
_KEYS: dict[str, Label] = {}
# Labels of a detail's values, by key; "*" for values read the same under any key.
_VALUES: dict[str, dict[str, Label]] = {}
# Keys whose values are action codes (a refused attempt names the action).
_ACTION_KEYS = {"attempted"}
# Keys whose values are shown as they are, never translated: addresses,
# browsers' user agents, fingerprints. Marked translate="no" on the page.
_VERBATIM: set[str] = set()

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def register(
    *,
    actions: Mapping[str, Label] | None = None,
    object_types: Mapping[str, Label] | None = None,
    states: Iterable[tuple[str, Label]] | Mapping[str, Label] | None = None,
    keys: Mapping[str, Label] | None = None,
    values: Mapping[str, Iterable[tuple[str, Label]] | Mapping[str, Label]] | None = None,
    verbatim: Iterable[str] = (),
) -> None:
    """Add labels; `states` and each entry of `values` may be model choices;
    `verbatim` names keys whose values are data shown as they are."""
    _VERBATIM.update(verbatim)
    _ACTIONS.update(actions or {})
    _OBJECT_TYPES.update(object_types or {})
    _STATES.update(dict(states or {}))
    _KEYS.update(keys or {})
    for key, labels in (values or {}).items():
        _VALUES.setdefault(key, {}).update(dict(labels))


def action_codes() -> dict[str, Label]:
    return dict(_ACTIONS)


def action_label(code: str) -> str:
    return str(_ACTIONS.get(code, code))


def object_type_label(code: str) -> str:
    return str(_OBJECT_TYPES.get(code, code))


def state_label(code: str) -> str:
    return str(_STATES.get(code, code)) if code else ""


def key_label(key: str) -> str:
    return str(_KEYS.get(key, key))


def _moment(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_fixed_timezone(0))
    return formats.date_format(timezone.localtime(moment), "d/m/Y H:i:s")


def value_label(key: str, value: Any) -> str:
    """A detail's value as people read it: labels for codes, Belgian dates."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, (list, tuple)):
        return ", ".join(value_label(key, v) for v in value) if value else "—"
    if isinstance(value, dict):
        return ", ".join(f"{key_label(k)} : {value_label(k, v)}" for k, v in value.items())
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "d/m/Y H:i:s")
    if isinstance(value, date):
        return formats.date_format(value, "d/m/Y")
    if not isinstance(value, str):
        return str(value)
    if key in _ACTION_KEYS and value in _ACTIONS:
        return action_label(value)
    for labels in (_VALUES.get(key, {}), _VALUES.get("*", {})):
        if value in labels:
            return str(labels[value])
    if ISO_DATE.match(value):
        try:
            return formats.date_format(date.fromisoformat(value), "d/m/Y")
        except ValueError:
            return value
    if ISO_DATETIME.match(value):
        return _moment(value)
    return value


def local_timestamp(value: str | datetime | None) -> str:
    """A timestamp of the trail's files (ISO, UTC) in Brussels time."""
    if not value:
        return ""
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "d/m/Y H:i:s")
    return _moment(value)


def is_verbatim(key: str) -> bool:
    return key in _VERBATIM or key.endswith("_sha256")


def detail_rows(details: Mapping[str, Any]) -> list[tuple[str, str | SafeString]]:
    """(label, value) of each detail; a verbatim value comes marked up as such."""
    return [
        (
            key_label(k),
            format_html('<span translate="no">{}</span>', value_label(k, v))
            if is_verbatim(k)
            else value_label(k, v),
        )
        for k, v in details.items()
    ]


# ---------------------------------------------------------------------------
# The trail's own codes, and keys any app may use.

register(
    actions={
        "export_audit": _("Audit trail exported"),
        "verify_audit": _("Audit trail verified"),
        "refused": _("Attempt refused"),
        "admin_create": _("Administration: record created"),
        "admin_change": _("Administration: record changed"),
        "admin_delete": _("Administration: record deleted"),
        "admin_roles": _("Administration: roles changed"),
    },
    object_types={
        "session": _("Session"),
        "audit_trail": _("Audit trail"),
        "": _("None"),
    },
    keys={
        "reference": _("Reference"),
        "attempted": _("Action attempted"),
        "cause": _("Cause"),
        "fields": _("Fields"),
        "events": _("Events"),
        "format": _("Format"),
        "ok": _("Intact"),
        "first_broken_seq": _("First failing number"),
        "password_changed": _("Password changed"),
        "roles_added": _("Roles added"),
        "roles_removed": _("Roles removed"),
    },
    values={
        "format": {"jsonl": "JSONL", "csv": "CSV"},
        "cause": {
            "permission_denied": _("not allowed"),
            "concurrent_change": _("changed by someone else meanwhile"),
            "illegal_transition": _("not possible in the current state"),
        },
    },
)
