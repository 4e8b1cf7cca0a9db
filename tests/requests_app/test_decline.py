"""Declining to sign, and the DG's paragraph in the letter (issue 14).

A signer who declines sends the request back to the DG's review: the letter
is superseded, a signature already on it no longer counts, and the next
decision produces a new letter that needs two fresh signatures. Before anyone
signs, the DG may add one paragraph to the letter, which is drawn again.
"""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader
from rest_framework.test import APIClient

from accounts.models import Role
from audit.models import AuditEvent
from letters import preview, rendering
from letters.models import ReplyDocument
from requests_app import access, services
from requests_app.models import Reply, SignatureDecline, State
from tests.conftest import _real_render_html, fresh_otp, opinion_kwargs, reread

pytestmark = pytest.mark.django_db

REMARKS = "CANARYREMARQUE la base légale ne couvre pas le montant"
PARAGRAPH = "CANARYPARAGRAPHE Pour le surplus, adressez-vous au juge d'instruction compétent."


def events_after(seq: int, action: str | None = None) -> list[AuditEvent]:
    events = AuditEvent.objects.filter(seq__gt=seq).order_by("seq")
    return list(events.filter(action=action) if action else events)


def last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def sign(dr, user):
    return services.sign_reply(reread(dr), actor=user, otp=fresh_otp(user))


# ---------------------------------------------------------------------------
# Declining to sign


def test_president_declines_a_letter_awaiting_signatures(flow, personas):
    dr = flow.awaiting_signatures()
    letter = dr.reply
    before = last_seq()

    decline = services.decline_to_sign(reread(dr), actor=personas["president"], remarks=REMARKS)

    dr = reread(dr)
    assert dr.state == State.AWAITING_REVIEW
    assert dr.current_reply() is None
    letter.refresh_from_db()
    assert letter.superseded_at is not None
    assert (decline.reply, decline.declined_by, decline.capacity) == (
        letter,
        personas["president"],
        Role.PRESIDENT,
    )
    assert decline.remarks == REMARKS
    [event] = events_after(before)
    assert event.action == "decline_to_sign"
    assert (event.from_state, event.to_state) == (State.AWAITING_SIGNATURES, State.AWAITING_REVIEW)
    assert event.details == {
        "reference": dr.reference,
        "reply_id": letter.pk,
        "decline_id": decline.pk,
        "capacity": Role.PRESIDENT,
        "acting": False,
        "signatures_voided": 0,
    }


def test_a_signature_already_given_no_longer_counts(flow, personas):
    dr = flow.partially_signed()  # the DG signed first
    first_letter = dr.reply
    dg_signature = first_letter.signatures.get()
    before = last_seq()

    services.decline_to_sign(reread(dr), actor=personas["president"], remarks=REMARKS)

    [event] = events_after(before)
    assert event.details["signatures_voided"] == 1
    # Kept in the history, on the superseded letter; no current letter has it.
    dg_signature.refresh_from_db()
    assert dg_signature.reply_id == first_letter.pk
    dr = reread(dr)
    assert dr.current_reply() is None
    assert not dr.has_two_signatures()


def test_the_next_approval_needs_two_fresh_signatures(flow, personas):
    dr = flow.partially_signed()
    first_letter = dr.reply
    services.decline_to_sign(reread(dr), actor=personas["president"], remarks=REMARKS)

    review = services.approve(reread(dr), actor=personas["dg"])

    dr = reread(dr)
    second_letter = dr.reply
    assert dr.state == State.AWAITING_SIGNATURES
    assert second_letter.pk != first_letter.pk
    assert second_letter.decided_by_review == review
    assert list(second_letter.signatures.all()) == []
    assert ReplyDocument.objects.get(reply=second_letter).revision == 1
    # The DG, who had signed the declined letter, signs again, and so does the Président.
    sign(dr, personas["dg"])
    assert reread(dr).state == State.PARTIALLY_SIGNED
    sign(dr, personas["president"])
    dr = reread(dr)
    assert dr.state == State.SIGNED
    assert dr.has_two_signatures()
    assert second_letter.signatures.count() == 2
    assert first_letter.signatures.count() == 1


def test_the_dg_may_decline_too(flow, personas):
    dr = flow.awaiting_signatures()

    decline = services.decline_to_sign(reread(dr), actor=personas["dg"], remarks=REMARKS)

    assert decline.capacity == Role.DIRECTOR_GENERAL
    assert reread(dr).state == State.AWAITING_REVIEW


@pytest.mark.parametrize(
    "follow_up",
    [
        lambda dr, dg: services.refuse_disclosure(dr, actor=dg, remarks="Refus motivé"),
        lambda dr, dg: services.return_for_revision(dr, actor=dg, remarks="À revoir"),
    ],
    ids=["refuse", "return"],
)
def test_the_dg_reviews_again_after_a_decline(flow, personas, follow_up):
    dr = flow.awaiting_signatures()
    services.decline_to_sign(reread(dr), actor=personas["president"], remarks=REMARKS)

    follow_up(reread(dr), personas["dg"])

    dr = reread(dr)
    assert dr.state in (State.AWAITING_SIGNATURES, State.AWAITING_OPINION)
    assert dr.reviews.count() == 2
    assert dr.replies.filter(superseded_at__isnull=True).count() == (
        1 if dr.state == State.AWAITING_SIGNATURES else 0
    )


def test_a_letter_can_be_declined_twice(flow, personas):
    dr = flow.awaiting_signatures()
    services.decline_to_sign(reread(dr), actor=personas["president"], remarks=REMARKS)
    services.approve(reread(dr), actor=personas["dg"])

    services.decline_to_sign(reread(dr), actor=personas["dg"], remarks="Encore une remarque")
    services.approve(reread(dr), actor=personas["dg"])

    dr = reread(dr)
    assert dr.replies.count() == 3
    assert dr.replies.filter(superseded_at__isnull=False).count() == 2
    assert SignatureDecline.objects.filter(reply__request=dr).count() == 2
    assert dr.state == State.AWAITING_SIGNATURES


def test_the_dg_as_referent_path_can_be_declined_and_reviewed_again(flow, personas, acting_dg):
    dr = flow.received()
    services.assign_referent(dr, actor=personas["president"], referent=acting_dg)
    opinion = services.submit_opinion(reread(dr), actor=acting_dg, **opinion_kwargs())
    first_letter = reread(dr).reply
    assert first_letter.decided_by_opinion == opinion
    # The referent never signs: the real DG and the Président do.
    sign(dr, personas["dg"])

    services.decline_to_sign(reread(dr), actor=personas["president"], remarks=REMARKS)
    assert reread(dr).state == State.AWAITING_REVIEW
    review = services.approve(reread(dr), actor=personas["dg"])

    dr = reread(dr)
    letter = dr.reply
    assert letter.decided_by_review == review
    assert review.opinion == opinion
    assert letter.signatures.count() == 0
    sign(dr, personas["dg"])
    sign(dr, personas["president"])
    assert reread(dr).state == State.SIGNED


def test_an_inadmissibility_letter_declined_is_drawn_up_again(flow, personas):
    dr = flow.inadmissible()
    first_letter = dr.reply

    services.decline_to_sign(reread(dr), actor=personas["president"], remarks=REMARKS)
    assert reread(dr).state == State.AWAITING_REVIEW
    services.confirm_inadmissibility(reread(dr), actor=personas["dg"])

    dr = reread(dr)
    assert dr.state == State.AWAITING_SIGNATURES
    assert dr.reply.pk != first_letter.pk
    sign(dr, personas["dg"])
    sign(dr, personas["president"])
    assert reread(dr).state == State.SIGNED


def test_remarks_are_required(flow, personas):
    dr = flow.awaiting_signatures()
    before = last_seq()

    with pytest.raises(services.ActionRefused) as refused:
        services.decline_to_sign(reread(dr), actor=personas["president"], remarks="  \n ")

    assert refused.value.http_status == 400
    assert reread(dr).state == State.AWAITING_SIGNATURES
    assert reread(dr).current_reply() is not None
    assert not SignatureDecline.objects.exists()
    assert events_after(before) == []


@pytest.mark.parametrize(
    "role", ["referent", "secretariat", "other_referent", "auditor", "outsider"]
)
def test_only_a_signer_may_decline(flow, personas, role):
    dr = flow.awaiting_signatures()
    before = last_seq()

    with pytest.raises(services.NotAllowed):
        services.decline_to_sign(reread(dr), actor=personas[role], remarks=REMARKS)

    assert reread(dr).state == State.AWAITING_SIGNATURES
    assert not SignatureDecline.objects.exists()
    [event] = events_after(before)
    assert (event.action, event.details["attempted"]) == ("refused", "decline_to_sign")


def test_a_signer_who_has_signed_may_not_decline(flow, personas):
    dr = flow.partially_signed()  # signed by the DG

    with pytest.raises(services.NotAllowed):
        services.decline_to_sign(reread(dr), actor=personas["dg"], remarks=REMARKS)

    assert reread(dr).state == State.PARTIALLY_SIGNED


def test_a_signed_letter_cannot_be_declined(flow, personas):
    dr = flow.signed()

    with pytest.raises(services.ActionRefused) as refused:
        services.decline_to_sign(reread(dr), actor=personas["president"], remarks=REMARKS)

    assert refused.value.cause == "illegal_transition"
    assert reread(dr).state == State.SIGNED


def test_the_trail_holds_no_free_text(flow, personas):
    dr = flow.awaiting_signatures()
    before = last_seq()
    services.set_letter_paragraph(reread(dr), actor=personas["dg"], paragraph=PARAGRAPH)
    services.decline_to_sign(reread(dr), actor=personas["president"], remarks=REMARKS)
    services.approve(reread(dr), actor=personas["dg"])

    dump = json.dumps(
        [
            [e.action, e.from_state, e.to_state, e.details]
            for e in AuditEvent.objects.filter(seq__gt=before)
        ],
        ensure_ascii=False,
    )

    assert "decline_to_sign" in dump
    assert "set_letter_paragraph" in dump
    assert "CANARYREMARQUE" not in dump
    assert "CANARYPARAGRAPHE" not in dump


def test_decline_through_the_pages(flow, personas, client):
    dr = flow.awaiting_signatures()
    client.force_login(personas["president"])
    url = reverse("requests_app:decline_to_sign", args=[dr.pk])

    empty = client.post(url, {"remarks": ""})
    done = client.post(url, {"remarks": REMARKS})

    assert empty.status_code == 400
    assert "Say why you decline to sign" in empty.content.decode() or (
        "Indiquez pourquoi" in empty.content.decode()
    )
    assert done.status_code == 302
    assert reread(dr).state == State.AWAITING_REVIEW


def test_decline_through_the_api(flow, personas):
    dr = flow.awaiting_signatures()
    api = APIClient()
    api.force_authenticate(personas["president"])
    url = reverse("api:request-decline", args=[dr.pk])

    missing = api.post(url, {}, format="json")
    blank = api.post(url, {"remarks": ""}, format="json")
    done = api.post(url, {"remarks": REMARKS}, format="json")

    assert missing.status_code == blank.status_code == 400
    assert missing["Content-Type"] == "application/json"
    assert done.status_code == 200
    assert done.json()["state"] == State.AWAITING_REVIEW
    again = api.post(url, {"remarks": REMARKS}, format="json")
    assert again.status_code == 403


# ---------------------------------------------------------------------------
# The DG's paragraph


def test_the_dg_adds_a_paragraph_before_any_signature(flow, personas):
    dr = flow.awaiting_signatures()
    letter = dr.reply
    document = ReplyDocument.objects.get(reply=letter)
    before = last_seq()

    services.set_letter_paragraph(
        reread(dr), actor=personas["dg"], paragraph=f"  {PARAGRAPH}\n\n(suite)  "
    )

    letter.refresh_from_db()
    assert letter.dg_paragraph == f"{PARAGRAPH} (suite)"
    redrawn = ReplyDocument.objects.get(reply=letter)
    assert redrawn.revision == document.revision + 1
    [event] = events_after(before)
    assert event.action == "set_letter_paragraph"
    assert event.details == {
        "reference": dr.reference,
        "reply_id": letter.pk,
        "paragraph_set": True,
        "pdf_sha256": redrawn.sha256,
        "pdf_revision": redrawn.revision,
    }
    assert list(letter.items.values_list("description", flat=True)) == [
        "CANARYITEM adresse actuelle",
        "Montant du RIS",
    ]


def test_the_dg_removes_the_paragraph(flow, personas):
    dr = flow.awaiting_signatures()
    services.set_letter_paragraph(reread(dr), actor=personas["dg"], paragraph=PARAGRAPH)
    before = last_seq()

    services.set_letter_paragraph(reread(dr), actor=personas["dg"], paragraph="   ")

    assert reread(dr).reply.dg_paragraph == ""
    [event] = events_after(before)
    assert event.details["paragraph_set"] is False


def test_the_paragraph_is_refused_after_one_signature(flow, personas):
    dr = flow.partially_signed()
    document = ReplyDocument.objects.get(reply=dr.reply)
    before = last_seq()

    with pytest.raises(services.ActionRefused) as refused:
        services.set_letter_paragraph(reread(dr), actor=personas["dg"], paragraph=PARAGRAPH)

    assert refused.value.http_status == 409
    assert reread(dr).reply.dg_paragraph == ""
    assert ReplyDocument.objects.get(pk=document.pk).sha256 == document.sha256
    assert [e.action for e in events_after(before)] == ["refused"]
    assert "set_letter_paragraph" not in access.available_actions(reread(dr), personas["dg"])


@pytest.mark.parametrize("role", ["president", "referent", "secretariat"])
def test_only_the_dg_adds_a_paragraph(flow, personas, role):
    dr = flow.awaiting_signatures()

    with pytest.raises(services.NotAllowed):
        services.set_letter_paragraph(reread(dr), actor=personas[role], paragraph=PARAGRAPH)

    assert reread(dr).reply.dg_paragraph == ""
    assert "set_letter_paragraph" not in access.available_actions(reread(dr), personas[role])


def test_the_paragraph_is_one_paragraph_of_limited_length(flow, personas):
    dr = flow.awaiting_signatures()

    with pytest.raises(services.ActionRefused) as refused:
        services.set_letter_paragraph(
            reread(dr), actor=personas["dg"], paragraph="x" * (services.LETTER_PARAGRAPH_MAX + 1)
        )

    assert refused.value.http_status == 400
    assert reread(dr).reply.dg_paragraph == ""


def test_the_paragraph_form_for_the_dg(flow, personas, client):
    dr = flow.awaiting_signatures()
    client.force_login(personas["dg"])
    url = reverse("requests_app:letter_paragraph", args=[dr.pk])

    page = client.get(url)
    too_long = client.post(url, {"paragraph": "x" * (services.LETTER_PARAGRAPH_MAX + 1)})
    done = client.post(url, {"paragraph": PARAGRAPH})

    assert page.status_code == 200
    assert too_long.status_code == 400
    assert done.status_code == 302
    assert reread(dr).reply.dg_paragraph == PARAGRAPH
    client.force_login(personas["president"])
    assert client.get(url).status_code == 403


def test_a_signer_who_read_an_older_letter_does_not_sign_the_new_one(flow, personas):
    dr = flow.awaiting_signatures()
    seen = services.letter_version(dr.reply)
    services.set_letter_paragraph(reread(dr), actor=personas["dg"], paragraph=PARAGRAPH)

    with pytest.raises(services.ActionRefused) as refused:
        services.sign_reply(
            reread(dr),
            actor=personas["president"],
            otp=fresh_otp(personas["president"]),
            letter_seen=seen,
        )

    assert refused.value.cause == "letter_changed"
    assert reread(dr).state == State.AWAITING_SIGNATURES
    assert reread(dr).reply.signatures.count() == 0
    services.sign_reply(
        reread(dr),
        actor=personas["president"],
        otp=fresh_otp(personas["president"]),
        letter_seen=services.letter_version(reread(dr).reply),
    )
    assert reread(dr).state == State.PARTIALLY_SIGNED


@pytest.mark.real_letters
def test_the_paragraph_is_printed_after_the_body_and_escaped(flow, personas):
    dr = flow.awaiting_signatures()
    typed = f'{PARAGRAPH} <img src="http://example.org/x.png"> <b>gras</b> & co'

    services.set_letter_paragraph(reread(dr), actor=personas["dg"], paragraph=typed)

    letter = reread(dr).reply
    html = rendering.letter_html(letter)
    assert "&lt;img src=&quot;http://example.org/x.png&quot;&gt;" in html
    assert '<img src="http://example.org' not in html
    assert html.index("CANARYPARAGRAPHE") < html.index('class="closing"')
    text = pdf_text(ReplyDocument.objects.get(reply=letter).read())
    assert "CANARYPARAGRAPHE" in text
    assert '<img src="http://example.org/x.png">' in text
    assert text.index("CANARYPARAGRAPHE") > text.index("Montant du RIS")
    # Signed twice, the letter still carries it.
    sign(dr, personas["dg"])
    sign(dr, personas["president"])
    signed = ReplyDocument.objects.get(reply=letter).read()
    assert "CANARYPARAGRAPHE" in pdf_text(signed)


# ---------------------------------------------------------------------------
# The letter's pages as images


def page_url(dr, number: int = 1) -> str:
    return reverse("requests_app:reply_page", args=[dr.pk, number])


def test_a_signer_sees_the_letters_pages(flow, personas, client):
    dr = flow.awaiting_signatures()
    client.force_login(personas["president"])
    before = last_seq()

    response = client.get(page_url(dr))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "no-store"
    image = Image.open(io.BytesIO(response.content))
    assert image.width == preview.PAGE_WIDTH_PX
    assert [(e.action, e.object_id) for e in events_after(before)] == [
        ("read_reply_page", str(dr.pk))
    ]


def test_a_page_the_letter_does_not_have_is_a_404(flow, personas, client):
    dr = flow.awaiting_signatures()
    client.force_login(personas["president"])
    pages = preview.page_count(ReplyDocument.objects.get(reply=dr.reply).read())

    assert client.get(page_url(dr, pages + 1)).status_code == 404
    assert client.get(page_url(dr, 0)).status_code == 404
    assert client.get(page_url(dr, 10**9)).status_code == 404


@pytest.mark.parametrize(
    ("role", "state", "expected"),
    [
        ("referent", "awaiting_signatures", 200),
        ("dg", "awaiting_signatures", 200),
        ("other_referent", "awaiting_signatures", 404),
        ("secretariat", "awaiting_signatures", 404),
        ("secretariat", "partially_signed", 404),
        ("secretariat", "signed", 200),
        ("auditor", "awaiting_signatures", 404),
        ("outsider", "awaiting_signatures", 404),
        ("president", "awaiting_review", 404),
    ],
)
def test_the_pages_follow_the_rule_of_the_reply_pdf(flow, personas, role, state, expected):
    dr = flow.in_state(state)
    client = Client()
    client.force_login(personas[role])
    before = last_seq()

    response = client.get(page_url(dr))

    assert response.status_code == expected
    assert response.status_code == (
        200 if access.may_download_reply(personas[role], dr) and dr.has_reply() else 404
    )
    if expected == 404:
        assert [e.action for e in events_after(before)] == ["refused"]


def test_a_declined_letter_is_no_longer_drawn(flow, personas, client):
    dr = flow.awaiting_signatures()
    services.decline_to_sign(reread(dr), actor=personas["president"], remarks=REMARKS)
    client.force_login(personas["dg"])

    assert client.get(page_url(dr)).status_code == 404


def test_preview_caps_pages_and_width():
    html = (
        '<!DOCTYPE html><html><head><link rel="stylesheet" href="huisclos:static/letter.css">'
        "</head><body>"
        + "".join(f'<p style="page-break-after: always">Page {n}</p>' for n in range(14))
        + "</body></html>"
    )
    pdf = _real_render_html(html, pdf_variant=None)

    assert preview.page_count(pdf) == preview.MAX_PAGES
    png = preview.page_png(pdf, preview.MAX_PAGES)
    assert Image.open(io.BytesIO(png)).width == preview.PAGE_WIDTH_PX
    with pytest.raises(IndexError):
        preview.page_png(pdf, preview.MAX_PAGES + 1)


def test_unreadable_bytes_are_no_preview():
    with pytest.raises(preview.PreviewUnavailable):
        preview.page_count(b"%PDF-1.7 nothing here")


# ---------------------------------------------------------------------------
# The pages


def test_the_sign_page_shows_what_the_letter_rests_on(flow, personas, client):
    dr = flow.awaiting_signatures()
    client.force_login(personas["president"])

    html = client.get(reverse("requests_app:sign", args=[dr.pk])).content.decode()

    assert page_url(dr, 1) in html
    assert "CANARYNOM" in html  # the person concerned
    assert "CANARYITEM adresse actuelle" in html
    assert "Nécessaire à l&#x27;enquête" in html  # the necessity, from the opinion
    assert reverse("requests_app:decline_to_sign", args=[dr.pk]) in html
    assert services.letter_version(dr.reply) in html


def test_the_history_keeps_the_declined_letter(flow, personas, client):
    dr = flow.partially_signed()
    services.decline_to_sign(reread(dr), actor=personas["president"], remarks=REMARKS)

    client.force_login(personas["dg"])
    for_dg = client.get(reverse("requests_app:detail", args=[dr.pk])).content.decode()
    client.force_login(personas["secretariat"])
    for_secretariat = client.get(reverse("requests_app:detail", args=[dr.pk])).content.decode()

    assert "CANARYREMARQUE" in for_dg
    assert "annulée : lettre refusée à la signature" in for_dg
    assert "CANARYREMARQUE" not in for_secretariat
    assert "Refusée à la signature" in for_secretariat


def test_an_acting_dg_declines_as_acting(flow, personas, acting_dg):
    dr = flow.awaiting_signatures()
    sign(dr, personas["president"])

    decline = services.decline_to_sign(reread(dr), actor=acting_dg, remarks=REMARKS)

    assert decline.capacity == Role.DIRECTOR_GENERAL
    event = AuditEvent.objects.filter(action="decline_to_sign").get()
    assert event.details["acting"] is True
    assert event.details["signatures_voided"] == 1
    assert Reply.objects.get(pk=decline.reply_id).superseded_at is not None


def test_the_page_image_shows_a_signature_already_given(flow, personas):
    """The second signer sees the first signature's stamp drawn on the page."""
    dr = flow.awaiting_signatures()
    unsigned = preview.page_png(ReplyDocument.objects.get(reply=dr.reply).read(), 1)
    sign(dr, personas["dg"])
    once = preview.page_png(ReplyDocument.objects.get(reply=reread(dr).reply).read(), 1)

    before = Image.open(io.BytesIO(unsigned)).convert("L")
    after = Image.open(io.BytesIO(once)).convert("L")
    changed = sum(1 for a, b in zip(before.getdata(), after.getdata(), strict=True) if a != b)
    # The stamp (name, capacity, date) fills part of a signature box.
    assert changed > 500
