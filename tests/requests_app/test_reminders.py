"""Daily reminders go to the right person, with references only."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from django.core import mail
from django.core.management import call_command

from accounts.models import User
from tests.conftest import CANARY_FIRST, CANARY_NAME, CANARY_NISS

CANARIES = [CANARY_NAME, CANARY_FIRST, CANARY_NISS, "CANARYINFO", "CANARYJUGE", "CANARYRUE"]


def mails_for(user: User) -> list[Any]:
    return [m for m in mail.outbox if m.to == [user.email]]


def test_each_person_gets_what_is_due_from_them(flow, personas, acting_dg):
    for i, user in enumerate([*personas.values(), acting_dg]):
        user.email = f"user{i}@cpas.example"
        user.save()
    to_assign = flow.received(requester_deadline=date(2026, 1, 5))
    to_write = flow.assigned()
    to_review = flow.in_review()
    to_sign = flow.partially_signed()  # the DG signed; the Président has not
    to_dispatch = flow.signed()

    call_command("send_reminders", stdout=io.StringIO())

    def refs(user):
        (message,) = mails_for(user)
        return message

    president = refs(personas["president"]).body
    assert to_assign.reference in president
    assert to_sign.reference in president
    assert to_review.reference not in president
    assert "EN RETARD" in president
    dg = refs(personas["dg"]).body
    assert to_review.reference in dg
    assert to_sign.reference not in dg  # already signed by the DG
    referent = refs(personas["referent"]).body
    assert to_write.reference in referent
    assert to_sign.reference not in referent  # the referent never signs
    secretariat = refs(personas["secretariat"]).body
    assert to_dispatch.reference in secretariat
    assert to_assign.reference not in secretariat
    assert mails_for(personas["auditor"]) == []
    assert mails_for(personas["outsider"]) == []
    assert mails_for(personas["other_referent"]) == []
    assert f"/demandes/{to_write.pk}/" in referent
    for message in mail.outbox:
        for canary in CANARIES:
            assert canary not in message.body
            assert canary not in message.subject


def test_no_mail_when_nothing_is_due(personas):
    call_command("send_reminders", stdout=io.StringIO())

    assert mail.outbox == []
