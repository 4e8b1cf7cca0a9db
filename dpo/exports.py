"""The register of disclosures about a person, exported for the DPO: a PDF
(WeasyPrint through the letters' locked fetcher) and a CSV as Belgian Excel
opens it (UTF-8 with a byte order mark, ";" between cells).

The export itself, audited, is a use case in `dpo/services.py`. The PDF's
metadata carries a generic title only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from django.template.loader import render_to_string
from django.utils import formats, timezone
from django.utils.translation import gettext

from audit import log
from letters import rendering
from letters.models import Letterhead

from .queries import (
    DisclosureRegister,
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
