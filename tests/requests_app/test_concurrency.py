"""Concurrent transitions and concurrent intake on PostgreSQL (T-CC-1)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from audit.models import AuditEvent
from requests_app import services
from requests_app.models import DisclosureRequest, State
from tests.conftest import Flow, fresh_otp, intake, pdf_upload, persona

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 20


def run_together(work: Callable[[int], object]) -> tuple[list[object], list[BaseException]]:
    barrier = threading.Barrier(THREADS)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def runner(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            outcome = work(i)
            with lock:
                results.append(outcome)
        except BaseException as error:  # collected and asserted on below
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


@pytest.fixture
def tx_personas(transactional_db):
    # The world's personas, committed like the rest of the world.
    return {name: persona(name) for name in ("secretariat", "president", "dg", "referent")}


def transition_events(dr: DisclosureRequest, action: str) -> int:
    return AuditEvent.objects.filter(
        object_type="disclosure_request", object_id=str(dr.pk), action=action
    ).count()


@pytest.mark.parametrize("round_", range(3))
def test_twenty_threads_firing_one_transition_give_one_success(tx_personas, round_):
    dr = Flow(tx_personas).in_review()

    def approve(i: int) -> object:
        fresh = DisclosureRequest.objects.get(pk=dr.pk)
        return services.approve(fresh, actor=tx_personas["dg"])

    results, errors = run_together(approve)

    assert len(results) == 1
    assert len(errors) == THREADS - 1
    assert all(isinstance(e, services.ActionRefused) for e in errors), errors
    assert DisclosureRequest.objects.get(pk=dr.pk).state == State.AWAITING_SIGNATURES
    assert transition_events(dr, "approve") == 1
    assert transition_events(dr, "refused") == THREADS - 1
    assert DisclosureRequest.objects.get(pk=dr.pk).reviews.count() == 1


def test_twenty_threads_signing_give_one_signature(tx_personas):
    dr = Flow(tx_personas).awaiting_signatures()

    code = fresh_otp(tx_personas["president"])

    def sign(i: int) -> object:
        fresh = DisclosureRequest.objects.get(pk=dr.pk)
        return services.sign_reply(fresh, actor=tx_personas["president"], otp=code)

    results, errors = run_together(sign)

    assert len(results) == 1, errors
    assert DisclosureRequest.objects.get(pk=dr.pk).reply.signatures.count() == 1
    assert transition_events(dr, "sign_first") == 1


def test_concurrent_intake_gives_gap_free_unique_references(tx_personas):
    def register(i: int) -> object:
        return services.register_request(
            intake(), actor=tx_personas["secretariat"], scan=pdf_upload()
        ).reference

    results, errors = run_together(register)

    assert not errors, errors
    expected = {f"SP-2026-{n:04d}" for n in range(1, THREADS + 1)}
    assert set(results) == expected
    assert sorted(DisclosureRequest.objects.values_list("number", flat=True)) == list(
        range(1, THREADS + 1)
    )
