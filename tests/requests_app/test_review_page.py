"""The DG's review page (issue 14): everything the decision needs on one page,
four focused forms, and the two ways out of an inadmissibility found at
intake: confirm it (a new letter) or send the request to examination."""

from __future__ import annotations

import io
import re
from collections import Counter

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape
from PIL import Image

from audit.models import AuditEvent
from requests_app import services
from requests_app.inputs import ItemData
from requests_app.models import ReplyKind, Review, State
from tests.conftest import (
    CANARY_NAME,
    CANARY_NISS,
    answer_all,
    basis,
    fresh_otp,
    intake,
    reread,
)

pytestmark = pytest.mark.django_db

REVIEW = "requests_app:review"
REOPEN = "requests_app:reopen_examination"


def review_url(dr) -> str:
    return reverse(REVIEW, args=[dr.pk])


def reopen_url(dr) -> str:
    return reverse(REOPEN, args=[dr.pk])


def events(dr, action: str | None = None) -> list[AuditEvent]:
    found = AuditEvent.objects.filter(object_id=str(dr.pk)).order_by("seq")
    if action is not None:
        found = found.filter(action=action)
    return list(found)


def court_opinion(**overrides):
    """A disclosure to a court on the investigating judge's basis: a blocking
    flag the referent overrides with a reason."""
    bases = [basis("ji-search-seizure")]
    values = {
        "legal_bases": bases,
        "proposal": "disclose",
        "reasoning": "Motivation CANARYMOTIF",
        "items": [ItemData("CANARYITEM adresse", "address", "CANARYNECESSITE", bases[0])],
        "checklist": answer_all(bases),
        "override_reason": "CANARYDEROGATION",
    }
    values.update(overrides)
    return values


def returned_then_resubmitted(flow, personas):
    """Opinion 1 returned with remarks, opinion 2 (with an override) in review."""
    dr = flow.assigned(requester_kind="court")
    services.submit_opinion(dr, actor=personas["referent"], **court_opinion())
    services.return_for_revision(reread(dr), actor=personas["dg"], remarks="CANARYRETOUR")
    services.submit_opinion(reread(dr), actor=personas["referent"], **court_opinion())
    return reread(dr)


def inadmissible_declined(flow, personas):
    """An inadmissibility letter the Président declined: back at the DG, no opinion."""
    dr = flow.inadmissible()
    services.decline_to_sign(dr, actor=personas["president"], remarks="CANARYREFUSSIGNATURE")
    return reread(dr)


# ---------------------------------------------------------------------------
# What the page shows, and to whom


def test_review_page_shows_everything_the_decision_needs(client, flow, personas):
    dr = returned_then_resubmitted(flow, personas)
    client.force_login(personas["dg"])

    response = client.get(review_url(dr))

    body = response.content.decode()
    assert response.status_code == 200
    # The register facts and the person.
    assert dr.reference in body
    assert "Juge CANARYJUGE" in body
    assert CANARY_NAME in body
    assert CANARY_NISS in body
    # The scan, drawn in the page by pdf.js, and downloadable.
    scan = reverse("requests_app:scan", args=[dr.pk])
    assert f'data-src="{scan}"' in body
    assert "vendor/pdfjs/pdf.min.mjs" in body
    assert f'href="{scan}"' in body
    # The items with category, necessity and basis.
    assert "CANARYITEM adresse" in body
    assert "Adresse" in body
    assert "CANARYNECESSITE" in body
    assert escape(basis("ji-search-seizure").title_fr) in body
    # Intake and opinion flags, the checklist answers, the override.
    assert "Bloquant" in body
    assert "Conditions vérifiées par le référent" in body
    assert escape(basis("ji-search-seizure").checklist[0]["text"]) in body
    assert "CANARYDEROGATION" in body
    # The history: the first opinion, superseded, and its return with remarks.
    assert "Avis n° 1" in body
    assert "Renvoyé au référent" in body
    assert "CANARYRETOUR" in body


def test_review_page_has_four_forms_each_with_its_own_decision_and_unique_ids(
    client, flow, personas
):
    dr = flow.in_review()
    client.force_login(personas["dg"])

    body = client.get(review_url(dr)).content.decode()

    forms = re.findall(r'<details class="decision-form".*?</details>', body, re.S)
    decisions = [re.findall(r'name="decision" value="(\w+)"', f) for f in forms]
    assert decisions == [["approve"], ["amend"], ["refuse"], ["return"]]
    # The amended items belong to the amend form only.
    assert [("items-0-description" in f) for f in forms] == [False, True, False, False]
    ids = Counter(re.findall(r'\sid="([^"]+)"', body))
    assert [i for i, n in ids.items() if n > 1] == []


def image_scan(format_name: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 400), "white").save(out, format_name)
    return out.getvalue()


@pytest.mark.parametrize(
    ("format_name", "content_type", "shown"),
    [("PNG", "image/png", True), ("JPEG", "image/jpeg", True), ("TIFF", "image/tiff", False)],
)
def test_an_image_scan_is_shown_as_an_image_but_a_tiff_is_offered_for_download(
    client, flow, personas, format_name, content_type, shown
):
    scan = SimpleUploadedFile("lettre", image_scan(format_name), content_type=content_type)
    dr = services.register_request(
        intake(), actor=personas["secretariat"], scan=scan, scan_content_type=content_type
    )
    services.assign_referent(dr, actor=personas["president"], referent=personas["referent"])
    services.submit_opinion(reread(dr), actor=personas["referent"], **court_opinion())
    client.force_login(personas["dg"])

    body = client.get(review_url(dr)).content.decode()

    url = reverse("requests_app:scan", args=[dr.pk])
    assert (f'<img class="scan-page" src="{url}"' in body) is shown
    assert ("Les navigateurs n'affichent pas ce type de fichier (TIFF)" in body) is not shown
    assert "data-scan-viewer" not in body
    assert f'href="{url}"' in body


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("president", 403),
        ("referent", 403),
        ("secretariat", 404),
        ("other_referent", 404),
        ("auditor", 404),
        ("outsider", 404),
    ],
)
def test_review_page_is_the_dgs_only(client, flow, personas, role, status):
    dr = flow.in_review()
    client.force_login(personas[role])

    page = client.get(review_url(dr))
    post = client.post(review_url(dr), {"decision": "return", "remarks": "x"})

    assert page.status_code == status
    assert post.status_code == status
    assert CANARY_NAME not in page.content.decode()
    assert reread(dr).state == State.AWAITING_REVIEW


def test_review_page_is_closed_once_the_decision_is_taken(client, flow, personas):
    dr = flow.awaiting_signatures()
    client.force_login(personas["dg"])

    assert client.get(review_url(dr)).status_code == 403


# ---------------------------------------------------------------------------
# The four forms


def test_approve_uses_its_own_fields_only(client, flow, personas):
    dr = flow.in_review()
    client.force_login(personas["dg"])

    response = client.post(
        review_url(dr),
        {
            "decision": "approve",
            "remarks": "Conforme.",
            # Fields of the amend form, left in the post: ignored.
            "items-TOTAL_FORMS": "2",
            "items-INITIAL_FORMS": "2",
            "items-0-description": "Autre chose",
            "items-0-data_category": "health",
        },
    )

    assert response.status_code == 302, response.content
    fresh = reread(dr)
    assert fresh.state == State.AWAITING_SIGNATURES
    review = fresh.reviews.get()
    assert (review.outcome, review.remarks) == (Review.Outcome.APPROVED, "Conforme.")
    assert [i.description for i in fresh.reply.items.all()] == [
        "CANARYITEM adresse actuelle",
        "Montant du RIS",
    ]


def test_amend_keeps_only_the_ticked_items_as_corrected(client, flow, personas):
    dr = flow.in_review()
    ji = basis("ji-search-seizure")
    client.force_login(personas["dg"])

    response = client.post(
        review_url(dr),
        {
            "decision": "amend",
            "remarks": "Le montant n'est pas nécessaire.",
            "items-TOTAL_FORMS": "2",
            "items-INITIAL_FORMS": "2",
            "items-0-keep": "on",
            "items-0-description": "Adresse actuelle seulement",
            "items-0-data_category": "address",
            "items-0-basis": str(ji.pk),
            "items-1-description": "Montant du RIS",
            "items-1-data_category": "aid",
            "items-1-basis": str(ji.pk),
        },
    )

    assert response.status_code == 302, response.content
    fresh = reread(dr)
    assert fresh.reviews.get().outcome == Review.Outcome.AMENDED
    assert [i.description for i in fresh.reply.items.all()] == ["Adresse actuelle seulement"]


def test_refuse_records_the_reasons_and_ignores_the_other_forms_fields(client, flow, personas):
    dr = flow.in_review()
    client.force_login(personas["dg"])

    response = client.post(
        review_url(dr),
        {
            "decision": "refuse",
            "remarks": "L'ordonnance ne vise pas cette personne.",
            "override_reason": "Ignoré",
            "legal_analysis": "Ignorée",
        },
    )

    assert response.status_code == 302, response.content
    fresh = reread(dr)
    review = fresh.reviews.get()
    assert review.outcome == Review.Outcome.REFUSED
    assert review.remarks == "L'ordonnance ne vise pas cette personne."
    assert (review.override_reason, review.legal_analysis) == ("", "")
    assert fresh.reply.kind == ReplyKind.REFUSAL


def test_return_sends_the_opinion_back_with_the_remarks(client, flow, personas):
    dr = flow.in_review()
    client.force_login(personas["dg"])

    response = client.post(
        review_url(dr), {"decision": "return", "remarks": "Précisez la nécessité."}
    )

    assert response.status_code == 302, response.content
    fresh = reread(dr)
    assert fresh.state == State.AWAITING_OPINION
    assert fresh.reviews.get().remarks == "Précisez la nécessité."
    assert fresh.current_reply() is None


@pytest.mark.parametrize("decision", ["refuse", "return"])
def test_refuse_and_return_need_remarks_and_change_nothing_without(
    client, flow, personas, decision
):
    dr = flow.in_review()
    client.force_login(personas["dg"])
    before = len(events(dr))

    response = client.post(review_url(dr), {"decision": decision, "remarks": "   "})

    body = response.content.decode()
    assert response.status_code == 400
    assert "Ces remarques sont obligatoires pour ce choix." in body
    assert "La décision n'a pas été enregistrée" in body
    # The form with the error is the one open.
    assert re.search(rf'id="decision-{decision}" open>', body)
    fresh = reread(dr)
    assert fresh.state == State.AWAITING_REVIEW
    assert not fresh.reviews.exists()
    assert len(events(dr)) == before


def test_an_unknown_decision_is_refused_in_french(client, flow, personas):
    dr = flow.in_review()
    client.force_login(personas["dg"])

    response = client.post(review_url(dr), {"decision": "publish", "remarks": "x"})

    assert response.status_code == 400
    assert "Choisissez une des décisions ci-dessous" in response.content.decode()
    assert not reread(dr).reviews.exists()


def test_approving_despite_a_blocking_flag_needs_the_dgs_override(client, flow, personas):
    dr = flow.assigned(requester_kind="court")
    services.submit_opinion(dr, actor=personas["referent"], **court_opinion())
    client.force_login(personas["dg"])

    page = client.get(review_url(dr)).content.decode()
    refused = client.post(review_url(dr), {"decision": "approve"})
    accepted = client.post(
        review_url(dr), {"decision": "approve", "override_reason": "Le tribunal est compétent."}
    )

    # Offered because a blocking flag stands against the disclosure.
    assert 'id="id_approve_override_reason"' in page
    assert refused.status_code == 400
    assert "dérogation motivée" in refused.content.decode()
    assert accepted.status_code == 302, accepted.content
    assert reread(dr).reviews.get().override_reason == "Le tribunal est compétent."


def test_approve_offers_no_override_when_nothing_blocks(client, flow, personas):
    dr = flow.in_review()
    client.force_login(personas["dg"])

    page = client.get(review_url(dr)).content.decode()

    assert 'id="id_approve_override_reason"' not in page
    # Amending may change the flags: the amend form offers it.
    assert 'id="id_amend_override_reason"' in page


def test_a_refusal_proposal_offers_no_amendment(client, flow, personas):
    dr = flow.in_review(proposal="refuse")
    client.force_login(personas["dg"])

    page = client.get(review_url(dr)).content.decode()
    amended = client.post(review_url(dr), {"decision": "amend", "items-TOTAL_FORMS": "0"})

    assert 'id="decision-amend"' not in page
    assert "l'avis propose de refuser la communication" in page
    assert amended.status_code == 400
    assert not reread(dr).reviews.exists()


# ---------------------------------------------------------------------------
# After a declined letter: the signers' remarks on the page


def test_declined_letter_and_its_void_signature_are_shown_to_the_dg(client, flow, personas):
    dr = flow.partially_signed()
    services.decline_to_sign(dr, actor=personas["president"], remarks="CANARYDECLIN")
    client.force_login(personas["dg"])

    body = client.get(review_url(reread(dr))).content.decode()

    assert "La lettre a été refusée à la signature" in body
    assert "CANARYDECLIN" in body
    assert "cette signature ne compte plus" in body
    assert "Contrôle de légalité : Approuvé" in body


def test_after_a_decline_the_dg_approves_again_and_a_new_letter_goes_to_signature(
    client, flow, personas
):
    dr = flow.partially_signed()
    services.decline_to_sign(dr, actor=personas["president"], remarks="Revoir")
    client.force_login(personas["dg"])

    response = client.post(review_url(dr), {"decision": "approve"})

    assert response.status_code == 302, response.content
    fresh = reread(dr)
    assert fresh.state == State.AWAITING_SIGNATURES
    assert fresh.reply.signatures.count() == 0
    assert fresh.replies.count() == 2


# ---------------------------------------------------------------------------
# An inadmissibility letter declined: confirm it or send to examination


def test_declined_inadmissibility_shows_the_reasons_and_two_ways_out(client, flow, personas):
    dr = inadmissible_declined(flow, personas)
    client.force_login(personas["dg"])

    response = client.get(review_url(dr))

    body = response.content.decode()
    assert response.status_code == 200
    assert "La demande ne cite aucune disposition légale" in body
    assert "no_legal_provision" not in body
    assert "CANARYREFUSSIGNATURE" in body
    assert 'name="decision" value="confirm_inadmissibility"' in body
    assert f'href="{reopen_url(dr)}"' in body
    assert 'value="approve"' not in body


def test_confirming_the_inadmissibility_through_the_page(client, flow, personas):
    dr = inadmissible_declined(flow, personas)
    client.force_login(personas["dg"])

    wrong = client.post(review_url(dr), {"decision": "approve"})
    response = client.post(review_url(dr), {"decision": "confirm_inadmissibility"})

    assert wrong.status_code == 400
    assert "Choisissez une des décisions ci-dessous." in wrong.content.decode()
    assert response.status_code == 302, response.content
    fresh = reread(dr)
    assert fresh.state == State.AWAITING_SIGNATURES
    assert fresh.reply.kind == ReplyKind.INADMISSIBILITY


def test_confirm_inadmissibility_drafts_a_new_letter_and_audits_codes_only(flow, personas):
    dr = inadmissible_declined(flow, personas)
    declined_letter = dr.replies.get()

    reply = services.confirm_inadmissibility(dr, actor=personas["dg"])

    fresh = reread(dr)
    assert fresh.state == State.AWAITING_SIGNATURES
    assert fresh.current_reply() == reply
    assert reply.kind == ReplyKind.INADMISSIBILITY
    assert reply.pk != declined_letter.pk
    assert fresh.replies.filter(superseded_at__isnull=False).get() == declined_letter
    event = events(dr, "confirm_inadmissibility")[-1]
    assert (event.from_state, event.to_state) == (State.AWAITING_REVIEW, State.AWAITING_SIGNATURES)
    assert event.details == {
        "reference": dr.reference,
        "reason_codes": ["no_legal_provision"],
        "reply_id": reply.pk,
    }


@pytest.mark.parametrize("role", ["president", "referent", "secretariat"])
def test_only_the_dg_confirms_an_inadmissibility(flow, personas, role):
    dr = inadmissible_declined(flow, personas)

    with pytest.raises(services.NotAllowed):
        services.confirm_inadmissibility(dr, actor=personas[role])

    assert reread(dr).state == State.AWAITING_REVIEW
    assert events(dr, "refused")[-1].details["attempted"] == "confirm_inadmissibility"


def test_confirm_inadmissibility_is_refused_outside_its_state(flow, personas):
    awaiting = flow.inadmissible()
    in_review = flow.in_review()

    for dr in (awaiting, in_review):
        with pytest.raises(services.ActionRefused) as refusal:
            services.confirm_inadmissibility(dr, actor=personas["dg"])
        assert refusal.value.cause == "illegal_transition"
        assert not reread(dr).replies.filter(superseded_at__isnull=False).exists()


def test_reopen_examination_supersedes_the_letter_and_voids_its_signature(flow, personas):
    dr = flow.inadmissible()
    services.sign_reply(dr, actor=personas["dg"], otp=fresh_otp(personas["dg"]))
    dr = reread(dr)
    letter = dr.reply
    assert dr.state == State.PARTIALLY_SIGNED

    services.reopen_examination(dr, actor=personas["dg"])

    fresh = reread(dr)
    assert fresh.state == State.AWAITING_ASSIGNMENT
    assert fresh.inadmissibility_reasons == []
    assert fresh.current_reply() is None
    letter.refresh_from_db()
    assert letter.superseded_at is not None
    assert letter.signatures.count() == 1  # kept in the history, counts no more
    assert fresh.due_on == dr.due_on
    event = events(dr, "reopen_examination")[-1]
    assert (event.from_state, event.to_state) == (
        State.PARTIALLY_SIGNED,
        State.AWAITING_ASSIGNMENT,
    )
    assert event.details == {
        "reference": dr.reference,
        "previous_reason_codes": ["no_legal_provision"],
        "superseded_reply_id": letter.pk,
    }


def test_reopen_examination_after_a_declined_letter(flow, personas):
    dr = inadmissible_declined(flow, personas)

    services.reopen_examination(dr, actor=personas["dg"])

    fresh = reread(dr)
    assert fresh.state == State.AWAITING_ASSIGNMENT
    event = events(dr, "reopen_examination")[-1]
    # The declined letter was already superseded when it was declined.
    assert event.details["superseded_reply_id"] is None


@pytest.mark.parametrize("role", ["president", "secretariat", "referent"])
def test_only_the_dg_reopens_the_examination(flow, personas, role):
    dr = flow.inadmissible()

    with pytest.raises(services.NotAllowed):
        services.reopen_examination(dr, actor=personas[role])

    fresh = reread(dr)
    assert fresh.state == State.AWAITING_SIGNATURES
    assert fresh.current_reply() is not None
    assert events(dr, "refused")[-1].details == {
        "attempted": "reopen_examination",
        "cause": "permission_denied",
    }


def test_an_admissible_request_cannot_be_reopened(flow, personas):
    for dr in (flow.awaiting_signatures(), flow.in_review(), flow.received()):
        with pytest.raises(services.ActionRefused) as refusal:
            services.reopen_examination(dr, actor=personas["dg"])

        assert refusal.value.cause == "illegal_transition"
        assert reread(dr).state == dr.state


def test_the_request_page_offers_the_reopening_to_the_dg_only(client, flow, personas):
    dr = flow.inadmissible()

    pages = {}
    for role in ("dg", "president", "secretariat"):
        client.force_login(personas[role])
        pages[role] = client.get(dr.get_absolute_url()).content.decode()

    assert f'href="{reopen_url(dr)}"' in pages["dg"]
    assert "Renvoyer à l'examen" in pages["dg"]
    assert f'href="{reopen_url(dr)}"' not in pages["president"]
    assert f'href="{reopen_url(dr)}"' not in pages["secretariat"]


def test_reopening_asks_for_confirmation_and_says_what_happens(client, flow, personas):
    dr = flow.inadmissible()
    services.sign_reply(dr, actor=personas["dg"], otp=fresh_otp(personas["dg"]))
    client.force_login(personas["dg"])

    page = client.get(reopen_url(dr))

    body = page.content.decode()
    assert page.status_code == 200
    assert "Ce qui se passe si vous confirmez" in body
    assert "la signature déjà apposée ne compte plus" in body
    assert "La demande ne cite aucune disposition légale" in body
    assert "Confirmer : renvoyer à l'examen" in body
    assert reread(dr).state == State.PARTIALLY_SIGNED

    response = client.post(reopen_url(dr))

    assert response.status_code == 302
    assert response["Location"] == dr.get_absolute_url()
    assert reread(dr).state == State.AWAITING_ASSIGNMENT
    followed = client.get(dr.get_absolute_url()).content.decode()
    assert "renvoyée à l&#x27;examen" in followed


@pytest.mark.parametrize(("role", "status"), [("president", 403), ("secretariat", 404)])
def test_the_confirmation_page_is_the_dgs_only(client, flow, personas, role, status):
    dr = flow.inadmissible()
    client.force_login(personas[role])

    assert client.get(reopen_url(dr)).status_code == status
    assert client.post(reopen_url(dr)).status_code == status
    assert reread(dr).state == State.AWAITING_SIGNATURES


def test_the_confirmation_page_is_hidden_from_others_and_their_attempt_recorded(
    client, flow, personas
):
    dr = flow.inadmissible()
    client.force_login(personas["other_referent"])

    response = client.post(reopen_url(dr))

    assert response.status_code == 404
    assert reread(dr).state == State.AWAITING_SIGNATURES
    refused = events(dr, "refused")[-1]
    assert refused.actor_id == personas["other_referent"].pk
    assert refused.details == {
        "attempted": "read_reopen_examination",
        "cause": "not_found_or_denied",
    }


def test_the_confirmation_page_is_closed_for_an_admissible_request(client, flow, personas):
    dr = flow.awaiting_signatures()
    client.force_login(personas["dg"])

    assert client.get(reopen_url(dr)).status_code == 403
    assert client.post(reopen_url(dr)).status_code == 403
    assert reread(dr).state == State.AWAITING_SIGNATURES


def test_after_reopening_the_normal_procedure_runs_to_the_signed_reply(client, flow, personas):
    dr = inadmissible_declined(flow, personas)
    client.force_login(personas["dg"])
    assert client.post(reopen_url(dr)).status_code == 302
    ji = basis("ji-search-seizure")

    services.assign_referent(
        reread(dr), actor=personas["president"], referent=personas["referent"]
    )
    services.submit_opinion(
        reread(dr),
        actor=personas["referent"],
        legal_bases=[ji],
        proposal="disclose",
        reasoning="La disposition citée était lisible sur le scan.",
        items=[ItemData("Adresse", "address", "Visée par l'ordonnance", ji)],
        checklist=answer_all([ji]),
    )
    page = client.get(review_url(dr)).content.decode()
    approved = client.post(review_url(dr), {"decision": "approve"})
    services.sign_reply(reread(dr), actor=personas["dg"], otp=fresh_otp(personas["dg"]))
    services.sign_reply(
        reread(dr), actor=personas["president"], otp=fresh_otp(personas["president"])
    )

    # The history on the review page keeps the withdrawn inadmissibility letter.
    assert "Lettre retirée : Demande irrecevable en l&#x27;état" in page
    assert "CANARYREFUSSIGNATURE" in page
    # Declined before this opinion was written: history, not the news of the page.
    assert "La lettre a été refusée à la signature" not in page
    assert approved.status_code == 302, approved.content
    fresh = reread(dr)
    assert fresh.state == State.SIGNED
    assert fresh.reply.kind == ReplyKind.DISCLOSURE
    assert fresh.reply.signatures.count() == 2
    assert [r.kind for r in fresh.replies.order_by("pk")] == [
        ReplyKind.INADMISSIBILITY,
        ReplyKind.DISCLOSURE,
    ]
