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
    """Each addition, change and deletion made here appends an event.

    `record_change` is the one place a subclass changes what is recorded
    (accounts routes it through its services).
    """

    audit_object_type = ""

    def record_change(
        self, request: HttpRequest, obj: Any, fields: list[str], change: bool
    ) -> None:
        log.record_admin_change(
            actor_id=request.user.pk,
            object_type=self.audit_object_type,
            object_id=obj.pk,
            action="change" if change else "create",
            fields=fields,
        )

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        self.record_change(request, obj, sorted(form.changed_data), change)

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


def is_read_only(model_admin: admin.ModelAdmin[Any], request: HttpRequest) -> bool:
    """Nothing can be added, changed or deleted through this admin."""
    return not (
        model_admin.has_add_permission(request)
        or model_admin.has_change_permission(request)
        or model_admin.has_delete_permission(request)
    )


def is_audited(model_admin: admin.ModelAdmin[Any]) -> bool:
    return isinstance(model_admin, AuditedAdmin) or bool(
        getattr(model_admin, "audit_trail_covered", False)
    )


def audit_every_admin(site: admin.AdminSite) -> list[str]:
    """Put every registered admin that is neither audited nor read-only
    behind `AuditedAdmin` (third-party apps register their own).

    Called once every admin module is loaded (`AuditConfig.ready`). An admin
    that records its own events says so with `audit_trail_covered = True`.
    Returns the labels of the models wrapped.
    """
    wrapped = []
    for model, model_admin in list(site._registry.items()):
        if is_audited(model_admin) or _never_writes(model_admin):
            continue
        audited = type(
            f"Audited{type(model_admin).__name__}",
            (AuditedAdmin, type(model_admin)),
            {"audit_object_type": model._meta.label_lower, "__module__": __name__},
        )
        site.unregister(model)
        site.register(model, audited)
        wrapped.append(model._meta.label_lower)
    return wrapped


def _never_writes(model_admin: admin.ModelAdmin[Any]) -> bool:
    """Read-only whatever the user: the three permissions answer False
    without even looking at the request."""
    checks = (
        (model_admin.has_add_permission, (None,)),
        (model_admin.has_change_permission, (None, None)),
        (model_admin.has_delete_permission, (None, None)),
    )
    try:
        return all(check(*args) is False for check, args in checks)
    except Exception:  # it looked at the request: not unconditional
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin[AuditEvent]):
    list_display = ["seq", "occurred_at", "actor", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
