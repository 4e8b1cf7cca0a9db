"""Administration of accounts, roles, acting designations and API tokens.

Every change made here enters the audit trail inside the admin's own
transaction, through `accounts.services` (users, roles, passwords, tokens)
or `AuditedAdmin` (the roles' groups). Accounts are deactivated, never
deleted: the trail names them. Acting designations are only looked at here:
they are made and ended in the app. Tokens are seen by their
label and dates only (never their digest) and can only be revoked here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from audit.admin import AuditedAdmin, ReadOnlyAdmin

from . import services
from .models import ActingDesignation, ApiToken, Role, User

# django.contrib.auth registered Group first (its admin module is imported by
# ours, whatever the order of INSTALLED_APPS); ours replaces it.
if admin.site.is_registered(Group):
    admin.site.unregister(Group)
assert auth_admin  # the import above is what registers Group before we replace it


@admin.register(User)
class HuisClosUserAdmin(AuditedAdmin, UserAdmin[User]):
    audit_object_type = "user"

    def record_change(
        self, request: HttpRequest, obj: Any, fields: list[str], change: bool
    ) -> None:
        services.record_user_admin_change(
            actor_id=request.user.pk, user=obj, fields=fields, created=not change
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deactivate instead: events and letters name the account.
        return False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        before = set(form.instance.groups.values_list("name", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        after = set(form.instance.groups.values_list("name", flat=True))
        if before != after:
            services.record_roles_change(
                actor_id=request.user.pk,
                user_id=form.instance.pk,
                added=sorted(after - before),
                removed=sorted(before - after),
            )

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        """Django's page, with the event: "password_set_by_admin", the user's id."""
        with transaction.atomic():
            before = User.objects.filter(pk=id).values_list("password", flat=True).first()
            response = super().user_change_password(request, id, form_url)
            user = User.objects.filter(pk=id).first() if request.method == "POST" else None
            if user is not None and before is not None and user.password != before:
                services.record_password_set_by_admin(actor_id=request.user.pk, user=user)
        return response


@admin.register(ActingDesignation)
class ActingDesignationAdmin(ReadOnlyAdmin[ActingDesignation]):
    """Look only: the Président and the DG designate and end designations in
    the app ("Désignations faisant fonction"), through the audited services;
    none is ever deleted."""

    list_display = [
        "user",
        "role",
        "starts_on",
        "ends_on",
        "revoked_from",
        "council_decision_on",
        "designated_by",
    ]
    list_filter = ["role"]


@admin.register(Group)
class RoleGroupAdmin(AuditedAdmin, GroupAdmin):
    """The roles are groups named after `Role`: audited, never deleted."""

    audit_object_type = "role_group"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.name in Role.values:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    """Look and revoke: no token is created or changed here, none is shown."""

    audit_object_type = "api_token"
    list_display = ["id", "user", "label", "created", "expiry", "last_used_at"]
    list_filter = ["expiry"]
    search_fields = ["user__username"]
    fields = ["id", "user", "label", "created", "expiry", "last_used_at"]
    readonly_fields = ["id", "user", "label", "created", "expiry", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.revoke_api_token_by_admin(actor_id=request.user.pk, token=obj)
