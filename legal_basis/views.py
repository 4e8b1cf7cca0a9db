"""The catalogue pages: every staff member may read them, nobody else.

The catalogue comes from release files (docs/legal-catalogue.md): the list
shows the release in force and every current row, one per code and validity
period; a record shows one version and every version of its code.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.models import User, is_staff_member

from .models import LegalBasis, LegalBasisRelease, VerificationTag

IN_FORCE = "in_force"
ENDED = "ended"
NOT_YET = "not_yet"
SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Source:
    label: str
    url: str  # empty unless a web address: never a javascript: or relative link
    official: bool
    note: str


@dataclass(frozen=True)
class BasisRow:
    """A basis with what the pages derive from it."""

    basis: LegalBasis
    state: str
    # For a row not in force today: the version of the same code (or of its
    # successor) in force today, if there is one.
    today_version: LegalBasis | None
    tag_counts: list[tuple[str, int]]
    to_verify: bool
    sources: list[Source]
    # Whether the row carries the code's anchor (#code) on the list.
    is_anchor: bool = False

    @property
    def in_force_today(self) -> bool:
        return self.state == IN_FORCE


def verification_counts(basis: LegalBasis) -> list[tuple[str, int]]:
    """How many checklist conditions and facts carry each tag, in legend order."""
    entries: list[dict[str, Any]] = [*basis.checklist, *basis.facts]
    counts = Counter(entry.get("tag") for entry in entries)
    return [(tag, counts[tag]) for tag in VerificationTag.values if counts[tag]]


def sources_of(basis: LegalBasis) -> list[Source]:
    entries: list[dict[str, Any]] = basis.sources
    sources = []
    for entry in entries:
        url = str(entry.get("url", ""))
        sources.append(
            Source(
                label=str(entry.get("label", "")),
                url=url if url.startswith(("https://", "http://")) else "",
                # A source that does not say it is official is not.
                official=entry.get("official") is True,
                note=str(entry.get("note", "")),
            )
        )
    return sources


def state_of(basis: LegalBasis, day: date) -> str:
    if not basis.is_current:
        return SUPERSEDED
    if basis.in_force_from and day < basis.in_force_from:
        return NOT_YET
    if basis.in_force_until and day > basis.in_force_until:
        return ENDED
    return IN_FORCE


def _row(
    basis: LegalBasis, today: date, today_version: LegalBasis | None, *, is_anchor: bool = False
) -> BasisRow:
    state = state_of(basis, today)
    return BasisRow(
        basis=basis,
        state=state,
        today_version=None if state == IN_FORCE or today_version == basis else today_version,
        tag_counts=verification_counts(basis),
        to_verify=basis.has_facts_to_verify(),
        sources=sources_of(basis),
        is_anchor=is_anchor,
    )


def catalogue_rows(bases: list[LegalBasis], today: date) -> list[BasisRow]:
    """Rows for current bases, without a query per row."""
    in_force = {b.code: b for b in bases if b.is_in_force_on(today)}
    anchors = {}
    for basis in bases:
        if basis.code in in_force:
            anchors[basis.code] = in_force[basis.code]
        else:
            anchors.setdefault(basis.code, basis)
    return [
        _row(
            basis,
            today,
            in_force.get(basis.code) or in_force.get(basis.replaced_by_code),
            is_anchor=anchors[basis.code] is basis,
        )
        for basis in bases
    ]


def _require_staff_member(request: HttpRequest) -> None:
    if not (isinstance(request.user, User) and is_staff_member(request.user)):
        raise Http404


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    _require_staff_member(request)
    today = timezone.localdate()
    bases = list(
        LegalBasis.objects.current().order_by(
            "code", F("in_force_from").asc(nulls_first=True), "-version"
        )
    )
    releases = list(LegalBasisRelease.objects.all())
    return render(
        request,
        "legal_basis/list.html",
        {
            "rows": catalogue_rows(bases, today),
            "release": releases[0] if releases else None,
            "earlier_releases": releases[1:],
            "tags": VerificationTag.choices,
        },
    )


@login_required
@require_GET
def detail(request: HttpRequest, code: str, version: int) -> HttpResponse:
    _require_staff_member(request)
    today = timezone.localdate()
    basis = get_object_or_404(
        LegalBasis.objects.select_related("release"), code=code, version=version
    )
    versions = LegalBasis.objects.filter(code=code).select_related("release")
    return render(
        request,
        "legal_basis/detail.html",
        {
            "row": _row(basis, today, basis.in_force_version_on(today)),
            "basis": basis,
            "versions": [
                _row(v, today, None)
                for v in versions.order_by(F("in_force_from").asc(nulls_first=True), "-version")
            ],
            "tags": VerificationTag.choices,
        },
    )
