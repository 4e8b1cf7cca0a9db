"""Administration of the procedure's settings: default deadlines and public
holidays. Requests themselves are read-only here: they change only through the
procedure. Every change enters the audit trail through `AuditedAdmin`.
"""

from __future__ import annotations

from django.contrib import admin

from audit.admin import AuditedAdmin, ReadOnlyAdmin

from .models import DefaultDeadline, DisclosureRequest, PublicHoliday


@admin.register(DisclosureRequest)
class DisclosureRequestAdmin(ReadOnlyAdmin[DisclosureRequest]):
    list_display = ["reference", "received_on", "requester_kind", "state"]
    list_filter = ["state", "requester_kind"]
    fields = ["reference", "received_on", "requester_kind", "state"]
    readonly_fields = ["reference", "received_on", "requester_kind", "state"]


@admin.register(DefaultDeadline)
class DefaultDeadlineAdmin(AuditedAdmin):
    audit_object_type = "default_deadline"
    list_display = ["requester_kind", "working_days"]


@admin.register(PublicHoliday)
class PublicHolidayAdmin(AuditedAdmin):
    audit_object_type = "public_holiday"
    list_display = ["day", "name"]
