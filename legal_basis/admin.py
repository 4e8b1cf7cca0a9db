"""Catalogue administration, for staff with `legal_basis.change_legalbasis`.

A basis that an opinion or a reply has cited is never edited in place: saving
it creates a new version (see `services.save_legal_basis`).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest

from . import services
from .models import LegalBasis


@admin.register(LegalBasis)
class LegalBasisAdmin(admin.ModelAdmin[LegalBasis]):
    list_display = ["code", "version", "is_current", "title_fr", "effect", "in_force_until"]
    list_filter = ["is_current", "effect"]
    search_fields = ["code", "title_fr", "citation"]
    readonly_fields = ["version", "is_current", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        # The code is the natural key: a new code is a new basis.
        return [*self.readonly_fields, "code"] if obj else self.readonly_fields

    def save_model(
        self, request: HttpRequest, obj: LegalBasis, form: ModelForm[LegalBasis], change: bool
    ) -> None:
        services.save_legal_basis(obj, actor_id=request.user.pk, fields=sorted(form.changed_data))

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Opinions and replies point at exact versions; retire a basis with
        # an end of validity instead.
        return False
