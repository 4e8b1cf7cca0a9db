"""Catalogue releases: the only way the law enters the catalogue.

A release file holds the whole catalogue (format in docs/legal-catalogue.md).
`plan` compares it with the current catalogue: cards that are new, changed
or retired. `apply` records the release and the changes as new versions, one
audit event per change and one for the release, in one transaction. Applying
the same file twice changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext

from audit import log

from .models import (
    BasisRole,
    DataCategory,
    Effect,
    Feature,
    LegalBasis,
    LegalBasisRelease,
    RequesterKind,
    SupportingDocument,
    VerificationTag,
)

FORMAT = 1
RELEASES_DIR = Path(__file__).resolve().parent / "releases"

# Card keys compared between the file and the catalogue, in the order the
# release format lists them. `code` and `in_force_from` identify the card.
CONTENT_FIELDS = (
    "in_force_until",
    "role",
    "effect",
    "features",
    "title_fr",
    "title_nl",
    "citation",
    "letter_citation",
    "requester_kinds",
    "allowed_data_categories",
    "excluded_data_categories",
    "required_documents",
    "statutory_deadline_days",
    "provision_keywords",
    "checklist",
    "who_may_answer",
    "reply_paragraph_accepted",
    "reply_paragraph_refused",
    "route_paragraph",
    "route_requester_kinds",
    "sources",
    "replaced_by_code",
    "replacement_to_verify",
    "notes",
    "facts",
)
CARD_KEYS = frozenset({"code", "in_force_from", *CONTENT_FIELDS})
_TEXT_FIELDS = frozenset(
    {
        "title_fr",
        "title_nl",
        "citation",
        "letter_citation",
        "who_may_answer",
        "reply_paragraph_accepted",
        "reply_paragraph_refused",
        "route_paragraph",
        "replaced_by_code",
        "notes",
    }
)
_LIST_FIELDS: dict[str, frozenset[str] | None] = {
    "features": frozenset(Feature.values),
    "requester_kinds": frozenset(RequesterKind.values),
    "route_requester_kinds": frozenset(RequesterKind.values),
    "allowed_data_categories": frozenset(DataCategory.values),
    "excluded_data_categories": frozenset(DataCategory.values),
    "required_documents": frozenset(SupportingDocument.values),
    "provision_keywords": None,
}
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class ReleaseError(Exception):
    """The release file cannot be applied; `problems` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Release:
    label: str
    published_on: date
    publisher: str
    notes: str
    sha256: str
    cards: list[dict[str, Any]]


@dataclass
class Plan:
    release: Release
    new: list[dict[str, Any]] = field(default_factory=list)
    changed: list[tuple[LegalBasis, dict[str, Any], list[str]]] = field(default_factory=list)
    retired: list[LegalBasis] = field(default_factory=list)
    already_applied: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.new or self.changed or self.retired)


def _date(value: Any, where: str, problems: list[str]) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: not an ISO date: {value!r}")
        return None


def _check_tagged(entries: Any, where: str, problems: list[str]) -> None:
    if not isinstance(entries, list):
        problems.append(f"{where}: must be a list")
        return
    for entry in entries:
        if not (isinstance(entry, dict) and isinstance(entry.get("text"), str)):
            problems.append(f"{where}: each entry needs a text")
        elif entry.get("tag") not in VerificationTag.values:
            problems.append(f"{where}: tag must be one of {', '.join(VerificationTag.values)}")


def _check_sources(sources: Any, where: str, problems: list[str]) -> None:
    if not isinstance(sources, list):
        problems.append(f"{where}: sources must be a list")
        return
    for source in sources:
        if not isinstance(source, dict) or not isinstance(source.get("label"), str):
            problems.append(f"{where}: each source needs a label")
            continue
        url = str(source.get("url", ""))
        if url and not url.startswith(("https://", "http://")):
            problems.append(f"{where}: source URL must be a web address: {url!r}")
        if not isinstance(source.get("official"), bool):
            problems.append(f"{where}: each source says whether it is official")
        elif not source["official"] and not str(source.get("note", "")).strip():
            problems.append(f"{where}: a secondary source needs a note on what to verify")


def _check_card(card: Any, position: int, problems: list[str]) -> dict[str, Any] | None:
    if not isinstance(card, dict):
        problems.append(f"card {position}: not an object")
        return None
    code = card.get("code")
    where = f"card {position} ({code})"
    if not (isinstance(code, str) and _CODE.match(code)):
        problems.append(f"{where}: code must match {_CODE.pattern}")
    missing = CARD_KEYS - card.keys()
    unknown = card.keys() - CARD_KEYS
    if missing:
        problems.append(f"{where}: missing keys: {', '.join(sorted(missing))}")
    if unknown:
        problems.append(f"{where}: unknown keys: {', '.join(sorted(unknown))}")
    if missing:
        return None
    cleaned = dict(card)
    cleaned["in_force_from"] = _date(card["in_force_from"], where, problems)
    cleaned["in_force_until"] = _date(card["in_force_until"], where, problems)
    start, end = cleaned["in_force_from"], cleaned["in_force_until"]
    if start and end and end < start:
        problems.append(f"{where}: validity ends before it starts")
    if card["role"] not in BasisRole.values:
        problems.append(f"{where}: role must be one of {', '.join(BasisRole.values)}")
    if card["effect"] not in Effect.values:
        problems.append(f"{where}: effect must be one of {', '.join(Effect.values)}")
    for key in _TEXT_FIELDS:
        if not isinstance(card[key], str):
            problems.append(f"{where}: {key} must be text")
    if not card["title_fr"] or not card["citation"]:
        problems.append(f"{where}: title_fr and citation are required")
    for key, allowed in _LIST_FIELDS.items():
        values = card[key]
        if not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
            problems.append(f"{where}: {key} must be a list of strings")
        elif allowed is not None and set(values) - allowed:
            problems.append(f"{where}: {key}: unknown values {sorted(set(values) - allowed)}")
    if Feature.SECRECY_RULE in card["features"] and not card["letter_citation"]:
        problems.append(f"{where}: the secrecy rule needs a letter citation")
    days = card["statutory_deadline_days"]
    if days is not None and not (isinstance(days, int) and 0 < days < 1000):
        problems.append(f"{where}: statutory_deadline_days must be a number of days or null")
    if not isinstance(card["replacement_to_verify"], bool):
        problems.append(f"{where}: replacement_to_verify must be true or false")
    _check_tagged(card["checklist"], f"{where} checklist", problems)
    _check_tagged(card["facts"], f"{where} facts", problems)
    _check_sources(card["sources"], where, problems)
    return cleaned


def _check_periods(cards: list[dict[str, Any]], problems: list[str]) -> None:
    by_code: dict[str, list[dict[str, Any]]] = {}
    for card in cards:
        by_code.setdefault(card["code"], []).append(card)
    for code, periods in by_code.items():
        periods.sort(key=lambda c: c["in_force_from"] or date.min)
        for earlier, later in itertools.pairwise(periods):
            if earlier["in_force_until"] is None or (
                later["in_force_from"] is None
                or earlier["in_force_until"] >= later["in_force_from"]
            ):
                problems.append(f"{code}: validity periods overlap")
    for card in cards:
        successor = card["replaced_by_code"]
        if successor and successor not in by_code:
            problems.append(
                f"{card['code']}: replaced_by_code {successor!r} is not in the release"
            )


def parse(raw: bytes) -> Release:
    """Read and check a release file; raise ReleaseError listing every problem."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReleaseError([f"not a JSON file: {error}"]) from error
    if not isinstance(data, dict):
        raise ReleaseError(["the file must hold one JSON object"])
    problems: list[str] = []
    if data.get("format") != FORMAT:
        problems.append(f"format must be {FORMAT}")
    label = data.get("release")
    if not (isinstance(label, str) and 0 < len(label) <= 32):
        problems.append("release must be a label of at most 32 characters")
    published_on = _date(data.get("published_on"), "published_on", problems)
    if published_on is None:
        problems.append("published_on is required")
    raw_cards = data.get("cards")
    if not (isinstance(raw_cards, list) and raw_cards):
        problems.append("cards must be a non-empty list")
        raw_cards = []
    cards = [c for i, card in enumerate(raw_cards, 1) if (c := _check_card(card, i, problems))]
    if not problems:
        _check_periods(cards, problems)
    if problems:
        raise ReleaseError(problems)
    assert isinstance(label, str)
    assert published_on is not None
    return Release(
        label=label,
        published_on=published_on,
        publisher=str(data.get("publisher", "")),
        notes=str(data.get("notes", "")),
        sha256=hashlib.sha256(raw).hexdigest(),
        cards=cards,
    )


def _changed_fields(basis: LegalBasis, card: dict[str, Any]) -> list[str]:
    return [name for name in CONTENT_FIELDS if getattr(basis, name) != card[name]]


def plan(release: Release) -> Plan:
    """What applying `release` would do to the current catalogue."""
    result = Plan(release=release)
    previous = LegalBasisRelease.objects.filter(label=release.label).first()
    if previous is not None:
        if previous.sha256 != release.sha256:
            raise ReleaseError(
                [f"release {release.label} was already applied with different content"]
            )
        result.already_applied = True
    current = {(b.code, b.in_force_from): b for b in LegalBasis.objects.current()}
    for card in release.cards:
        basis = current.pop((card["code"], card["in_force_from"]), None)
        if basis is None:
            result.new.append(card)
        elif changed := _changed_fields(basis, card):
            result.changed.append((basis, card, changed))
    result.retired = sorted(current.values(), key=lambda b: (b.code, b.version))
    return result


def _new_version(card: dict[str, Any], release: LegalBasisRelease) -> LegalBasis:
    latest = LegalBasis.objects.filter(code=card["code"]).aggregate(v=Max("version"))["v"]
    return LegalBasis.objects.create(
        code=card["code"],
        version=(latest or 0) + 1,
        is_current=True,
        release=release,
        in_force_from=card["in_force_from"],
        **{name: card[name] for name in CONTENT_FIELDS},
    )


def apply(release: Release, *, actor_id: int | None) -> Plan:
    """Apply `release`: new and changed cards become new versions, retired
    cards stop being current. Returns the plan it carried out."""
    with transaction.atomic():
        # One import at a time: the plan is made under the lock it is applied in.
        list(LegalBasisRelease.objects.select_for_update().all())
        carried_out = plan(release)
        if carried_out.already_applied:
            return carried_out
        record = LegalBasisRelease.objects.create(
            label=release.label,
            published_on=release.published_on,
            publisher=release.publisher,
            notes=release.notes,
            sha256=release.sha256,
        )
        events: list[dict[str, Any]] = []
        for basis in carried_out.retired:
            LegalBasis.objects.filter(pk=basis.pk).update(is_current=False)
            events.append(_event(actor_id, "legal_basis_retire", basis, record))
        for old, card, fields in carried_out.changed:
            LegalBasis.objects.filter(pk=old.pk).update(is_current=False)
            basis = _new_version(card, record)
            events.append(
                _event(
                    actor_id,
                    "legal_basis_new_version",
                    basis,
                    record,
                    previous_id=old.pk,
                    fields=fields,
                )
            )
        for card in carried_out.new:
            basis = _new_version(card, record)
            events.append(_event(actor_id, "legal_basis_create", basis, record))
        events.append(
            {
                "actor_id": actor_id,
                "action": "legal_basis_release_apply",
                "object_type": "legal_basis_release",
                "object_id": record.pk,
                "details": {
                    "release": record.label,
                    "sha256": record.sha256,
                    "new": len(carried_out.new),
                    "changed": len(carried_out.changed),
                    "retired": len(carried_out.retired),
                },
            }
        )
        log.append_many(events)
    return carried_out


def _event(
    actor_id: int | None,
    action: str,
    basis: LegalBasis,
    release: LegalBasisRelease,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "actor_id": actor_id,
        "action": action,
        "object_type": "legal_basis",
        "object_id": basis.pk,
        "details": {
            "code": basis.code,
            "version": basis.version,
            "in_force_from": basis.in_force_from.isoformat() if basis.in_force_from else None,
            "release": release.label,
            **extra,
        },
    }


def release_in_force() -> LegalBasisRelease | None:
    return LegalBasisRelease.objects.first()


def shipped_releases() -> list[Path]:
    """The release files shipped with the code, oldest first (by file name)."""
    files = sorted(RELEASES_DIR.glob("*.json"))
    if not files:
        raise ReleaseError([gettext("No catalogue release file is shipped.")])
    return files


def load_shipped(*, actor_id: int | None = None) -> list[Plan]:
    """Apply the shipped releases in order; those already applied change nothing."""
    return [apply(parse(path.read_bytes()), actor_id=actor_id) for path in shipped_releases()]
