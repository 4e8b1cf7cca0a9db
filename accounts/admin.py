"""Administration of accounts, roles and acting designations.

Every change made here enters the audit trail through `AuditedAdmin`, inside
the admin's own transaction.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from audit import log
from audit.admin import AuditedAdmin

from .models import ActingDesignation, User


@admin.register(User)
class HuisClosUserAdmin(AuditedAdmin, UserAdmin[User]):
    audit_object_type = "user"

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        before = set(form.instance.groups.values_list("name", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        after = set(form.instance.groups.values_list("name", flat=True))
        if before != after:
            log.record_admin_change(
                actor_id=request.user.pk,
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
