"""Every kind of letter, and the signature stamps, read in French.

The letters are rendered for real (WeasyPrint) and their text extracted, then
checked as the pages are (tests/words.py): no code (snake_case, CamelCase),
no English, no ISO date or UTC time.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from accounts.models import Role
from letters.rendering import render_acknowledgement, render_letter, render_stamp
from requests_app import services
from tests.conftest import Flow
from tests.words import words_problems

from .conftest import normalised, pdf_text

pytestmark = pytest.mark.usefixtures("letterhead")


def _letter(kind: str, flow: Flow, personas) -> bytes:
    if kind == "acknowledgement":
        return render_acknowledgement(flow.received())
    if kind == "inadmissibility":
        dr = flow.inadmissible()
    else:
        dr = flow.in_review(proposal="refuse" if kind == "refusal" else "disclose")
        services.approve(dr, actor=personas["dg"])
        if kind == "disclosure with the DG's paragraph":
            services.set_letter_paragraph(
                dr,
                actor=personas["dg"],
                paragraph="Pour le surplus, adressez-vous au magistrat compétent.",
            )
            dr.refresh_from_db()
    return render_letter(dr.reply)


@pytest.mark.parametrize(
    "kind",
    [
        "disclosure",
        "disclosure with the DG's paragraph",
        "refusal",
        "inadmissibility",
        "acknowledgement",
    ],
)
def test_each_letter_is_in_french(flow, personas, kind):
    text = normalised(pdf_text(_letter(kind, flow, personas)))

    assert len(text) > 200, text
    assert words_problems(text) == []
    if "paragraph" in kind:
        assert "magistrat compétent" in text


def test_the_check_finds_codes_english_and_iso_dates():
    found = words_problems(
        "État : awaiting_review. Reply sent to the judge le 2026-11-28 à 14:05 UTC, SigDirector."
    )
    kinds = {problem.split(":")[0] for problem in found}
    assert kinds == {
        "code",
        "identifiant",
        "anglais",
        "date ISO",
        "fuseau ou format horaire anglais",
    }
    assert words_problems("Réponse envoyée au juge le 28/11/2026 à 14:05.") == []


@pytest.mark.parametrize("capacity", [Role.PRESIDENT, Role.DIRECTOR_GENERAL])
@pytest.mark.parametrize("acting", [False, True])
def test_signature_stamps_are_in_french_with_brussels_time(capacity, acting):
    # 23:30 UTC on 30 June is 01:30 the next day in Brussels (summer time).
    signed_at = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    pdf = render_stamp(
        signer_name="Anne Leclercq",
        capacity=capacity,
        acting=acting,
        signed_at=signed_at,
        reference="SP-2026-0042",
    )
    text = normalised(pdf_text(pdf))

    assert words_problems(text) == []
    assert "Anne Leclercq" in text
    assert "1er juillet 2026" in text or "01/07/2026" in text, text
    assert "01:30" in text or "1 h 30" in text or "01h30" in text, text
    assert "23:30" not in text
    assert timezone.localtime(signed_at).hour == 1
