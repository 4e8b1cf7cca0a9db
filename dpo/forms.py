"""The DPO's search of the register of disclosures: a person by national
register number, or by last name and birth date. Posted, never in a URL."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from requests_app.models import search_key
from requests_app.validation import normalise_national_number

from .queries import PersonCriteria

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
EXPORT_FORMATS = ("pdf", "csv")


class DisclosureSearchForm(forms.Form):
    national_number = forms.CharField(
        label=_("National register number"),
        required=False,
        max_length=20,
        help_text=_("11 digits; dots, dashes and spaces are ignored."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    last_name = forms.CharField(
        label=_("Last name"),
        required=False,
        max_length=150,
        help_text=_("Case and accents do not matter."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    birth_date = forms.DateField(label=_("Birth date"), required=False, widget=DATE_WIDGET)

    def clean_national_number(self) -> str:
        value: str = self.cleaned_data.get("national_number", "")
        return normalise_national_number(value)

    def clean_last_name(self) -> str:
        value: str = self.cleaned_data.get("last_name", "").strip()
        if value and not search_key(value):
            raise ValidationError(_("Write the last name with letters."), code="no_letters")
        return value

    def clean_birth_date(self) -> date | None:
        value: date | None = self.cleaned_data.get("birth_date")
        if value is not None and value > timezone.localdate():
            raise ValidationError(_("The birth date is in the future."), code="future")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        national_number = cleaned.get("national_number", "")
        last_name = cleaned.get("last_name", "").strip()
        birth_date = cleaned.get("birth_date")
        if national_number and (last_name or birth_date):
            raise ValidationError(
                _(
                    "Search either by national register number, or by last name and "
                    "birth date, not both at once."
                ),
                code="both",
            )
        if not national_number:
            if last_name and birth_date is None:
                self.add_error("birth_date", _("Give the birth date with the last name."))
            elif birth_date is not None and not last_name:
                self.add_error("last_name", _("Give the last name with the birth date."))
            elif not last_name:
                raise ValidationError(
                    _("Give a national register number, or a last name and a birth date."),
                    code="empty",
                )
        return cleaned

    def criteria(self) -> PersonCriteria:
        """The search as the queries read it (the form must be valid)."""
        data = self.cleaned_data
        if data["national_number"]:
            return PersonCriteria(national_number=data["national_number"])
        return PersonCriteria(last_name=data["last_name"].strip(), birth_date=data["birth_date"])


class ExportForm(forms.Form):
    """An export of the search kept under `search`, as PDF or CSV."""

    search = forms.CharField(max_length=40)
    format = forms.ChoiceField(choices=[(f, f) for f in EXPORT_FORMATS])
