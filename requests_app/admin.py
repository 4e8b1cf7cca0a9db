"""Administration of the procedure's settings: default deadlines and public
holidays. Requests themselves are read-only here: they change only through the
procedure. Every change enters the audit trail through `AuditedAdmin`.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from audit.admin import AuditedAdmin, ReadOnlyAdmin

from .models import DefaultDeadline, DisclosureRequest, PublicHoliday


@admin.register(DisclosureRequest)
class DisclosureRequestAdmin(ReadOnlyAdmin[DisclosureRequest]):
    list_display = ["reference", "received_on", "requester_kind", "state"]
    list_filter = ["state", "requester_kind"]
    fields = ["reference", "received_on", "requester_kind", "state"]
    readonly_fields = ["reference", "received_on", "requester_kind", "state"]


class DefaultDeadlineForm(forms.ModelForm[DefaultDeadline]):
    class Meta:
        model = DefaultDeadline
        fields = ["requester_kind", "working_days", "acknowledge_receipt"]
        labels = {"acknowledge_receipt": _("Send an acknowledgement of receipt")}
        help_texts = {
            "acknowledge_receipt": _(
                "When a written, admissible request of this kind is registered, an "
                "acknowledgement of receipt is prepared for the signatures of the President "
                "and the DG, then dispatched by the secretariat."
            )
        }


@admin.register(DefaultDeadline)
class DefaultDeadlineAdmin(AuditedAdmin):
    audit_object_type = "default_deadline"
    form = DefaultDeadlineForm
    list_display = ["requester_kind", "working_days", "acknowledges_receipt"]

    @admin.display(boolean=True, description=_("Acknowledgement of receipt"))
    def acknowledges_receipt(self, obj: DefaultDeadline) -> bool:
        return obj.acknowledge_receipt


@admin.register(PublicHoliday)
class PublicHolidayAdmin(AuditedAdmin):
    audit_object_type = "public_holiday"
    list_display = ["day", "name"]
