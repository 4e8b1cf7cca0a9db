"""The validation of a signed letter is recorded with the hash of the file it
validated: when a signature stores the file, on demand (the button of the
request page, audited) and by the nightly `verify_letters`. The request page
reads the record and never validates (issue 15)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from letters import signing
from letters.models import DocumentValidation, ReplyDocument
from requests_app import services
from requests_app.models import OpinionItem, Signature
from tests.conftest import CANARY_FIRST, CANARY_NAME, CANARY_NISS, basis, fresh_otp, reread
from tests.requests_app.test_acknowledgement import KIND, ack_of, acknowledged, sign_both

__all__ = ["acknowledged"]  # a fixture, imported to be used here

BOTH_VALID = "Les deux signatures sont valides"
ONE_VALID = "Signature(s) valide(s), en attente de la seconde"
TO_CHECK = "À revérifier"
MISMATCH = "le fichier ne correspond pas à son empreinte"


@pytest.fixture
def validate_spy(monkeypatch):
    """Every call of signing.validate, counted (the real one still runs)."""
    calls: list[int] = []
    real = signing.validate

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(signing, "validate", spy)
    return calls


def document_of(dr) -> ReplyDocument:
    return ReplyDocument.objects.get(reply=reread(dr).reply)


def page(client: Client, user, dr) -> str:
    client.force_login(user)
    response = client.get(reverse("requests_app:detail", args=[dr.pk]))
    assert response.status_code == 200
    return str(response.content.decode())


def tamper(document: ReplyDocument) -> None:
    """Bytes added to the stored file behind the application's back."""
    with open(document.file.path, "ab") as handle:
        handle.write(b"\n% changed on the disk\n")


def revalidate(client: Client, user, dr):
    client.force_login(user)
    return client.post(reverse("requests_app:revalidate_letter", args=[dr.pk]))


# Written with the file ------------------------------------------------------


def test_each_signature_records_the_validation_of_the_file_it_stored(flow):
    dr = flow.partially_signed()
    first = DocumentValidation.objects.get(document=document_of(dr))

    assert first.trigger == DocumentValidation.Trigger.WRITTEN
    assert first.sha256 == document_of(dr).sha256
    assert first.revision == 2
    assert first.ok
    assert not first.complete
    assert first.report["recorded_fields"] == [signing.FIELD_DIRECTOR]
    assert first.report["unsigned_fields"] == [signing.FIELD_PRESIDENT]

    services.sign_reply(dr, actor=flow.p["president"], otp=fresh_otp(flow.p["president"]))
    document = document_of(dr)
    latest = DocumentValidation.objects.filter(document=document).latest("id")

    assert DocumentValidation.objects.filter(document=document).count() == 2
    assert latest.sha256 == document.sha256 == signing.sha256(document.read())
    assert latest.revision == 3
    assert latest.ok
    assert latest.complete
    assert {s["field"] for s in latest.report["signatures"]} == set(signing.SIGNATURE_FIELDS)
    assert all(s["trusted"] and s["intact"] for s in latest.report["signatures"])
    # What the page shows of a signature, and nothing of the letter.
    dump = json.dumps(latest.report)
    for canary in (CANARY_NAME, CANARY_FIRST, CANARY_NISS, "CANARYITEM", "CANARYMOTIF"):
        assert canary not in dump


def test_the_acknowledgement_records_its_validation_too(flow, acknowledged):
    dr = flow.received(requester_kind=KIND)
    sign_both(dr, flow.p)
    document = ReplyDocument.objects.get(reply=ack_of(dr))
    latest = DocumentValidation.objects.filter(document=document).latest("id")

    assert latest.trigger == DocumentValidation.Trigger.WRITTEN
    assert latest.sha256 == document.sha256
    assert latest.complete


# The page reads the record --------------------------------------------------


@pytest.mark.parametrize("role", ["president", "dg", "referent", "secretariat"])
def test_the_page_shows_the_record_and_validates_nothing(flow, client, role, validate_spy):
    dr = flow.signed()
    validate_spy.clear()

    body = page(client, flow.p[role], dr)

    assert validate_spy == []
    assert BOTH_VALID in body
    assert "Vérifiées le" in body
    assert "à la signature" in body
    assert "Revérifier les signatures" in body


def test_after_the_first_signature_the_page_says_it_waits_for_the_second(
    flow, client, validate_spy
):
    dr = flow.partially_signed()
    validate_spy.clear()

    body = page(client, flow.p["president"], dr)

    assert validate_spy == []
    assert ONE_VALID in body
    assert "pose problème" not in body


def test_a_file_changed_on_the_storage_is_never_shown_as_valid(flow, client, validate_spy):
    dr = flow.signed()
    tamper(document_of(dr))
    validate_spy.clear()

    body = page(client, flow.p["president"], dr)

    assert validate_spy == []
    assert BOTH_VALID not in body
    assert TO_CHECK in body
    assert MISMATCH in body
    assert "verification-bad" in body


def test_a_file_stored_again_without_a_validation_is_to_check_again(flow, client):
    dr = flow.signed()
    document = document_of(dr)
    tamper(document)
    # Someone also rewrote the recorded fingerprint: no record describes it.
    ReplyDocument.objects.filter(pk=document.pk).update(sha256=signing.sha256(document.read()))

    body = page(client, flow.p["president"], dr)

    assert BOTH_VALID not in body
    assert TO_CHECK in body
    assert MISMATCH not in body


def test_a_missing_file_is_shown_as_unreadable(flow, client):
    dr = flow.signed()
    document_of(dr).file.delete(save=False)

    body = page(client, flow.p["president"], dr)

    assert BOTH_VALID not in body
    assert "le fichier n&#x27;a pas pu être lu" in body


def test_the_page_query_count_does_not_grow_with_the_letter(flow, client):
    def queries(dr) -> int:
        client.force_login(flow.p["president"])
        client.get(reverse("requests_app:detail", args=[dr.pk]))
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("requests_app:detail", args=[dr.pk])).status_code == 200
        return len(captured.captured_queries)

    dr = flow.signed()
    before = queries(dr)
    opinion = reread(dr).current_opinion()
    assert opinion is not None
    for position in range(3, 8):
        OpinionItem.objects.create(
            opinion=opinion,
            position=position,
            description=f"Élément {position}",
            data_category="address",
            legal_basis=basis("ji-search-seizure"),
            necessity="Nécessaire",
        )
    services.revalidate_letter(reread(dr), actor=flow.p["president"])

    assert queries(dr) == before


# The button -----------------------------------------------------------------


def test_the_button_validates_again_records_and_audits(flow, client, validate_spy):
    dr = flow.signed()
    document = document_of(dr)
    validate_spy.clear()

    response = revalidate(client, flow.p["secretariat"], dr)

    assert response.status_code == 302
    assert response["Location"] == reverse("requests_app:detail", args=[dr.pk])
    assert validate_spy == [1]
    record = DocumentValidation.objects.filter(document=document).latest("id")
    assert record.trigger == DocumentValidation.Trigger.ON_DEMAND
    assert record.sha256 == document.sha256
    assert record.ok
    assert record.complete
    event = AuditEvent.objects.filter(action="revalidate_letter").get()
    assert event.actor_id == flow.p["secretariat"].pk
    assert event.object_id == str(dr.pk)
    assert event.details == {
        "reference": dr.reference,
        "reply_id": document.reply_id,
        "validation_id": record.pk,
        "pdf_sha256": document.sha256,
        "pdf_revision": 3,
        "signatures_valid": True,
        "signatures_complete": True,
    }
    body = client.get(response["Location"]).content.decode()
    assert "revérifiées : les deux sont valides" in body
    assert "à la demande" in body


def test_the_button_on_a_changed_file_records_the_failure(flow, client):
    dr = flow.signed()
    document = document_of(dr)
    tamper(document)

    response = revalidate(client, flow.p["president"], dr)

    assert response.status_code == 302
    record = DocumentValidation.objects.filter(document=document).latest("id")
    assert record.sha256 == signing.sha256(document.read()) != document.sha256
    assert not record.ok
    assert not record.complete
    event = AuditEvent.objects.filter(action="revalidate_letter").get()
    assert event.details["signatures_valid"] is False
    assert event.details["pdf_sha256"] == record.sha256
    body = client.get(response["Location"]).content.decode()
    assert "il y a un problème" in body
    assert BOTH_VALID not in body
    assert MISMATCH in body


@pytest.mark.parametrize(
    ("role", "state", "status"),
    [
        ("other_referent", "signed", 404),
        ("auditor", "signed", 404),
        ("outsider", "signed", 404),
        # Sees the request, not the reply before its second signature.
        ("secretariat", "partially_signed", 403),
        # A request with no signature on its letter: nothing to check.
        ("president", "awaiting_signatures", 409),
    ],
)
def test_refused_attempts_record_no_validation(flow, client, role, state, status):
    dr = flow.in_state(state)
    before = DocumentValidation.objects.count()

    response = revalidate(client, flow.p[role], dr)

    assert response.status_code == status
    assert DocumentValidation.objects.count() == before
    assert not AuditEvent.objects.filter(action="revalidate_letter").exists()


def test_the_button_needs_a_post_with_its_csrf_token(flow, personas):
    dr = flow.signed()
    before = DocumentValidation.objects.count()
    url = reverse("requests_app:revalidate_letter", args=[dr.pk])
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["president"])

    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    assert Client().post(url).status_code == 302  # anonymous: to the sign-in page
    assert DocumentValidation.objects.count() == before
    assert not AuditEvent.objects.filter(action="revalidate_letter").exists()


# The nightly verification ---------------------------------------------------


def run_nightly() -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_letters", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_nightly_run_records_and_confirms(flow):
    signed = flow.signed()
    waiting = flow.partially_signed()

    out, err = run_nightly()

    assert "2 signed letter(s) checked, 0 failing" in out
    assert err == ""
    for dr in (signed, waiting):
        latest = DocumentValidation.objects.filter(document=document_of(dr)).latest("id")
        assert latest.trigger == DocumentValidation.Trigger.NIGHTLY
        assert latest.ok
    count = DocumentValidation.objects.count()
    first = DocumentValidation.objects.filter(document=document_of(signed)).latest("id")

    run_nightly()

    # The same result again only moves the time of the latest nightly record.
    assert DocumentValidation.objects.count() == count
    again = DocumentValidation.objects.get(pk=first.pk)
    assert again.confirmed_at > first.confirmed_at
    assert again.validated_at == first.validated_at


def test_the_nightly_run_fails_on_a_changed_file(flow, client):
    dr = flow.signed()
    other = flow.signed()
    tamper(document_of(dr))

    with pytest.raises(CommandError, match="2 signed letter"):
        call_command("verify_letters", stdout=io.StringIO(), stderr=(err := io.StringIO()))

    lines = err.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"FAIL {dr.reference} ")
    assert MISMATCH in lines[0]
    for canary in (CANARY_NAME, CANARY_FIRST, CANARY_NISS, "Jean", "Marie"):
        assert canary not in lines[0]
    assert not DocumentValidation.objects.filter(document=document_of(dr)).latest("id").ok
    assert DocumentValidation.objects.filter(document=document_of(other)).latest("id").ok


def test_the_nightly_run_fails_when_a_recorded_signature_is_missing(flow):
    dr = flow.partially_signed()
    # The database says the Président signed; the file holds only the DG's.
    Signature.objects.create(
        reply=reread(dr).reply, signer=flow.p["president"], capacity="president"
    )

    with pytest.raises(CommandError):
        call_command("verify_letters", stdout=io.StringIO(), stderr=(err := io.StringIO()))

    assert "absente du fichier" in err.getvalue()


def test_the_nightly_run_fails_on_a_missing_file(flow):
    dr = flow.signed()
    document_of(dr).file.delete(save=False)

    with pytest.raises(CommandError):
        call_command("verify_letters", stdout=io.StringIO(), stderr=(err := io.StringIO()))

    assert f"FAIL {dr.reference} " in err.getvalue()
    assert "cannot be read" in err.getvalue()
