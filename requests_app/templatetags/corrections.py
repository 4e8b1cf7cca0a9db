"""The history of registration corrections, as the request page shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django import template
from django.utils.dateformat import format as format_date
from django.utils.translation import gettext

from legal_basis.models import RequesterKind, SupportingDocument
from requests_app.access import SCAN_EXTENSIONS
from requests_app.forms import correction_field_label
from requests_app.models import (
    Civility,
    InadmissibilityReason,
    RegistrationCorrection,
    RequesterFunction,
)

register = template.Library()

_CHOICES: dict[str, dict[str, Any]] = {
    "requester_kind": dict(RequesterKind.choices),
    "requester_function": dict(RequesterFunction.choices),
    "requester_civility": dict(Civility.choices),
}
_DATES = {"received_on", "requester_letter_date", "requester_deadline", "due_on"}


@dataclass
class PreviousValue:
    label: str
    text: str = ""
    lines: list[str] | None = None


@register.filter
def corrected_fields(correction: RegistrationCorrection) -> str:
    return ", ".join(correction_field_label(name) for name in correction.fields)


@register.filter
def previous_values(correction: RegistrationCorrection) -> list[PreviousValue]:
    """The values a correction replaced, readable: for the roles that see content only."""
    values = correction.previous_values
    return [_previous(name, values[name]) for name in correction.fields if name in values]


def _day(value: Any) -> str:
    if not value:
        return "—"
    try:
        return format_date(date.fromisoformat(str(value)), "d/m/Y")
    except ValueError:
        return str(value)


def _person(person: dict[str, Any]) -> str:
    parts = [f"{person.get('last_name', '')} {person.get('first_names', '')}".strip()]
    if person.get("birth_date"):
        parts.append(gettext("born on %(date)s") % {"date": _day(person["birth_date"])})
    if person.get("national_number"):
        parts.append(gettext("NN %(number)s") % {"number": person["national_number"]})
    if person.get("cpas_file_number"):
        parts.append(gettext("file %(number)s") % {"number": person["cpas_file_number"]})
    return ", ".join(parts)


def _previous(name: str, value: Any) -> PreviousValue:
    label = correction_field_label(name)
    if name == "persons":
        lines = [_person(p) for p in value or []]
        return PreviousValue(label, lines=lines or [gettext("No person identified.")])
    if name == "documents":
        labels = dict(SupportingDocument.choices)
        lines = [str(labels.get(d, d)) for d in value or []]
        return PreviousValue(label, lines=lines or [gettext("none")])
    if name == "inadmissibility_reasons":
        labels = dict(InadmissibilityReason.choices)
        return PreviousValue(label, lines=[str(labels.get(r, r)) for r in value or []])
    if name == "scan":
        kind = SCAN_EXTENSIONS.get(value.get("content_type", ""), "")
        return PreviousValue(
            label,
            gettext("%(type)s file, fingerprint %(sha256)s")
            % {"type": kind.upper() or "—", "sha256": value.get("sha256", "")},
        )
    if name in _DATES:
        return PreviousValue(label, _day(value))
    if name in _CHOICES:
        return PreviousValue(label, str(_CHOICES[name].get(value, value)) if value else "—")
    return PreviousValue(label, str(value) if value else "—")
