"""The register of disclosures about a person, exported for the DPO: a PDF
(WeasyPrint through the letters' locked fetcher) and a CSV as Belgian Excel
opens it (UTF-8 with a byte order mark, ";" between cells).

Each export is a use case: the right is checked, the file is built, and the
export is recorded on the audit trail (format, how searched, how many rows;
never the criteria). The PDF's metadata carries a generic title only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import formats, timezone
from django.utils.translation import gettext

from accounts.models import User
from audit import log
from letters import rendering
from letters.models import Letterhead

from . import access
from .audit_vocabulary import EXPORT_ACTION, REGISTER_OBJECT
from .queries import (
    DisclosureRegister,
    PersonCriteria,
    disclosure_register,
    record_refused,
    secret_bases,
)

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
PDF_CONTENT_TYPE = "application/pdf"
BOM = "\ufeff"


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    content_type: str
    filename: str


def _day(value: date) -> str:
    return formats.date_format(value, "d/m/Y")


def csv_bytes(register: DisclosureRegister) -> bytes:
    """One line per disclosure (a letter and a legal basis), French headers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        [
            gettext("Date of dispatch"),
            gettext("Reference"),
            gettext("Recipient kind"),
            gettext("Recipient organisation"),
            gettext("Legal basis"),
            gettext("Citation"),
            gettext("Data categories"),
        ]
    )
    for row in register.rows:
        writer.writerow(
            log.neutralise_cell(value)
            for value in (
                _day(row.dispatched_on),
                row.reference,
                row.requester_kind_label,
                row.organisation,
                row.basis_title,
                row.basis_citation,
                ", ".join(row.categories),
            )
        )
    return (BOM + buffer.getvalue()).encode("utf-8")


def pdf_title() -> str:
    """The PDF's title in its metadata: the document's kind, nothing personal."""
    return gettext("Register of disclosures")


def pdf_bytes(register: DisclosureRegister) -> bytes:
    letterhead = Letterhead.load()
    html = render_to_string(
        "dpo/register_pdf.html",
        {
            "register": register,
            "letterhead_name": letterhead.name,
            "dpo_contact": letterhead.dpo_contact.strip(),
            "secret_bases": secret_bases(),
            "generated_at": timezone.localtime(register.generated_at),
        },
    )
    return rendering.render_html(html, reference=pdf_title(), fetcher=rendering.LetterFetcher())


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
