"""A correction before anyone signed the acknowledgement writes it again from
the corrected data; a signed acknowledgement stays as it was signed."""

from __future__ import annotations

import dataclasses

import pytest

from audit.models import AuditEvent
from letters.models import ReplyDocument
from letters.rendering import letter_html
from requests_app import services
from requests_app.inputs import CorrectionData
from requests_app.models import DefaultDeadline
from tests.conftest import fresh_otp, reread
from tests.requests_app.test_acknowledgement import KIND, ack_of

pytestmark = pytest.mark.django_db

NEW_NAME = "Juge NOUVEAUNOM"


@pytest.fixture(autouse=True)
def _acknowledged(db):
    """The administrator asks for an acknowledgement for investigating judges."""
    DefaultDeadline.objects.update_or_create(
        requester_kind=KIND, defaults={"working_days": 15, "acknowledge_receipt": True}
    )


def correct_name(dr, personas):
    changes = dataclasses.replace(CorrectionData.of(reread(dr)), requester_name=NEW_NAME)
    return services.correct_registration(
        reread(dr), actor=personas["secretariat"], reason="Nom mal lu", changes=changes
    )


def test_an_unsigned_acknowledgement_is_written_again(flow, personas):
    dr = flow.received()
    before = ReplyDocument.objects.get(reply=ack_of(dr))
    assert "CANARYJUGE" in letter_html(ack_of(dr))

    correct_name(dr, personas)

    after = ReplyDocument.objects.get(reply=ack_of(dr))
    html = letter_html(ack_of(dr))
    assert "NOUVEAUNOM" in html
    assert "CANARYJUGE" not in html
    assert after.revision == before.revision + 1
    assert after.sha256 != before.sha256
    event = AuditEvent.objects.filter(action="correct_registration").get()
    assert event.details["acknowledgement_pdf_sha256"] == after.sha256
    assert "NOUVEAUNOM" not in str(event.details)


def test_a_signed_acknowledgement_stays_as_signed(flow, personas):
    dr = flow.received()
    services.sign_acknowledgement(dr, actor=personas["dg"], otp=fresh_otp(personas["dg"]))
    signed = ReplyDocument.objects.get(reply=ack_of(dr))
    body = ack_of(dr).body

    correct_name(dr, personas)

    assert ReplyDocument.objects.get(reply=ack_of(dr)).sha256 == signed.sha256
    assert ack_of(dr).body == body
    event = AuditEvent.objects.filter(action="correct_registration").get()
    assert "acknowledgement_pdf_sha256" not in event.details
