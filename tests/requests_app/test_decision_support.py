"""Checklists, blocking flags and overrides where decisions are taken."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEvent
from requests_app import services
from requests_app.inputs import ChecklistData, ItemData
from requests_app.models import State
from tests.conftest import answer_all, basis, checklist_post, fresh_otp, reread


def court_opinion(**overrides):
    """A disclosure to a court on the investigating judge's basis: the basis
    does not concern this requester, a blocking flag that a reason can override."""
    bases = [basis("ji-search-seizure")]
    values = {
        "legal_bases": bases,
        "proposal": "disclose",
        "reasoning": "Motivation",
        "items": [ItemData("Adresse", "address", "Demandée par le tribunal", bases[0])],
        "checklist": answer_all(bases),
    }
    values.update(overrides)
    return values


def test_unanswered_condition_is_refused_with_a_clear_message(flow, personas):
    dr = flow.assigned()
    bases = [basis("ji-search-seizure")]
    incomplete = answer_all(bases)[:-1]

    with pytest.raises(services.ActionRefused, match="Répondez à chaque condition") as refusal:
        services.submit_opinion(
            dr,
            actor=personas["referent"],
            legal_bases=bases,
            proposal="refuse",
            reasoning="x",
            items=[],
            checklist=incomplete,
        )

    assert refusal.value.http_status == 400
    assert reread(dr).state == State.AWAITING_OPINION
    assert not reread(dr).opinions.exists()


def test_unmet_condition_needs_a_note(flow, personas):
    dr = flow.assigned()
    bases = [basis("ji-search-seizure")]
    answers = answer_all(bases)
    answers[0] = ChecklistData(bases[0], 0, "not_met", "")

    with pytest.raises(services.ActionRefused, match="une note"):
        services.submit_opinion(
            dr,
            actor=personas["referent"],
            legal_bases=bases,
            proposal="refuse",
            reasoning="x",
            items=[],
            checklist=answers,
        )


def test_disclosure_despite_a_blocking_flag_needs_an_override(flow, personas):
    dr = flow.assigned(requester_kind="court")

    with pytest.raises(services.ActionRefused, match="dérogation motivée"):
        services.submit_opinion(dr, actor=personas["referent"], **court_opinion())

    assert reread(dr).state == State.AWAITING_OPINION


def test_an_item_on_a_basis_that_cannot_ground_it_is_forbidden_whatever_the_reason(
    flow, personas, client
):
    dr = flow.assigned(requester_kind="police")
    police = basis("police-request")
    values = court_opinion(
        legal_bases=[police],
        items=[ItemData("Adresse", "address", "Demandée par la police", police)],
        checklist=answer_all([police]),
        override_reason="Motif",
    )

    with pytest.raises(services.ActionRefused) as refusal:
        services.submit_opinion(dr, actor=personas["referent"], **values)

    assert refusal.value.cause == "disclosure_forbidden"
    assert not reread(dr).opinions.exists()
    # The page says so too, and keeps what was written.
    client.force_login(personas["referent"])
    response = client.post(
        reverse("requests_app:opinion", args=[dr.pk]),
        {
            "legal_bases": [police.pk],
            "proposal": "disclose",
            "reasoning": "Motivation CANARYGARDEE",
            "override_reason": "Motif",
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "0",
            "items-0-description": "Adresse",
            "items-0-data_category": "address",
            "items-0-necessity": "x",
            "items-0-basis": str(police.pk),
            **checklist_post([police]),
        },
    )
    assert response.status_code == 400
    assert "Motivation CANARYGARDEE" in response.content.decode()
    assert not reread(dr).opinions.exists()


def test_disclosure_despite_an_unmet_condition_needs_an_override(flow, personas):
    dr = flow.assigned()
    bases = [basis("ji-search-seizure")]
    answers = answer_all(bases)
    answers[0] = ChecklistData(bases[0], 0, "not_met", "Pas d'ordonnance jointe")

    with pytest.raises(services.ActionRefused, match="dérogation motivée"):
        services.submit_opinion(
            dr,
            actor=personas["referent"],
            legal_bases=bases,
            proposal="disclose",
            reasoning="x",
            items=[ItemData("Adresse", "address", "x", bases[0])],
            checklist=answers,
        )


def test_override_with_a_reason_passes_is_audited_and_shown_to_signers(flow, personas, client):
    dr = flow.assigned(requester_kind="court")
    reason = "Ordonnance du juge d'instruction reçue par fax, original suit."

    services.submit_opinion(
        dr, actor=personas["referent"], **court_opinion(override_reason=reason)
    )
    with pytest.raises(services.ActionRefused, match="dérogation motivée"):
        services.approve(reread(dr), actor=personas["dg"])
    services.approve(reread(dr), actor=personas["dg"], override_reason="Je confirme.")
    services.sign_reply(reread(dr), actor=personas["dg"], otp=fresh_otp(personas["dg"]))

    opinion_event = AuditEvent.objects.get(action="submit_opinion", object_id=str(dr.pk))
    assert opinion_event.details["override"] is True
    assert "basis_not_for_requester" in opinion_event.details["overridden"]
    assert (
        opinion_event.details["override_reason_sha256"]
        == hashlib.sha256(reason.encode()).hexdigest()
    )
    assert reason not in str(opinion_event.details)
    approve_event = AuditEvent.objects.get(action="approve", object_id=str(dr.pk))
    assert approve_event.details["override"] is True
    client.force_login(personas["president"])
    page = client.get(reverse("requests_app:sign", args=[dr.pk])).content.decode()
    assert "Dérogation motivée du référent" in page
    assert "Ordonnance du juge d&#x27;instruction reçue par fax" in page
    assert "Je confirme." in page


def test_refusal_needs_no_override_despite_blocking_flags(flow, personas):
    dr = flow.assigned(requester_kind="court")

    services.submit_opinion(
        dr, actor=personas["referent"], **court_opinion(proposal="refuse", items=[])
    )

    assert reread(dr).state == State.AWAITING_REVIEW
    assert reread(dr).opinions.get().override_reason == ""


def test_flags_appear_on_intake_opinion_and_review_pages_and_in_the_api(flow, personas, client):
    inadmissible = flow.received(cited_provision="")
    court = flow.assigned(requester_kind="court")
    client.force_login(personas["president"])
    intake_page = client.get(reverse("requests_app:detail", args=[inadmissible.pk]))
    client.force_login(personas["secretariat"])
    preview = client.post(
        reverse("requests_app:create"),
        {
            "received_on": "2026-11-02",
            "channel": "oral",
            "requester_kind": "police",
            "requester_name": "Agent",
            "information_requested": "Adresse",
            "persons-TOTAL_FORMS": "0",
            "persons-INITIAL_FORMS": "0",
            "preview": "1",
        },
    )
    client.force_login(personas["referent"])
    bases = [basis("ji-search-seizure")]
    opinion_page = client.post(
        reverse("requests_app:opinion", args=[court.pk]),
        {
            "legal_bases": [bases[0].pk],
            "proposal": "disclose",
            "reasoning": "x",
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "0",
            "items-0-description": "Adresse",
            "items-0-data_category": "address",
            "items-0-necessity": "x",
            "items-0-basis": str(bases[0].pk),
            "refresh": "1",
        },
    )
    services.submit_opinion(
        court, actor=personas["referent"], **court_opinion(override_reason="Motif")
    )
    client.force_login(personas["dg"])
    review_page = client.get(reverse("requests_app:review", args=[court.pk]))
    api = APIClient()
    api.force_authenticate(personas["dg"])
    api_body = api.get(reverse("api:request-detail", args=[court.pk])).json()

    assert "<h2>Points d'attention</h2>" in intake_page.content.decode()
    assert "Bloquant" in intake_page.content.decode()
    assert preview.status_code == 200
    assert "Bloquant" in preview.content.decode()
    assert not reread(court).reviews.exists()
    assert opinion_page.status_code == 200
    assert "Bloquant" in opinion_page.content.decode()
    # The checklist of the ticked basis is shown after the refresh.
    assert f'data-checklist-for="{bases[0].pk}">' in opinion_page.content.decode()
    assert "Bloquant" in review_page.content.decode()
    assert any(f["severity"] == "blocking" for f in api_body["flags"])


def test_opinion_form_refuses_unanswered_conditions(flow, personas, client):
    dr = flow.assigned()
    ji = basis("ji-search-seizure")
    client.force_login(personas["referent"])
    answers = checklist_post([ji])
    answers.pop(f"cl-{ji.pk}-0-answer")

    response = client.post(
        reverse("requests_app:opinion", args=[dr.pk]),
        {
            "legal_bases": [ji.pk],
            "proposal": "refuse",
            "reasoning": "x",
            "items-TOTAL_FORMS": "0",
            "items-INITIAL_FORMS": "0",
            **answers,
        },
    )

    assert response.status_code == 400
    assert "Répondez à cette condition." in response.content.decode()
    assert not reread(dr).opinions.exists()
