"""The letters' content, metadata and PDF/A properties."""

from __future__ import annotations

import io
import re

import pytest
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import Role
from legal_basis.models import LegalBasis
from letters import citations, rendering
from letters import services as letter_services
from letters.composition import compose_reply_body
from letters.rendering import french_date, render_acknowledgement, render_letter
from requests_app import services
from requests_app.inputs import ItemData
from requests_app.models import InadmissibilityReason, ReplyKind, Signature
from tests.conftest import CANARY_FIRST, CANARY_NAME, CANARY_NISS, basis

from .conftest import (
    inflated,
    metadata_strings,
    normalised,
    pdf_text,
    revisions,
    sign_in_order,
)

pytestmark = pytest.mark.usefixtures("letterhead")

NOT_IN_ANY_LETTER = ["CANARYMOTIF", "CANARYINFO", CANARY_NISS]
PERSONAL = [CANARY_NAME, CANARY_FIRST, CANARY_NISS, "CANARYJUGE", "CANARYRUE", "JI/2026/123"]


def _text(pdf: bytes) -> str:
    return normalised(pdf_text(pdf))


def _flat(text: str) -> str:
    """Without any space: a long citation may be broken anywhere, even at a hyphen."""
    return "".join(text.split())


def _printed(expected: str, text: str) -> bool:
    return _flat(expected) in _flat(text)


def _assert_common(dr, text: str) -> None:
    assert f"Nos réf. {dr.reference}" in text
    assert "Vos réf. JI/2026/123" in text
    assert f"Objet : Votre demande du {french_date(dr.received_on)}" in text
    assert f"Namur, le {french_date(timezone.localdate(dr.reply.created_at))}" in text
    assert "Juge CANARYJUGE" in text
    assert "Tribunal de première instance" in text
    assert "Rue CANARYRUE 1, 5000 Namur" in text
    assert "Le Directeur général," in text
    assert "Le Président," in text
    for canary in NOT_IN_ANY_LETTER:
        assert canary not in text


def _assert_metadata_is_reference_only(pdf: bytes, reference: str) -> None:
    reader = PdfReader(io.BytesIO(pdf))
    info = reader.metadata
    assert info is not None
    assert info.title == reference
    assert info.get("/Keywords") == reference
    assert info.author is None
    assert info.subject is None
    meta = metadata_strings(pdf)
    for canary in PERSONAL:
        assert canary not in meta
    # dc:title is the reference and nothing else.
    assert re.search(r"<dc:title\b", meta)
    for title in re.findall(r"<rdf:li[^>]*>(.*?)</rdf:li>", meta):
        assert title == reference


def test_disclosure_letter_contains_the_decision(flow, personas):
    dr = flow.awaiting_signatures()
    pdf = render_letter(dr.reply)
    text = _text(pdf)
    _assert_common(dr, text)
    day = dr.reply.decided_on
    for item in dr.reply.items.all():
        assert item.description in text
        assert _printed(citations.letter_citation(item.legal_basis, day), text)
    for cited in dr.reply.legal_bases.all():
        if citations.letter_citation(cited, day):
            assert _printed(citations.letter_citation(cited, day), text)
    assert "strictement nécessaire" in text
    assert "à aucune autre fin" in text
    assert "pour tout autre usage" not in text
    assert f"{CANARY_FIRST} {CANARY_NAME}" in text  # the person is identified
    _assert_metadata_is_reference_only(pdf, dr.reference)


def test_refusal_letter_states_the_rule_in_force_and_the_refusal_paragraphs(flow, personas):
    dr = flow.in_review(proposal="refuse")
    services.approve(dr, actor=personas["dg"])
    assert dr.reply.kind == "refusal"
    text = _text(render_letter(dr.reply))
    _assert_common(dr, text)
    day = dr.reply.decided_on
    rule = _flat(citations.secrecy_rule(day))
    assert _flat(text).count(rule) >= 2  # in the body and in the footer
    assert "infraction pénale dans le chef de la personne qui y procède" in text
    assert "obligation légale" in text
    assert "aucune exception" in text
    assert "Dispositions examinées" in text or "Disposition examinée" in text
    for cited in dr.reply.legal_bases.all():
        version = cited.in_force_version_on(day)
        if version.letter_citation:
            assert _printed(version.letter_citation, text)
        if version.reply_paragraph_refused:
            assert _printed(version.reply_paragraph_refused, text)
    assert "Information communiquée".upper() not in text


def test_refusal_letter_uses_a_basis_refusal_paragraph(flow, personas):
    cited = (
        LegalBasis.objects.in_force_on(timezone.localdate())
        .exclude(reply_paragraph_refused="")
        .exclude(letter_citation="")
        .first()
    )
    if cited is None:
        pytest.skip("no basis with a refusal paragraph in the catalogue")
    dr = flow.in_review(proposal="refuse")
    services.approve(dr, actor=personas["dg"])
    reply = dr.reply
    reply.legal_bases.set([cited])
    reply.body = compose_reply_body(
        dr, ReplyKind.REFUSAL, [cited], [], decided_on=reply.decided_on
    )
    reply.save()
    text = _text(render_letter(reply))
    assert _printed(cited.reply_paragraph_refused, text)
    assert _printed(cited.letter_citation, text)


def test_inadmissibility_letter_says_what_is_missing(flow):
    dr = flow.inadmissible()
    assert dr.reply.kind == "inadmissibility"
    pdf = render_letter(dr.reply)
    text = _text(pdf)
    _assert_common(dr, text)
    assert str(InadmissibilityReason.NO_LEGAL_PROVISION.label) in text
    assert "Nous vous invitons à nous adresser une demande écrite" in text
    _assert_metadata_is_reference_only(pdf, dr.reference)


def test_acknowledgement(flow):
    dr = flow.received()
    pdf = render_acknowledgement(dr)
    text = _text(pdf)
    assert f"Nos réf. {dr.reference}" in text
    assert "Accusé de réception" in text
    assert f"reçue le {french_date(dr.received_on)}" in text
    assert "CANARYINFO" not in text
    _assert_metadata_is_reference_only(pdf, dr.reference)


def test_canary_in_a_dropped_item_never_reaches_the_letter(flow, signers, tmp_path):
    """T-PDF-4: the DG drops an opinion item; it is in no revision, no metadata."""
    dr = flow.in_review()
    kept = ItemData("Montant du RIS", "aid", "Demandé par le juge", basis("ji-search-seizure"))
    services.approve(dr, actor=signers["dg"], amended_items=[kept])
    assert [i.description for i in dr.reply.items.all()] == ["Montant du RIS"]
    document = sign_in_order(dr, signers["dg"], signers["president"])
    pdf = document.read()
    all_revisions = revisions(pdf)
    assert len(all_revisions) == 4  # rendered, fields added, two signatures
    for revision in all_revisions:
        text = _text(revision)
        assert "Montant du RIS" in text
        assert "CANARYITEM" not in text
        assert "CANARYMOTIF" not in text
    assert b"CANARYITEM" not in inflated(pdf)
    assert "CANARYITEM" not in metadata_strings(pdf)
    _assert_metadata_is_reference_only(pdf, dr.reference)


def test_signers_names_and_acting_in_a_preview(flow, personas, acting_dg):
    dr = flow.in_review()
    services.approve(dr, actor=personas["dg"])
    acting_dg.first_name, acting_dg.last_name = "Alex", "Remplaçant"
    acting_dg.save()
    Signature.objects.create(
        reply=dr.reply, signer=acting_dg, capacity=Role.DIRECTOR_GENERAL, is_acting=True
    )
    text = _text(render_letter(dr.reply))
    assert "Le Directeur général f.f.," in text
    assert "Alex Remplaçant" in text
    assert "Le Président," in text


def test_the_archival_letter_names_nobody_before_signing(flow, signers):
    dr = flow.awaiting_signatures()
    document = letter_services.create_reply_document(dr.reply)
    text = _text(document.read())
    assert "Marie Lambert" not in text
    assert "Jean Dupont" not in text


def _fonts(reader: PdfReader):
    seen = {}

    def visit(resources):
        resources = resources.get_object() if resources else None
        if not resources:
            return
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            seen[id(font)] = font
        for xobject in (resources.get("/XObject") or {}).values():
            visit(xobject.get_object().get("/Resources"))

    for page in reader.pages:
        visit(page.get("/Resources"))
        for annot in page.get("/Annots") or []:
            appearance = annot.get_object().get("/AP")
            if appearance:
                normal = appearance.get_object()["/N"].get_object()
                visit(normal.get("/Resources"))
    return list(seen.values())


def _is_embedded(font) -> bool:
    fonts = [font]
    if font.get("/Subtype") == "/Type0":
        fonts = [d.get_object() for d in font["/DescendantFonts"]]
    for f in fonts:
        descriptor = f.get("/FontDescriptor")
        if descriptor is None:
            return False
        descriptor = descriptor.get_object()
        if not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
            return False
    return True


def _assert_pdfa(pdf: bytes) -> None:
    assert pdf.startswith(b"%PDF-1.7")
    reader = PdfReader(io.BytesIO(pdf))
    assert "/Version" not in reader.root_object
    xmp = metadata_strings(pdf)
    assert re.search(r'pdfaid:part(="|>)2', xmp)
    assert re.search(r'pdfaid:conformance(="|>)B', xmp)
    assert "/OutputIntents" in reader.root_object
    fonts = _fonts(reader)
    assert fonts
    assert all(_is_embedded(font) for font in fonts), [f.get("/BaseFont") for f in fonts]
    # Producer agrees between the Info dictionary and the XMP.
    producer = reader.metadata.producer if reader.metadata else None
    xmp_producers = re.findall(r'pdf:Producer(?:="([^"]*)"|>([^<]*)<)', xmp)
    assert [a or b for a, b in xmp_producers] == [producer]


@pytest.mark.parametrize("kind", ["disclosure", "refusal", "inadmissibility"])
def test_letters_are_pdfa_with_embedded_fonts(flow, personas, kind):
    if kind == "inadmissibility":
        dr = flow.inadmissible()
    else:
        dr = flow.in_review(proposal="refuse" if kind == "refusal" else "disclose")
        services.approve(dr, actor=personas["dg"])
    _assert_pdfa(render_letter(dr.reply))


def test_signed_letter_stays_pdfa_with_embedded_fonts(flow, signers):
    dr = flow.awaiting_signatures()
    document = sign_in_order(dr, signers["president"], signers["dg"])
    pdf = document.read()
    _assert_pdfa(pdf)
    reader = PdfReader(io.BytesIO(pdf))
    widgets = [
        a.get_object() for a in reader.pages[-1].get("/Annots") or [] if a.get_object().get("/FT")
    ]
    assert {w["/T"] for w in widgets} == {"SigDirector", "SigPresident"}
    for widget in widgets:
        assert int(widget["/F"]) & 4  # printable, as PDF/A requires
        assert "/AP" in widget


def test_uploaded_logo_is_used(flow, personas, letterhead):
    from django.core.files.base import ContentFile
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(out, format="PNG")
    letterhead.logo.save("x", ContentFile(out.getvalue()), save=True)
    letterhead.refresh_from_db()
    assert letterhead.logo_content_type == "image/png"
    dr = flow.awaiting_signatures()
    html = rendering.letter_html(dr.reply)
    assert 'src="huisclos:letterhead-logo"' in html
    pdf = render_letter(dr.reply)
    reader = PdfReader(io.BytesIO(pdf))
    images = [img for page in reader.pages for img in page.images]
    assert images  # the PNG was embedded through the fetcher
