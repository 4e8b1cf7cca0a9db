"""Slow work (rendering, signing) runs before the audit append, so the chain head
(the row every audited read and every action locks to append) is free while a
letter is rendered or signed."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AuditChainHead
from letters import services as letter_services
from requests_app import services
from tests.conftest import Flow, fresh_otp, reread


def head_is_free() -> bool:
    """Whether another connection can lock the chain head right now."""
    outcome: list[bool] = []

    def probe() -> None:
        try:
            with transaction.atomic():
                list(AuditChainHead.objects.select_for_update(nowait=True).filter(id=1))
            outcome.append(True)
        except DatabaseError:
            outcome.append(False)
        finally:
            connection.close()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(30)
    return outcome == [True]


def probing(monkeypatch, name: str) -> list[bool]:
    """Wrap letters.services.<name> so it records whether the head is free while it runs."""
    seen: list[bool] = []
    real = getattr(letter_services, name)

    def wrapped(*args, **kwargs):
        seen.append(head_is_free())
        return real(*args, **kwargs)

    monkeypatch.setattr(letter_services, name, wrapped)
    return seen


@pytest.mark.django_db(transaction=True)
def test_the_chain_head_is_free_while_the_letter_renders_and_while_it_is_signed(
    personas, monkeypatch
):
    flow = Flow(personas)
    dr = flow.in_review()
    rendering = probing(monkeypatch, "create_reply_document")
    signing = probing(monkeypatch, "sign_reply_document")

    services.approve(reread(dr), actor=personas["dg"])
    services.sign_reply(reread(dr), actor=personas["dg"], otp=fresh_otp(personas["dg"]))

    assert rendering  # the letter was rendered (and looked up again when signed)
    assert all(rendering)
    assert signing == [True]


@pytest.mark.django_db(transaction=True)
def test_the_probe_sees_a_held_head(personas):
    # The probe itself must be able to fail: inside an append's transaction the
    # head is locked until commit.
    from audit import log

    log.record_session_event("login", actor_id=None)  # the head row exists
    with transaction.atomic():
        log.append(actor_id=None, action="probe_check", object_type="test")
        assert not head_is_free()
    assert head_is_free()


@pytest.mark.django_db(transaction=True)
def test_an_inadmissible_intake_renders_its_letter_with_the_head_free(personas, monkeypatch):
    Flow(personas).received()  # the head row exists
    rendering = probing(monkeypatch, "create_reply_document")

    Flow(personas).inadmissible()

    assert rendering
    assert all(rendering)
