"""The forms of the retention report: placing and lifting a legal hold."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from requests_app.models import DisclosureRequest

REASON_HELP = _("Shown to the DPO and the Director general; it never enters the audit trail.")


class PlaceHoldForm(forms.Form):
    reference = forms.CharField(
        label=_("Reference of the request"),
        max_length=20,
        help_text=_("As in the register, for instance SP-2026-0007."),
    )
    reason = forms.CharField(
        label=_("Reason for the hold"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=REASON_HELP,
    )

    def clean_reference(self) -> DisclosureRequest:
        reference = self.cleaned_data["reference"].strip().upper()
        request = DisclosureRequest.objects.filter(reference=reference).first()
        if request is None:
            raise forms.ValidationError(gettext("No request has this reference."))
        return request

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "reason" in data and not data["reason"].strip():
            self.add_error("reason", gettext("Give the reason for the hold."))
        return data


class LiftHoldForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for lifting the hold"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=REASON_HELP,
    )
