"""Administration of accounts, roles and acting designations.

Every change made here is recorded in the audit trail by
`services.record_admin_change`, inside the admin's own transaction. Requests
and the audit trail are read-only here: they change only through the
procedure.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest

from . import services
from .models import (
    ActingDesignation,
    AuditEvent,
    DefaultDeadline,
    DisclosureRequest,
    PublicHoliday,
    User,
)


class AuditedAdmin(admin.ModelAdmin[Any]):
    audit_object_type = ""

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        assert isinstance(request.user, User)
        services.record_admin_change(
            actor=request.user,
            object_type=self.audit_object_type,
            object_id=obj.pk,
            action="change" if change else "create",
            fields=sorted(form.changed_data),
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        pk = obj.pk
        super().delete_model(request, obj)
        assert isinstance(request.user, User)
        services.record_admin_change(
            actor=request.user,
            object_type=self.audit_object_type,
            object_id=pk,
            action="delete",
            fields=[],
        )

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(User)
class HuisClosUserAdmin(AuditedAdmin, UserAdmin[User]):
    audit_object_type = "user"

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        before = set(form.instance.groups.values_list("name", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        after = set(form.instance.groups.values_list("name", flat=True))
        if before != after:
            assert isinstance(request.user, User)
            services.record_admin_change(
                actor=request.user,
                object_type="user",
                object_id=form.instance.pk,
                action="roles",
                fields=[],
                roles_added=sorted(after - before),
                roles_removed=sorted(before - after),
            )


@admin.register(ActingDesignation)
class ActingDesignationAdmin(AuditedAdmin):
    audit_object_type = "acting_designation"
    list_display = ["user", "role", "starts_on", "ends_on"]
    list_filter = ["role"]


class ReadOnlyAdmin[M: Model](admin.ModelAdmin[M]):
    """Look, never touch: requests move only through the services, and the
    audit trail is append-only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(DisclosureRequest)
class DisclosureRequestAdmin(ReadOnlyAdmin[DisclosureRequest]):
    list_display = ["reference", "received_on", "requester_kind", "state"]
    list_filter = ["state", "requester_kind"]
    fields = ["reference", "received_on", "requester_kind", "state"]
    readonly_fields = ["reference", "received_on", "requester_kind", "state"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin[AuditEvent]):
    list_display = ["seq", "occurred_at", "actor", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]


@admin.register(DefaultDeadline)
class DefaultDeadlineAdmin(AuditedAdmin):
    audit_object_type = "default_deadline"
    list_display = ["requester_kind", "working_days"]


@admin.register(PublicHoliday)
class PublicHolidayAdmin(AuditedAdmin):
    audit_object_type = "public_holiday"
    list_display = ["day", "name"]
