"""Two PAdES signatures, in either order; later edits are flagged (T-PDF-5)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.core.management.base import CommandError
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, NameObject

from accounts.models import Role
from letters import rendering, signing
from letters import services as letter_services
from letters.credentials import signing_passphrase
from letters.models import ReplyDocument, SigningCredential
from letters.rendering import render_letter
from requests_app import services
from tests.conftest import fresh_otp

from .conftest import (
    PDFSIG_VALID,
    pdfsig,
    record_signature,
    requires_pdfsig,
    revisions,
    sign_in_order,
)

DG = Role.DIRECTOR_GENERAL.value
PRESIDENT = Role.PRESIDENT.value


def _assert_both_valid(pdf: bytes, pki, *, first: str, second: str) -> None:
    report = signing.validate(pdf, pki.roots)
    assert report.ok, report.problems()
    assert report.complete
    assert not report.modified_after_last_signature
    by_field = {s.field: s for s in report.signatures}
    assert [s.field for s in report.signatures] == [first, second]
    assert by_field[first].certification
    assert not by_field[second].certification
    assert by_field[first].modification_level == "FORM_FILLING"
    assert by_field[first].coverage == "ENTIRE_REVISION"
    assert by_field[second].coverage == "ENTIRE_FILE"
    assert by_field[second].modification_level == "NONE"
    for s in report.signatures:
        assert s.intact
        assert s.valid
        assert s.trusted
        assert s.docmdp_ok


@requires_pdfsig
@pytest.mark.parametrize("order", ["dg_first", "president_first"])
def test_two_signatures_valid_in_both_orders(flow, signers, pki, tmp_path, order):
    dr = flow.awaiting_signatures()
    dg, president = signers["dg"], signers["president"]
    first, second = (dg, president) if order == "dg_first" else (president, dg)
    document = sign_in_order(dr, first, second)
    pdf = document.read()
    assert document.revision == 3
    assert document.sha256 == signing.sha256(pdf)
    fields = {dg.pk: signing.FIELD_DIRECTOR, president.pk: signing.FIELD_PRESIDENT}
    _assert_both_valid(pdf, pki, first=fields[first.pk], second=fields[second.pk])
    subjects = {s.field: s.signer_subject for s in signing.validate(pdf, pki.roots).signatures}
    assert "Marie Lambert" in subjects[signing.FIELD_DIRECTOR]
    assert "Jean Dupont" in subjects[signing.FIELD_PRESIDENT]

    output = pdfsig(pdf, tmp_path)
    assert output.count(PDFSIG_VALID) == 2, output
    assert "Signature Field Name: SigDirector" in output
    assert "Signature Field Name: SigPresident" in output
    assert "Total document signed" in output

    check = letter_services.verify_reply_document(dr.reply)
    assert check.ok, check.problems()
    call_command("verify_reply", dr.reference, stdout=io.StringIO())


def test_each_intermediate_revision_validates(flow, signers, pki):
    dr = flow.awaiting_signatures()
    letter_services.create_reply_document(dr.reply)
    signature = services.sign_reply(
        dr, actor=signers["president"], otp=fresh_otp(signers["president"])
    )
    pdf = letter_services.sign_reply_document(signature).read()
    report = signing.validate(pdf, pki.roots)
    assert report.ok, report.problems()
    assert report.unsigned_fields == [signing.FIELD_DIRECTOR]
    assert not report.complete


def _add_annotation(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    annotation = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Text"),
            pdf_name("/Rect"): generic.ArrayObject(
                [generic.FloatObject(v) for v in (10, 10, 40, 40)]
            ),
            pdf_name("/Contents"): generic.TextStringObject("ajouté après signature"),
            pdf_name("/F"): generic.NumberObject(4),
        }
    )
    annots = generic.ArrayObject(list(page.get("/Annots", [])))
    annots.append(writer.add_object(annotation))
    page["/Annots"] = annots
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _change_content_with_pypdf(pdf: bytes) -> bytes:
    writer = PdfWriter(io.BytesIO(pdf), incremental=True)
    page = writer.pages[0]
    extra = DecodedStreamObject()
    extra.set_data(b"q 1 0 0 RG 50 50 200 20 re S Q")
    contents = page.raw_get("/Contents")
    existing = (
        list(contents.get_object()) if isinstance(contents.get_object(), list) else [contents]
    )
    page[NameObject("/Contents")] = ArrayObject([*existing, writer._add_object(extra)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("edit", [_add_annotation, _change_content_with_pypdf])
def test_an_edit_after_the_second_signature_is_flagged(flow, signers, pki, edit):
    dr = flow.awaiting_signatures()
    document = sign_in_order(dr, signers["dg"], signers["president"])
    original = document.read()
    tampered = edit(original)
    assert tampered.startswith(original)  # an incremental update
    report = signing.validate(tampered, pki.roots)
    assert report.modified_after_last_signature
    assert not report.ok
    assert "le document a été modifié après la dernière signature" in report.problems()
    # The certification signature's DocMDP check fails too.
    first = report.signatures[0]
    assert first.certification
    assert first.docmdp_ok is False or not first.bottom_line

    # The stored letter replaced behind the application's back: the command fails.
    with open(document.file.path, "wb") as handle:
        handle.write(tampered)
    with pytest.raises(CommandError):
        call_command("verify_reply", dr.reference, stdout=io.StringIO(), stderr=io.StringIO())
    ReplyDocument.objects.filter(pk=document.pk).update(sha256=signing.sha256(tampered))
    with pytest.raises(CommandError):
        call_command("verify_reply", dr.reference, stdout=io.StringIO(), stderr=io.StringIO())


def test_removing_the_last_signature_is_noticed(flow, signers, pki):
    dr = flow.awaiting_signatures()
    pdf = sign_in_order(dr, signers["dg"], signers["president"]).read()
    truncated = revisions(pdf)[-2]
    report = signing.validate(truncated, pki.roots)
    assert report.ok
    assert report.unsigned_fields == [signing.FIELD_PRESIDENT]
    assert not report.complete


def test_untrusted_root_is_reported(flow, signers):
    from letters import certificates

    other = certificates.make_root_ca("Autre AC")
    dr = flow.awaiting_signatures()
    pdf = sign_in_order(dr, signers["dg"], signers["president"]).read()
    report = signing.validate(pdf, signing.load_trust_roots([other.certificate_pem]))
    assert not report.ok
    for s in report.signatures:
        assert s.intact
        assert s.valid
        assert not s.trusted


def test_rfc3161_timestamps(flow, signers, pki):
    tsa_cert = asn1_x509.Certificate.load(
        pki.tsa.certificate.public_bytes(serialization.Encoding.DER)
    )
    tsa_key = asn1_keys.PrivateKeyInfo.load(
        pki.tsa.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ca_cert = asn1_x509.Certificate.load(
        pki.ca.certificate.public_bytes(serialization.Encoding.DER)
    )
    stamper = DummyTimeStamper(tsa_cert, tsa_key, certs_to_embed=[ca_cert])  # type: ignore[arg-type]
    dr = flow.awaiting_signatures()
    letter_services.create_reply_document(dr.reply)
    for actor, capacity in ((signers["dg"], DG), (signers["president"], PRESIDENT)):
        signature = record_signature(dr, actor, capacity)
        letter_services.sign_reply_document(signature, timestamper=stamper)
    pdf = ReplyDocument.objects.get(reply=dr.reply).read()
    report = signing.validate(pdf, pki.roots)
    assert report.complete, report.problems()
    assert all(s.timestamp_valid for s in report.signatures)


def test_signing_rules(flow, signers):
    dr = flow.awaiting_signatures()
    unsigned = letter_services.create_reply_document(dr.reply).read()
    credential = SigningCredential.objects.get(user=signers["dg"])
    kwargs: dict[str, Any] = {
        "credential_p12": bytes(credential.pkcs12),
        "passphrase": signing_passphrase(),
    }
    with pytest.raises(signing.LetterSigningError):
        signing.sign(unsigned, field=signing.FIELD_DIRECTOR, certify=False, **kwargs)
    with pytest.raises(signing.LetterSigningError):
        signing.sign(unsigned, field="Other", certify=True, **kwargs)
    with pytest.raises(signing.LetterSigningError):
        signing.sign(
            unsigned,
            field=signing.FIELD_DIRECTOR,
            certify=True,
            credential_p12=bytes(credential.pkcs12),
            passphrase=b"wrong",
        )
    once = signing.sign(unsigned, field=signing.FIELD_DIRECTOR, certify=True, **kwargs)
    with pytest.raises(signing.LetterSigningError):
        signing.sign(once, field=signing.FIELD_PRESIDENT, certify=True, **kwargs)
    with pytest.raises(signing.LetterSigningError):
        signing.sign(once, field=signing.FIELD_DIRECTOR, certify=False, **kwargs)
    with pytest.raises(signing.LetterSigningError):
        signing.prepare_for_signature(once)


def test_prepare_needs_the_reserved_rectangles():
    from letters.rendering import render_html

    with pytest.raises(signing.LetterSigningError):
        signing.prepare_for_signature(render_html("<p>Pas de signature</p>"))


def test_the_fields_sit_on_the_reserved_rectangles(flow, signers):
    dr = flow.awaiting_signatures()
    boxes = signing.signature_boxes(render_letter(dr.reply))
    prepared = letter_services.create_reply_document(dr.reply).read()
    reader = PdfReader(io.BytesIO(prepared))
    last = len(reader.pages) - 1
    widgets = {
        str(a.get_object()["/T"]): [float(v) for v in a.get_object()["/Rect"]]
        for a in reader.pages[last].get("/Annots") or []
    }
    for name, (page, box) in boxes.items():
        assert page == last
        assert widgets[name] == pytest.approx(list(box), abs=0.01)
        width_mm = (box[2] - box[0]) / 72 * 25.4
        height_mm = (box[3] - box[1]) / 72 * 25.4
        assert width_mm == pytest.approx(62, abs=0.5)
        assert height_mm == pytest.approx(24, abs=0.5)
    # The Président's rectangle is right of the DG's, on the same line.
    director, president = boxes[signing.FIELD_DIRECTOR][1], boxes[signing.FIELD_PRESIDENT][1]
    assert president[0] > director[2]
    assert president[1] == pytest.approx(director[1])


def test_signing_without_credential_is_refused(flow, personas):
    dr = flow.awaiting_signatures()
    SigningCredential.objects.filter(user=personas["dg"]).delete()
    signature = record_signature(dr, personas["dg"], DG)
    with pytest.raises(letter_services.LetterUnavailable) as refused:
        letter_services.sign_reply_document(signature)
    assert refused.value.cause == "no_signing_credential"


def test_signing_is_idempotent_and_checks_the_stored_hash(flow, signers):
    dr = flow.awaiting_signatures()
    letter_services.create_reply_document(dr.reply)
    signature = record_signature(dr, signers["dg"], DG)
    first = letter_services.sign_reply_document(signature)
    again = letter_services.sign_reply_document(signature)
    assert again.sha256 == first.sha256
    assert again.revision == 2
    ReplyDocument.objects.filter(pk=first.pk).update(sha256="0" * 64)
    second = record_signature(dr, signers["president"], PRESIDENT)
    with pytest.raises(letter_services.LetterUnavailable) as refused:
        letter_services.sign_reply_document(second)
    assert refused.value.cause == "letter_hash_mismatch"


def test_verify_reply_command_reports(flow, signers):
    dr = flow.awaiting_signatures()
    sign_in_order(dr, signers["dg"], signers["president"])
    out = io.StringIO()
    call_command("verify_reply", dr.reference, stdout=out)
    text = out.getvalue()
    assert "SigDirector" in text
    assert "SigPresident" in text
    assert "modified after the last signature: no" in text
    with pytest.raises(CommandError):
        call_command("verify_reply", "SP-1999-9999", stdout=io.StringIO())


def test_verify_reply_fails_when_only_one_signature(flow, signers):
    dr = flow.awaiting_signatures()
    letter_services.create_reply_document(dr.reply)
    signature = services.sign_reply(dr, actor=signers["dg"], otp=fresh_otp(signers["dg"]))
    letter_services.sign_reply_document(signature)
    with pytest.raises(CommandError):
        call_command("verify_reply", dr.reference, stdout=io.StringIO(), stderr=io.StringIO())


def test_an_acting_signer_is_named_as_such(flow, signers, pki, acting_dg):
    from .conftest import issue_credential, pdf_text

    acting_dg.first_name, acting_dg.last_name = "Alex", "Remplaçant"
    acting_dg.save()
    issue_credential(pki, acting_dg)
    dr = flow.awaiting_signatures()
    document = sign_in_order(dr, acting_dg, signers["president"])
    signature = dr.reply.signatures.get(signer=acting_dg)
    assert signature.is_acting
    report = signing.validate(document.read(), pki.roots)
    assert report.complete, report.problems()
    director = next(s for s in report.signatures if s.field == signing.FIELD_DIRECTOR)
    assert "Alex Remplaçant" in director.signer_subject
    stamp = rendering.render_stamp(
        signer_name="Alex Remplaçant",
        capacity=signature.capacity,
        acting=True,
        signed_at=signature.signed_at,
        reference=dr.reference,
    )
    text = " ".join(pdf_text(stamp).split())
    assert "Alex Remplaçant" in text
    assert "Directeur général f.f." in text
    assert dr.reference in text


def test_an_unreachable_tsa_refuses_the_signature(flow, signers, settings):
    settings.HUISCLOS_TSA_URL = "http://127.0.0.1:9/tsa"  # discard port: refused at once
    dr = flow.awaiting_signatures()
    letter_services.create_reply_document(dr.reply)
    signature = record_signature(dr, signers["dg"], DG)
    with pytest.raises(letter_services.LetterUnavailable) as refused:
        letter_services.sign_reply_document(signature)
    assert refused.value.cause == "signing_failed"
    assert ReplyDocument.objects.get(reply=dr.reply).revision == 1
