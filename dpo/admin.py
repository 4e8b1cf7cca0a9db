"""The retention schedule, set by the administrator: every change enters the
audit trail (`AuditedAdmin`), with the field names, never the values."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from audit.admin import AuditedAdmin

from .models import RetentionRule


@admin.register(RetentionRule)
class RetentionRuleAdmin(AuditedAdmin):
    audit_object_type = "retention_rule"
    list_display = ["outcome", "years", "updated_at"]
    fields = ["outcome", "years"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: RetentionRule | None = None
    ) -> list[str]:
        # An outcome's rule is changed, never moved to another outcome.
        return ["outcome"] if obj is not None else []

    def has_delete_permission(
        self, request: HttpRequest, obj: RetentionRule | None = None
    ) -> bool:
        # Without its rule, an outcome would fall back on the default unnoticed.
        return False
