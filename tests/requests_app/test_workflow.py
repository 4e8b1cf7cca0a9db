"""The procedure as a state machine: who may do what, in which state."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from audit.models import AuditEvent
from legal_basis.models import LegalBasis
from letters import citations
from requests_app import services
from requests_app.inputs import ItemData, PersonData
from requests_app.models import DisclosureRequest, Opinion, Reply, State
from requests_app.permissions import visible_requests
from tests.conftest import basis, fresh_otp, intake, opinion_kwargs, pdf_upload, reread

ROLES = ["secretariat", "president", "dg", "referent", "other_referent", "auditor", "outsider"]


def transition_events(dr: DisclosureRequest) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(object_type="disclosure_request", object_id=str(dr.pk))
        .exclude(to_state="")
        .order_by("seq")
    )


def refused_events(dr: DisclosureRequest) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            object_type="disclosure_request", object_id=str(dr.pk), action="refused"
        )
    )


def attempt(action: str, dr: DisclosureRequest, actor, personas):
    """Fire one use case with valid arguments, as `actor`."""
    if action == "assign_referent":
        return services.assign_referent(dr, actor=actor, referent=personas["referent"])
    if action == "submit_opinion":
        return services.submit_opinion(dr, actor=actor, **opinion_kwargs())
    if action == "approve":
        return services.approve(dr, actor=actor)
    if action == "refuse_disclosure":
        return services.refuse_disclosure(dr, actor=actor, remarks="Non.")
    if action == "return_for_revision":
        return services.return_for_revision(dr, actor=actor, remarks="À revoir.")
    if action == "sign_reply":
        return services.sign_reply(dr, actor=actor, otp=fresh_otp(actor))
    if action == "record_dispatch":
        return services.record_dispatch(
            dr,
            actor=actor,
            dispatched_on=timezone.localdate(),
            channel="post",
        )
    if action == "close":
        return services.close(dr, actor=actor)
    if action == "withdraw":
        return services.withdraw(dr, actor=actor, reason="withdrawn_in_writing")
    raise AssertionError(action)


ACTIONS = [
    "assign_referent",
    "submit_opinion",
    "approve",
    "refuse_disclosure",
    "return_for_revision",
    "sign_reply",
    "record_dispatch",
    "close",
    "withdraw",
]
OPEN = {
    "awaiting_assignment",
    "awaiting_opinion",
    "awaiting_review",
    "awaiting_signatures",
    "partially_signed",
    "signed",
}

# (action) -> states where it is possible -> roles allowed there.
ALLOWED: dict[str, dict[str, set[str]]] = {
    "assign_referent": {
        "awaiting_assignment": {"president", "dg"},
        "awaiting_opinion": {"president", "dg"},
    },
    "submit_opinion": {"awaiting_opinion": {"referent"}},
    "approve": {"awaiting_review": {"dg"}},
    "refuse_disclosure": {"awaiting_review": {"dg"}},
    "return_for_revision": {"awaiting_review": {"dg"}},
    # The flow's first signature is the DG's: the Président signs second.
    "sign_reply": {"awaiting_signatures": {"president", "dg"}, "partially_signed": {"president"}},
    "record_dispatch": {"signed": {"secretariat"}},
    "close": {"dispatched": {"secretariat"}},
    "withdraw": {state: {"secretariat", "president", "dg"} for state in sorted(OPEN)},
}
EXPECTED_TARGET = {
    "assign_referent": "awaiting_opinion",
    "submit_opinion": "awaiting_review",
    "approve": "awaiting_signatures",
    "refuse_disclosure": "awaiting_signatures",
    "return_for_revision": "awaiting_opinion",
    "record_dispatch": "dispatched",
    "close": "closed",
    "withdraw": "withdrawn",
}
STATES = [
    "awaiting_assignment",
    "closed_oral",
    "awaiting_opinion",
    "awaiting_review",
    "awaiting_signatures",
    "partially_signed",
    "signed",
    "dispatched",
    "closed",
    "withdrawn",
]

ALLOWED_CASES = [
    (action, state, role)
    for action, by_state in ALLOWED.items()
    for state, roles in by_state.items()
    for role in sorted(roles)
]


@pytest.mark.parametrize(("action", "state", "role"), ALLOWED_CASES)
def test_allowed_transition_moves_state_and_writes_one_event(flow, personas, action, state, role):
    dr = flow.in_state(state)
    before = len(transition_events(dr))

    attempt(action, dr, personas[role], personas)

    dr = reread(dr)
    if action == "sign_reply":
        expected = "partially_signed" if state == "awaiting_signatures" else "signed"
    else:
        expected = EXPECTED_TARGET[action]
    assert dr.state == expected
    events = transition_events(dr)
    assert len(events) == before + 1
    last = events[-1]
    assert (last.actor_id, last.from_state, last.to_state) == (
        personas[role].pk,
        state,
        expected,
    )


@pytest.mark.parametrize("state", STATES)
def test_every_other_state_action_role_combination_is_refused(flow, personas, state):
    dr = flow.in_state(state)
    checked = 0
    for action in ACTIONS:
        allowed_roles = ALLOWED[action].get(state, set())
        for role in ROLES:
            if role in allowed_roles:
                continue
            before_events = len(transition_events(dr))
            before_refused = len(refused_events(dr))
            fresh = reread(dr)

            with pytest.raises(services.ActionRefused) as refusal:
                attempt(action, fresh, personas[role], personas)

            assert refusal.value.message
            assert reread(dr).state == state, (action, role)
            assert len(transition_events(dr)) == before_events, (action, role)
            assert len(refused_events(dr)) == before_refused + 1, (action, role)
            checked += 1
    assert checked > 40


def test_oral_request_is_recorded_and_closed_at_once(flow):
    dr = flow.received(channel="oral", cited_provision="")

    assert dr.state == State.CLOSED_ORAL
    assert dr.closed_at is not None
    assert not dr.scan
    assert [e.action for e in transition_events(dr)] == ["register_request", "close_as_oral"]
    assert not Reply.objects.filter(request=dr).exists()


@pytest.mark.parametrize(
    ("overrides", "reasons"),
    [
        ({"cited_provision": ""}, ["no_legal_provision"]),
        ({"cited_provision": "   "}, ["no_legal_provision"]),
        ({"persons": []}, ["person_not_identified"]),
        (
            {"persons": [PersonData(last_name="Dupont", first_names="Jean")]},
            ["person_not_identified"],
        ),
        (
            {"persons": [PersonData(last_name="Dupont", birth_date=date(1980, 1, 1))]},
            ["person_not_identified"],
        ),
        (
            {"persons": [], "cited_provision": ""},
            ["person_not_identified", "no_legal_provision"],
        ),
    ],
)
def test_written_request_missing_identification_or_provision_is_inadmissible(
    flow, overrides, reasons
):
    dr = flow.received(**overrides)

    assert dr.state == State.AWAITING_SIGNATURES
    assert dr.inadmissibility_reasons == reasons
    assert dr.reply.kind == "inadmissibility"
    assert "ne pouvons pas traiter votre demande en l'état" in dr.reply.body


@pytest.mark.parametrize(
    "person",
    [
        PersonData("Dupont", "Jean", birth_date=date(1980, 1, 1)),
        PersonData("Dupont", "Jean", national_number="85010100115"),
    ],
)
def test_precisely_identified_written_request_awaits_assignment(flow, person):
    dr = flow.received(persons=[person])

    assert dr.state == State.AWAITING_ASSIGNMENT
    assert dr.inadmissibility_reasons == []


def test_inadmissible_request_goes_through_two_signatures_and_dispatch(flow, personas):
    dr = flow.inadmissible()

    services.sign_reply(dr, actor=personas["president"], otp=fresh_otp(personas["president"]))
    services.sign_reply(reread(dr), actor=personas["dg"], otp=fresh_otp(personas["dg"]))
    services.record_dispatch(
        reread(dr),
        actor=personas["secretariat"],
        dispatched_on=timezone.localdate(),
        channel="post",
    )

    assert reread(dr).state == State.DISPATCHED


def test_dg_sending_back_lets_the_referent_revise(flow, personas):
    dr = flow.in_review()

    services.return_for_revision(dr, actor=personas["dg"], remarks="Précisez la base.")
    services.submit_opinion(reread(dr), actor=personas["referent"], **opinion_kwargs())

    dr = reread(dr)
    assert dr.state == State.AWAITING_REVIEW
    assert list(dr.opinions.values_list("number", flat=True)) == [1, 2]
    assert dr.reviews.get().outcome == "returned"


def test_dg_holding_referent_role_writes_opinion_as_review(flow, personas, dg):
    dg.groups.add(Group.objects.get(name="referent"))
    dr = flow.received()
    services.assign_referent(dr, actor=personas["president"], referent=dg)

    services.submit_opinion(reread(dr), actor=dg, **opinion_kwargs())

    dr = reread(dr)
    assert dr.state == State.AWAITING_SIGNATURES
    assert dr.opinions.get().is_review
    assert dr.reply.decided_by_opinion_id == dr.opinions.get().pk
    assert [e.action for e in transition_events(dr)][-1] == "submit_opinion_as_review"
    assert not dr.reviews.exists()


def test_amended_approval_keeps_only_the_items_the_dg_kept(flow, personas):
    dr = flow.in_review()

    services.approve(
        dr,
        actor=personas["dg"],
        amended_items=[ItemData("Montant du RIS", "aid", "", basis("ji-search-seizure"))],
    )

    reply = reread(dr).reply
    assert [i.description for i in reply.items.all()] == ["Montant du RIS"]
    assert [i.legal_basis.code for i in reply.items.all()] == ["ji-search-seizure"]
    assert "CANARYITEM" not in reply.body
    assert reread(dr).reviews.get().outcome == "amended"


def test_refusal_reply_carries_no_items(flow, personas):
    dr = flow.in_review()

    services.refuse_disclosure(dr, actor=personas["dg"], remarks="Pas d'exception.")

    reply = reread(dr).reply
    assert reply.kind == "refusal"
    assert not reply.items.exists()
    # The rule is cited as the catalogue has it on the day of the decision.
    assert citations.secrecy_rule(reply.decided_on) in reply.body
    assert LegalBasis.objects.with_feature("secrecy_rule", reply.decided_on)


def test_withdrawal_is_possible_before_dispatch_only(flow, personas):
    dr = flow.dispatched()

    with pytest.raises(services.ActionRefused):
        services.withdraw(dr, actor=personas["secretariat"], reason="withdrawn_in_writing")

    assert reread(dr).state == State.DISPATCHED


def test_state_cannot_be_assigned_directly(flow):
    dr = flow.received()

    with pytest.raises(AttributeError):
        dr.state = State.CLOSED


def test_follow_up_copies_nothing_from_the_earlier_request(flow, personas):
    earlier = flow.signed()

    follow_up = services.register_request(
        intake(),
        actor=personas["secretariat"],
        scan=pdf_upload(),
        scan_content_type="application/pdf",
        follows=earlier,
    )

    follow_up = reread(follow_up)
    assert follow_up.follows_id == earlier.pk
    assert follow_up.state == State.AWAITING_ASSIGNMENT
    assert follow_up.referent is None
    assert not Opinion.objects.filter(request=follow_up).exists()
    assert not Reply.objects.filter(request=follow_up).exists()
    assert not follow_up.reviews.exists()
    assert follow_up.reference != earlier.reference
    # The earlier request's referent gets no access to the new one.
    assert not visible_requests(personas["referent"]).filter(pk=follow_up.pk).exists()


def test_references_are_gap_free_per_year(flow):
    first = flow.received(received_on=date(2025, 12, 31))
    second = flow.received(received_on=date(2026, 1, 2))
    third = flow.received(received_on=date(2026, 1, 3))

    assert first.reference.startswith("SP-2025-")
    assert second.reference == "SP-2026-0001"
    assert third.reference == "SP-2026-0002"


def test_overdue_when_requester_deadline_passed(flow):
    dr = flow.received(requester_deadline=timezone.localdate() - timedelta(days=1))

    assert dr.is_overdue
