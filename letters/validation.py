"""The recorded validation of a stored letter's signatures.

Validating both PAdES signatures of a letter costs tens of milliseconds
(pyHanko parses every revision, checks each signature's integrity, its
certificate path and the changes made after it). It is done when a
signature writes the file, on demand (the button of the request page, the
nightly `verify_letters`), and its result is kept as a `DocumentValidation`
with the SHA-256 of the bytes validated. The request page then reads the
latest record for the file as it is now and hashes the stored file (about
0.1 ms for a signed letter of 60 kB read from the private storage), so a
file changed behind the application's back is never shown as valid.

* `record(document, pdf, trigger=..., roots=...)`: validate bytes in memory
  (the signature just stored) and record the result.
* `revalidate(document, trigger=..., roots=...)`: the same for the stored file.
* `recorded_check(document)`: what the page shows, without validating.

letters.services calls them with the configured trust roots.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import Role
from requests_app.models import Signature

from . import signing
from .errors import LetterUnavailable
from .models import DocumentValidation, ReplyDocument

Trigger = DocumentValidation.Trigger

# The signature field of each signing capacity.
FIELD_FOR_CAPACITY = {
    Role.DIRECTOR_GENERAL.value: signing.FIELD_DIRECTOR,
    Role.PRESIDENT.value: signing.FIELD_PRESIDENT,
}


# ---------------------------------------------------------------------------
# The report as stored


def report_json(report: signing.ValidationReport) -> dict[str, Any]:
    """`signing.validate`'s report as JSON (the signing time in ISO 8601)."""
    signatures = []
    for s in report.signatures:
        item = dataclasses.asdict(s)
        item["signing_time"] = s.signing_time.isoformat() if s.signing_time else None
        signatures.append(item)
    return {
        "signatures": signatures,
        "revisions": report.revisions,
        "modified_after_last_signature": report.modified_after_last_signature,
        "unsigned_fields": list(report.unsigned_fields),
    }


def report_from_json(data: dict[str, Any]) -> signing.ValidationReport:
    names = {f.name for f in dataclasses.fields(signing.SignatureReport)}
    signatures = []
    for item in data.get("signatures", []):
        values = {k: v for k, v in item.items() if k in names}
        moment = values.get("signing_time")
        values["signing_time"] = datetime.fromisoformat(moment) if moment else None
        signatures.append(signing.SignatureReport(**values))
    return signing.ValidationReport(
        signatures=signatures,
        revisions=int(data.get("revisions", 0)),
        modified_after_last_signature=bool(data.get("modified_after_last_signature")),
        unsigned_fields=list(data.get("unsigned_fields", [])),
    )


# ---------------------------------------------------------------------------
# Validating and recording


def _recorded_fields(document: ReplyDocument) -> list[str]:
    """The fields the database says are signed: one per Signature row."""
    capacities = Signature.objects.filter(reply_id=document.reply_id).values_list(
        "capacity", flat=True
    )
    return sorted(FIELD_FOR_CAPACITY[c] for c in capacities if c in FIELD_FOR_CAPACITY)


def record(
    document: ReplyDocument,
    pdf: bytes,
    *,
    trigger: str,
    roots: Sequence[Any],
) -> DocumentValidation:
    """Validate `pdf`, the bytes of `document`, against `roots` and record it."""
    digest = signing.sha256(pdf)
    report = signing.validate(pdf, roots)
    expected = _recorded_fields(document)
    signed = sorted(s.field for s in report.signatures)
    hash_matches = digest == document.sha256
    ok = hash_matches and report.ok and signed == expected
    data = {**report_json(report), "hash_matches": hash_matches, "recorded_fields": expected}
    complete = ok and not report.unsigned_fields
    now = timezone.now()
    if trigger == Trigger.NIGHTLY:
        latest = (
            DocumentValidation.objects.filter(document=document, sha256=digest)
            .order_by("-id")
            .first()
        )
        # Only a nightly record is confirmed: the page says how it was checked.
        if (
            latest is not None
            and latest.trigger == Trigger.NIGHTLY
            and latest.ok == ok
            and latest.complete == complete
            and latest.report == data
        ):
            latest.confirmed_at = now
            latest.save(update_fields=["confirmed_at"])
            return latest
    return DocumentValidation.objects.create(
        document=document,
        sha256=digest,
        revision=document.revision,
        trigger=trigger,
        validated_at=now,
        confirmed_at=now,
        ok=ok,
        complete=complete,
        report=data,
    )


def revalidate(
    document: ReplyDocument, *, trigger: str, roots: Sequence[Any]
) -> DocumentValidation:
    """Read the stored file, validate it and record the result.

    Raises `LetterUnavailable` when the file cannot be read (nothing is
    recorded: there are no bytes to fingerprint).
    """
    try:
        pdf = document.read()
    except OSError as error:
        raise LetterUnavailable(
            gettext(
                "The letter's file could not be read: its signatures were not checked. "
                "Notify the administrator."
            ),
            cause="letter_file_unreadable",
        ) from error
    return record(document, pdf, trigger=trigger, roots=roots)


# ---------------------------------------------------------------------------
# What the request page shows


@dataclass(frozen=True)
class RecordedCheck:
    """The latest recorded validation of a letter as it is stored now.

    `validation` is the latest record whose hash is the document's recorded
    hash; `file_sha256` the hash of the stored file now (None when it cannot
    be read). Validity is claimed only when the three agree (`current`).
    """

    document: ReplyDocument
    validation: DocumentValidation | None
    file_sha256: str | None

    @property
    def file_matches(self) -> bool:
        return self.file_sha256 == self.document.sha256

    @property
    def current(self) -> bool:
        """A record describes the stored file as it is now."""
        return self.validation is not None and self.file_matches

    @property
    def ok(self) -> bool:
        return self.current and self.validation is not None and self.validation.ok

    @property
    def complete(self) -> bool:
        return self.ok and self.validation is not None and self.validation.complete

    @cached_property
    def report(self) -> signing.ValidationReport | None:
        if self.validation is None:
            return None
        return report_from_json(self.validation.report)

    def problems(self) -> list[str]:
        """Why the page does not say the letter checks out; empty when it does."""
        if self.ok:
            return []
        found: list[str] = []
        if self.file_sha256 is None:
            found.append(gettext("the file could not be read"))
        elif not self.file_matches:
            found.append(gettext("the file does not match its fingerprint"))
        if not self.current or self.validation is None or self.report is None:
            return found
        data = self.validation.report
        if not data.get("hash_matches", True):
            found.append(gettext("the file does not match its fingerprint"))
        # A field not signed yet is in order while no signature is recorded
        # for it (the letter waits for it); one recorded is said below.
        found += dataclasses.replace(self.report, unsigned_fields=[]).problems()
        recorded = set(data.get("recorded_fields", []))
        signed = {s.field for s in self.report.signatures}
        for name in sorted(recorded - signed):
            found.append(
                gettext("%(field)s: recorded as given but missing from the file")
                % {"field": signing.field_label(name)}
            )
        for name in sorted(signed - recorded):
            found.append(
                gettext("%(field)s: in the file but never recorded as given")
                % {"field": signing.field_label(name)}
            )
        return found


def latest_validation(document: ReplyDocument, sha256: str) -> DocumentValidation | None:
    return (
        DocumentValidation.objects.filter(document=document, sha256=sha256).order_by("-id").first()
    )


def _file_sha256(document: ReplyDocument) -> str | None:
    try:
        return signing.sha256(document.read())
    except OSError:
        return None


def recorded_check(document: ReplyDocument) -> RecordedCheck:
    """One query and one read of the stored file; no validation."""
    return RecordedCheck(
        document=document,
        validation=latest_validation(document, document.sha256),
        file_sha256=_file_sha256(document),
    )


def signed_documents() -> QuerySet[ReplyDocument]:
    """Every stored letter with at least one signature recorded, the reply
    and its request loaded (the nightly run prints references)."""
    return (
        ReplyDocument.objects.filter(
            Exists(Signature.objects.filter(reply_id=OuterRef("reply_id")))
        )
        .select_related("reply__request")
        .order_by("id")
    )
