"""T-AU-4: a business write and its audit event commit together or not at all."""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import transaction

from audit import log
from audit.models import AuditChainHead, AuditEvent
from requests_app.models import ReferenceCounter


class Boom(Exception):
    pass


def business_write(n: int) -> None:
    Group.objects.create(name=f"fault-{n}")
    ReferenceCounter.objects.create(year=3000 + n, last_number=n)


def audit_write(n: int) -> None:
    log.append(actor_id=None, action="fault_test", object_type="group", object_id=n)


def state() -> tuple[int, int, int, int]:
    head = AuditChainHead.objects.filter(id=1).values_list("seq", flat=True).first() or 0
    return (
        Group.objects.filter(name__startswith="fault-").count(),
        ReferenceCounter.objects.filter(year__gte=3000).count(),
        AuditEvent.objects.filter(action="fault_test").count(),
        head,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("fail_at", ["before_business", "between", "after_audit"])
@pytest.mark.parametrize("order", ["business_first", "audit_first"])
def test_exception_leaves_neither(fail_at, order):
    before = state()
    first, second = (
        (business_write, audit_write)
        if order == "business_first"
        else (audit_write, business_write)
    )

    @transaction.atomic
    def action() -> None:
        if fail_at == "before_business":
            raise Boom
        first(1)
        if fail_at == "between":
            raise Boom
        second(1)
        raise Boom

    with pytest.raises(Boom):
        action()
    assert state() == before
    assert log.verify_database(checkpoint_dir=None).ok


@pytest.mark.django_db
def test_a_failing_audit_write_aborts_the_business_write(monkeypatch):
    before = state()

    def broken_save(self, *args, **kwargs):
        raise Boom("audit storage unavailable")

    @transaction.atomic
    def action(n: int, details: dict[str, Any]) -> None:
        business_write(n)
        log.append(actor_id=None, action="fault_test", details=details)

    # Refused details fail closed.
    with pytest.raises(ValueError, match="must not carry"):
        action(3, {"name": "x"})
    assert state() == before
    monkeypatch.setattr(AuditEvent, "save", broken_save)
    with pytest.raises(Boom):
        action(2, {})
    assert state() == before


@pytest.mark.django_db
def test_thousand_randomised_runs():
    rng = random.Random(20261102)
    committed = 0
    for n in range(1000):
        fail_at = rng.choice(["none", "before", "between", "after", "inside_audit"])
        audit_first = rng.random() < 0.5
        try:
            with transaction.atomic():
                if fail_at == "before":
                    raise Boom
                if audit_first:
                    if fail_at == "inside_audit":
                        log.append(actor_id=None, action="fault_test", details={"text": "x"})
                    audit_write(n)
                    if fail_at == "between":
                        raise Boom
                    business_write(n)
                else:
                    business_write(n)
                    if fail_at == "between":
                        raise Boom
                    if fail_at == "inside_audit":
                        log.append(actor_id=None, action="fault_test", details={"text": "x"})
                    audit_write(n)
                if fail_at == "after":
                    raise Boom
            committed += 1
        except (Boom, ValueError):
            pass
        groups, counters, events, _ = state()
        assert groups == counters == events == committed, (n, fail_at)
    assert committed > 100
    assert log.verify_database(checkpoint_dir=None).ok
