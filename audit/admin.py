"""Admin building blocks shared by every app, and the trail itself read-only.

`AuditedAdmin` records every change made through an admin page in the audit
trail, inside the admin's own transaction, with field names and never values.
`ReadOnlyAdmin` is for what changes only through a procedure.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest

from . import log
from .models import AuditEvent


class AuditedAdmin(admin.ModelAdmin[Any]):
    audit_object_type = ""

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        log.record_admin_change(
            actor_id=request.user.pk,
            object_type=self.audit_object_type,
            object_id=obj.pk,
            action="change" if change else "create",
            fields=sorted(form.changed_data),
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        pk = obj.pk
        super().delete_model(request, obj)
        log.record_admin_change(
            actor_id=request.user.pk,
            object_type=self.audit_object_type,
            object_id=pk,
            action="delete",
            fields=[],
        )

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class ReadOnlyAdmin[M: Model](admin.ModelAdmin[M]):
    """Look, never touch: requests move only through the services, and the
    audit trail is append-only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin[AuditEvent]):
    list_display = ["seq", "occurred_at", "actor", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
