"""Segregation of duties on the reply: two distinct signers, never the referent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ActingDesignation, Role
from audit.models import AuditEvent
from requests_app import services
from requests_app.models import Signature, State
from tests.conftest import fresh_otp, make_user, opinion_kwargs, reread


def test_president_and_dg_sign_in_either_order(flow, personas):
    dr = flow.awaiting_signatures()

    services.sign_reply(dr, actor=personas["president"], otp=fresh_otp(personas["president"]))
    services.sign_reply(reread(dr), actor=personas["dg"], otp=fresh_otp(personas["dg"]))

    dr = reread(dr)
    assert dr.state == State.SIGNED
    assert sorted(dr.reply.signatures.values_list("capacity", flat=True)) == [
        "director_general",
        "president",
    ]


def test_same_person_cannot_sign_twice(flow, personas):
    dr = flow.partially_signed()  # signed by the DG

    with pytest.raises(services.ActionRefused):
        services.sign_reply(dr, actor=personas["dg"], otp=fresh_otp(personas["dg"]))

    assert reread(dr).state == State.PARTIALLY_SIGNED
    assert reread(dr).reply.signatures.count() == 1


def test_person_holding_both_roles_signs_only_once(flow, personas):
    both = make_user("both", Role.PRESIDENT, Role.DIRECTOR_GENERAL)
    dr = flow.awaiting_signatures()

    services.sign_reply(dr, actor=both, otp=fresh_otp(both))
    with pytest.raises(services.ActionRefused):
        services.sign_reply(reread(dr), actor=both, otp=fresh_otp(both))

    assert reread(dr).reply.signatures.count() == 1


def test_two_signatures_by_one_signer_are_refused_by_the_database(flow, personas):
    dr = flow.partially_signed()

    with pytest.raises(IntegrityError), transaction.atomic():
        Signature.objects.create(reply=dr.reply, signer=personas["dg"], capacity="president")


def test_referent_never_signs_even_as_acting_dg(flow, personas, acting_dg):
    dr = flow.received()
    services.assign_referent(dr, actor=personas["president"], referent=acting_dg)
    services.submit_opinion(reread(dr), actor=acting_dg, **opinion_kwargs())
    dr = reread(dr)
    # The acting DG was the referent: their opinion is the review.
    assert dr.state == State.AWAITING_SIGNATURES

    with pytest.raises(services.ActionRefused):
        services.sign_reply(dr, actor=acting_dg, otp=fresh_otp(acting_dg))

    assert reread(dr).reply.signatures.count() == 0


def test_acting_dg_signs_within_the_designated_dates(flow, personas, acting_dg):
    dr = flow.awaiting_signatures()

    signature = services.sign_reply(dr, actor=acting_dg, otp=fresh_otp(acting_dg))

    assert signature.capacity == "director_general"
    assert signature.is_acting


def test_acting_designation_outside_its_dates_gives_no_signature(flow, personas):
    former = make_user("former_acting", Role.REFERENT)
    today = timezone.localdate()
    ActingDesignation.objects.create(
        user=former,
        role=Role.DIRECTOR_GENERAL,
        starts_on=today - timedelta(days=30),
        ends_on=today - timedelta(days=1),
    )
    future = make_user("future_acting", Role.REFERENT)
    ActingDesignation.objects.create(
        user=future,
        role=Role.PRESIDENT,
        starts_on=today + timedelta(days=1),
        ends_on=today + timedelta(days=30),
    )
    dr = flow.awaiting_signatures()

    for user in (former, future):
        with pytest.raises(services.ActionRefused):
            services.sign_reply(reread(dr), actor=user, otp=fresh_otp(user))

    assert reread(dr).reply.signatures.count() == 0


def test_wrong_second_factor_signs_nothing_and_is_recorded(flow, personas):
    dr = flow.awaiting_signatures()

    with pytest.raises(services.ActionRefused, match="Second facteur non confirmé"):
        services.sign_reply(dr, actor=personas["president"], otp="000000")

    assert reread(dr).state == State.AWAITING_SIGNATURES
    assert reread(dr).reply.signatures.count() == 0
    refused = AuditEvent.objects.filter(action="refused", object_id=str(dr.pk)).last()
    assert refused is not None
    assert refused.details["cause"] == "reauthentication_failed"


def test_missing_second_factor_signs_nothing(flow, personas):
    dr = flow.awaiting_signatures()

    with pytest.raises(services.ActionRefused):
        services.sign_reply(dr, actor=personas["dg"])

    assert reread(dr).reply.signatures.count() == 0


def test_deactivated_signer_cannot_sign(flow, personas):
    dr = flow.awaiting_signatures()
    president = personas["president"]
    president.is_active = False
    president.save()

    with pytest.raises(services.ActionRefused):
        services.sign_reply(dr, actor=president, otp=fresh_otp(president))


def test_secretariat_and_referent_cannot_sign(flow, personas):
    dr = flow.awaiting_signatures()
    personas["secretariat"].groups.add(Group.objects.get(name="referent"))

    for role in ("secretariat", "referent", "other_referent", "auditor"):
        with pytest.raises(services.ActionRefused):
            services.sign_reply(reread(dr), actor=personas[role], otp=fresh_otp(personas[role]))

    assert reread(dr).reply.signatures.count() == 0
