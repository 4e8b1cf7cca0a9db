"""Per-item grounding in the services: what the law forbids is refused, not overridden."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from audit.models import AuditEvent
from legal_basis.models import LegalBasis
from requests_app import services
from requests_app.inputs import ItemData
from requests_app.models import DisclosureRequest, State
from tests.conftest import answer_all, basis, intake, reread


def trail() -> int:
    return AuditEvent.objects.count()


def submit(dr, referent, bases, items, **kwargs):
    return services.submit_opinion(
        dr,
        actor=referent,
        legal_bases=bases,
        proposal="disclose",
        reasoning="Motivation",
        items=items,
        checklist=answer_all(bases),
        **kwargs,
    )


@pytest.mark.parametrize("code", ["cp-458bis", "cic-29", "necessity", "law-obliges-authorises"])
def test_a_disclosure_on_a_basis_that_cannot_ground_it_is_refused_even_with_a_reason(
    flow, personas, code
):
    dr = flow.assigned(requester_kind="public_prosecutor", documents=[])
    ground = basis(code)
    before = trail()

    with pytest.raises(services.ActionRefused) as refused:
        submit(
            dr,
            personas["referent"],
            [ground],
            [ItemData("Adresse", "address", "Nécessaire", ground)],
            override_reason="Je passe outre.",
        )

    assert refused.value.cause == "disclosure_forbidden"
    assert reread(dr).state == State.AWAITING_OPINION
    assert not reread(dr).opinions.exists()
    # Bad input changes nothing, the trail included.
    assert trail() == before


def test_consent_without_the_signed_document_is_refused(flow, personas):
    dr = flow.assigned(requester_kind="landlord", documents=[])
    consent = basis("consent")

    with pytest.raises(services.ActionRefused) as refused:
        submit(
            dr,
            personas["referent"],
            [consent],
            [ItemData("Adresse", "address", "Nécessaire", consent)],
            override_reason="La personne est d'accord, elle l'a dit au téléphone.",
        )

    assert refused.value.cause == "disclosure_forbidden"


def test_consent_with_the_signed_document_grounds_the_item(flow, personas):
    dr = flow.assigned(requester_kind="landlord", documents=["consent"])
    consent = basis("consent")

    opinion = submit(
        dr, personas["referent"], [consent], [ItemData("Adresse", "address", "Utile", consent)]
    )

    assert opinion.items.get().legal_basis == consent


def test_an_item_must_name_a_chosen_basis(flow, personas):
    dr = flow.assigned()
    ji = basis("ji-search-seizure")

    for item_basis in (None, basis("consent")):
        with pytest.raises(services.ActionRefused) as refused:
            submit(dr, personas["referent"], [ji], [ItemData("A", "address", "N", item_basis)])
        assert refused.value.cause == "invalid_opinion"


def test_a_version_no_longer_in_force_cannot_be_cited(flow, personas):
    dr = flow.assigned()
    old = LegalBasis.objects.filter(code="tribunal-testimony").order_by("version").first()
    assert old is not None
    assert not old.is_in_force_on(timezone.localdate())

    with pytest.raises(services.ActionRefused) as refused:
        submit(dr, personas["referent"], [old], [])

    assert refused.value.cause == "invalid_opinion"


def social_inspection_in_review(flow, personas):
    dr = flow.assigned(requester_kind="social_inspection", documents=[])
    contested = basis("cps-54")
    submit(
        dr,
        personas["referent"],
        [contested],
        [ItemData("Adresse", "address", "Contrôle", contested)],
    )
    return dr


def test_a_contested_basis_needs_the_dgs_written_analysis(flow, personas):
    dr = social_inspection_in_review(flow, personas)
    before = trail()

    with pytest.raises(services.ActionRefused) as refused:
        services.approve(dr, actor=personas["dg"], legal_analysis="  ")

    assert refused.value.cause == "legal_analysis_missing"
    assert reread(dr).state == State.AWAITING_REVIEW
    assert trail() == before

    review = services.approve(
        dr, actor=personas["dg"], legal_analysis="Analyse : le contrôle vise l'aide accordée."
    )

    assert review.legal_analysis.startswith("Analyse")
    assert reread(dr).state == State.AWAITING_SIGNATURES
    event = AuditEvent.objects.filter(action="approve").latest("seq")
    assert "Analyse" not in str(event.details)


def test_the_dg_as_referent_writes_the_analysis_with_the_opinion(flow, personas, dg):
    dg.groups.add(Group.objects.get(name="referent"))
    dr = flow.received(requester_kind="social_inspection", documents=[])
    services.assign_referent(dr, actor=personas["president"], referent=dg)
    contested = basis("cps-54")
    item = ItemData("Adresse", "address", "Contrôle", contested)

    with pytest.raises(services.ActionRefused) as refused:
        submit(reread(dr), dg, [contested], [item])
    assert refused.value.cause == "legal_analysis_missing"
    opinion = submit(reread(dr), dg, [contested], [item], legal_analysis="Analyse écrite.")

    assert opinion.legal_analysis == "Analyse écrite."


def test_amended_items_rest_on_the_opinions_bases(flow, personas):
    dr = flow.in_review()

    with pytest.raises(services.ActionRefused) as refused:
        services.approve(
            dr,
            actor=personas["dg"],
            amended_items=[ItemData("Adresse", "address", "", basis("consent"))],
        )

    assert refused.value.cause == "invalid_decision"
    assert reread(dr).state == State.AWAITING_REVIEW


def test_the_reply_items_keep_their_basis_and_the_decision_date(flow, personas):
    dr = flow.awaiting_signatures()

    reply = reread(dr).reply

    assert {i.legal_basis.code for i in reply.items.all()} == {"ji-search-seizure"}
    # The day of the decision in Brussels (between 23:00 and 24:00 UTC in
    # winter it is already the next day there).
    assert reply.decided_on == timezone.localdate(reply.created_at)


def test_intake_records_the_letter_protocol_and_documents(flow):
    dr = flow.received(
        requester_letter_date=intake().received_on,
        requester_function="investigating_judge",
        requester_civility="madam",
        documents=["judge_order", "judge_order"],
    )

    dr = reread(dr)
    assert dr.requester_letter_date == intake().received_on
    assert (dr.requester_function, dr.requester_civility) == ("investigating_judge", "madam")
    assert dr.documents == ["judge_order"]


def test_a_requester_letter_dated_after_its_receipt_is_refused(flow):
    received = intake().received_on

    with pytest.raises(services.ActionRefused) as refused:
        flow.received(requester_letter_date=received.replace(year=received.year + 1))

    assert refused.value.cause == "invalid_intake"


@pytest.mark.parametrize(
    "overrides",
    [
        {"documents": ["a_note_from_a_friend"]},
        {"requester_function": "king"},
        {"requester_civility": "your_majesty"},
    ],
)
def test_invalid_intake_values_are_refused_and_nothing_is_recorded(flow, overrides):
    before = trail()

    with pytest.raises(services.ActionRefused) as refused:
        flow.received(**overrides)

    assert refused.value.cause == "invalid_intake"
    assert refused.value.http_status == 400
    assert not DisclosureRequest.objects.exists()
    assert trail() == before


def test_a_request_with_the_persons_consent_and_no_provision_is_admissible(flow):
    dr = flow.received(requester_kind="landlord", cited_provision="", documents=["consent"])

    assert reread(dr).state == State.AWAITING_ASSIGNMENT
    assert reread(dr).documents == ["consent"]


def test_a_request_with_neither_provision_nor_consent_is_inadmissible(flow):
    dr = flow.received(requester_kind="landlord", cited_provision="", documents=[])

    assert reread(dr).state == State.AWAITING_SIGNATURES
    assert reread(dr).reply.kind == "inadmissibility"
