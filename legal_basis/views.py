"""The catalogue pages: every staff member may read them, nobody else."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from accounts.models import User, is_staff_member

from .models import LegalBasis, VerificationTag


@dataclass(frozen=True)
class BasisRow:
    """A basis with what the pages derive from it."""

    basis: LegalBasis
    in_force_today: bool
    tag_counts: list[tuple[str, int]]
    to_verify: bool
    sources: list[dict[str, Any]]


def verification_counts(basis: LegalBasis) -> list[tuple[str, int]]:
    """How many checklist conditions and facts carry each tag, in legend order."""
    entries: list[dict[str, Any]] = [*basis.checklist, *basis.facts]
    counts = Counter(entry.get("tag") for entry in entries)
    return [(tag, counts[tag]) for tag in VerificationTag.values if counts[tag]]


def linkable_sources(basis: LegalBasis) -> list[dict[str, Any]]:
    # Only web addresses become links: a typo in the fixture must not yield
    # a javascript: or relative link.
    sources: list[dict[str, Any]] = basis.sources
    return [s for s in sources if str(s.get("url", "")).startswith(("https://", "http://"))]


def _row(basis: LegalBasis) -> BasisRow:
    return BasisRow(
        basis=basis,
        in_force_today=basis.is_in_force_on(timezone.localdate()),
        tag_counts=verification_counts(basis),
        to_verify=basis.has_facts_to_verify(),
        sources=linkable_sources(basis),
    )


def _require_staff_member(request: HttpRequest) -> None:
    if not (isinstance(request.user, User) and is_staff_member(request.user)):
        raise Http404


@login_required
def index(request: HttpRequest) -> HttpResponse:
    _require_staff_member(request)
    bases = LegalBasis.objects.current().order_by("code")
    return render(
        request,
        "legal_basis/list.html",
        {"rows": [_row(basis) for basis in bases], "tags": VerificationTag.choices},
    )


@login_required
def detail(request: HttpRequest, code: str, version: int) -> HttpResponse:
    _require_staff_member(request)
    basis = get_object_or_404(LegalBasis, code=code, version=version)
    versions = LegalBasis.objects.filter(code=code).order_by("-version")
    return render(
        request,
        "legal_basis/detail.html",
        {
            "row": _row(basis),
            "basis": basis,
            "versions": list(versions.values("version", "is_current", "created_at")),
            "tags": VerificationTag.choices,
        },
    )
