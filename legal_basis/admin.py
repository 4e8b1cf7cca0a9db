"""The catalogue in the admin: to look at, never to edit.

The law enters the catalogue only through release files applied by
`manage.py import_legal_bases` (see docs/legal-catalogue.md): each change is
a new version and an audit event, and the release notes say why.
"""

from __future__ import annotations

from django.contrib import admin

from audit.admin import ReadOnlyAdmin

from .models import LegalBasis, LegalBasisRelease


@admin.register(LegalBasis)
class LegalBasisAdmin(ReadOnlyAdmin[LegalBasis]):
    list_display = [
        "code",
        "version",
        "is_current",
        "title_fr",
        "role",
        "effect",
        "in_force_from",
        "in_force_until",
        "release",
    ]
    list_filter = ["is_current", "role", "effect", "release"]
    search_fields = ["code", "title_fr", "citation", "letter_citation"]


@admin.register(LegalBasisRelease)
class LegalBasisReleaseAdmin(ReadOnlyAdmin[LegalBasisRelease]):
    list_display = ["label", "published_on", "publisher", "applied_at"]
