"""The DPO's use cases on the register of disclosures: each checks the
right, reads, and records on the audit trail how the register was searched
and how many rows it gave, never the criteria (personal data). A refusal is
recorded too. Retention's use cases are in `dpo/retention.py`."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit import log

from . import access
from .audit_vocabulary import EXPORT_ACTION, REGISTER_OBJECT, SEARCH_ACTION
from .exports import CSV_CONTENT_TYPE, PDF_CONTENT_TYPE, ExportFile, csv_bytes, pdf_bytes
from .queries import DisclosureRegister, PersonCriteria, disclosure_register


def record_refused(actor: User, attempted: str) -> None:
    """Someone without the right tried to search or export the register."""
    with transaction.atomic():
        log.append(
            actor_id=actor.pk,
            action="refused",
            object_type=REGISTER_OBJECT,
            details={"attempted": attempted, "cause": "permission_denied"},
        )


def search_disclosures(actor: User, criteria: PersonCriteria) -> DisclosureRegister:
    """The DPO's search of the register: the result, and the search on the
    audit trail (how searched and how many rows; the criteria are personal
    data and stay out of it)."""
    if not access.may_search_disclosures(actor):
        record_refused(actor, SEARCH_ACTION)
        raise PermissionDenied
    with transaction.atomic():
        found = disclosure_register(criteria)
        log.append(
            actor_id=actor.pk,
            action=SEARCH_ACTION,
            object_type=REGISTER_OBJECT,
            details={
                "searched_by": criteria.searched_by,
                "results": len(found.rows),
                "requests": found.request_count,
            },
        )
    return found


def export_disclosures(actor: User, criteria: PersonCriteria, fmt: str) -> ExportFile:
    """The register about a person as a file; the export on the audit trail.

    A PDF that cannot be rendered raises rendering.LetterRenderingError and
    nothing is recorded."""
    if not access.may_search_disclosures(actor):
        record_refused(actor, EXPORT_ACTION)
        raise PermissionDenied
    if fmt not in ("pdf", "csv"):
        raise ValueError(f"unknown export format {fmt!r}")
    found = disclosure_register(criteria)
    stamp = f"{timezone.localdate():%Y%m%d}"
    if fmt == "pdf":
        exported = ExportFile(
            pdf_bytes(found), PDF_CONTENT_TYPE, f"registre-communications-{stamp}.pdf"
        )
    else:
        exported = ExportFile(
            csv_bytes(found), CSV_CONTENT_TYPE, f"registre-communications-{stamp}.csv"
        )
    with transaction.atomic():
        log.append(
            actor_id=actor.pk,
            action=EXPORT_ACTION,
            object_type=REGISTER_OBJECT,
            details={
                "format": fmt,
                "searched_by": criteria.searched_by,
                "results": len(found.rows),
                "requests": found.request_count,
            },
        )
    return exported
