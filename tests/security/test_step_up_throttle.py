"""The signature step-up is throttled per signer: wrong codes lock it, audited."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from audit.models import AuditEvent
from requests_app import services
from requests_app.models import State
from tests.conftest import fresh_otp, reread


@pytest.fixture(autouse=True)
def _empty_counters(db):
    cache.clear()
    yield
    cache.clear()


def test_five_wrong_codes_lock_the_signature_even_for_the_right_code(flow, personas):
    dr = flow.awaiting_signatures()
    dg = personas["dg"]

    for _ in range(5):
        with pytest.raises(services.ActionRefused) as wrong:
            services.sign_reply(dr, actor=dg, otp="000000", address="192.0.2.7")
        assert wrong.value.cause == "reauthentication_failed"

    with pytest.raises(services.ActionRefused) as locked:
        services.sign_reply(dr, actor=dg, otp=fresh_otp(dg), address="192.0.2.7")

    assert locked.value.cause == "step_up_throttled"
    assert locked.value.http_status == 429
    assert reread(dr).state == State.AWAITING_SIGNATURES
    lockouts = AuditEvent.objects.filter(action="lockout", actor_id=dg.pk)
    assert lockouts.exists()
    assert "000000" not in str(list(lockouts.values_list("details", flat=True)))


def test_four_wrong_codes_then_the_right_one_signs(flow, personas):
    dr = flow.awaiting_signatures()
    dg = personas["dg"]

    for _ in range(4):
        with pytest.raises(services.ActionRefused):
            services.sign_reply(dr, actor=dg, otp="000000", address="192.0.2.8")
    services.sign_reply(dr, actor=dg, otp=fresh_otp(dg), address="192.0.2.8")

    assert reread(dr).state == State.PARTIALLY_SIGNED
