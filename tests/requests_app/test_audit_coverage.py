"""Every state-changing route, API action and sensitive read leaves an event
(T-AU-5), and no event or log line carries personal data (T-AU-6)."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from legal_basis.models import LegalBasis
from tests.conftest import (
    CANARY_FIRST,
    CANARY_NAME,
    CANARY_NISS,
    checklist_json,
    checklist_post,
    fresh_otp,
)
from tests.requests_app.test_access import ROUTES, _url, iter_patterns

CANARIES = [
    CANARY_NAME,
    CANARY_FIRST,
    CANARY_NISS,
    "CANARYINFO",
    "CANARYRUE",
    "CANARYJUGE",
    "CANARYITEM",
    "CANARYMOTIF",
    "JI/2026/123",
]

# Object routes and a valid payload for the role that may use them.
ACTING_ROLE = {
    "requests_app:detail": ("president", None),
    "requests_app:scan": ("referent", None),
    "requests_app:summary": ("dg", None),
    "requests_app:reply_pdf": ("secretariat", None),
    "requests_app:revalidate_letter": ("secretariat", {}),
    "requests_app:assign": ("president", {"referent": "__referent__"}),
    "requests_app:opinion": (
        "referent",
        {
            "legal_bases": ["__ji__"],
            "proposal": "refuse",
            "reasoning": "Motif",
            "items-TOTAL_FORMS": "0",
            "items-INITIAL_FORMS": "0",
            "__checklist__": "",
        },
    ),
    # Flags recomputed while the referent ticks: it shows no content of the
    # request and saves nothing, and the page calls it on every change, so
    # it records nothing when allowed (a refusal is recorded as anywhere).
    "requests_app:opinion_flags": ("referent", {"legal_bases": ["__ji__"]}),
    "requests_app:review": (
        "dg",
        {
            "decision": "return",
            "remarks": "À revoir",
            "items-TOTAL_FORMS": "0",
            "items-INITIAL_FORMS": "0",
        },
    ),
    "requests_app:sign": ("dg", {"otp": "__otp__"}),
    "requests_app:decline_to_sign": ("president", {"remarks": "La lettre doit être revue."}),
    "requests_app:letter_paragraph": ("dg", {"paragraph": "Adressez-vous au juge compétent."}),
    "requests_app:reply_page": ("referent", None),
    "requests_app:dispatch": (
        "secretariat",
        {"dispatched_on": "2026-11-03", "channel": "post", "registered_mail_number": ""},
    ),
    "requests_app:close": ("secretariat", {}),
    "requests_app:withdraw": ("secretariat", {"reason": "withdrawn_in_writing"}),
    # Opening the prefilled correction form is an audited read.
    "requests_app:correct": ("secretariat", None),
    "requests_app:annul": ("dg", {"reason": "Lettre enregistrée deux fois"}),
    "api:request-detail": ("president", None),
    "api:request-scan": ("referent", None),
    "api:request-reply-pdf": ("president", None),
    "api:request-assign": ("president", {"referent": "__referent__"}),
    "api:request-opinion": (
        "referent",
        {
            "legal_bases": ["ji-search-seizure"],
            "proposal": "refuse",
            "reasoning": "Motif",
            "checklist": "__checklist_json__",
        },
    ),
    "api:request-approve": ("dg", {}),
    "api:request-refuse": ("dg", {"remarks": "Non"}),
    "api:request-return": ("dg", {"remarks": "À revoir"}),
    "api:request-sign": ("dg", {"otp": "__otp__"}),
    "api:request-decline": ("president", {"remarks": "Non"}),
    "api:request-dispatch": (
        "secretariat",
        {"dispatched_on": "2026-11-03", "channel": "post", "registered_mail_number": ""},
    ),
    "api:request-close": ("secretariat", {}),
    "api:request-withdraw": ("secretariat", {"reason": "withdrawn_in_writing"}),
    "api:request-correct": ("secretariat", {"requester_name": "Juge Y", "reason": "Faute"}),
    "api:request-annul": ("dg", {"reason": "Lettre enregistrée deux fois"}),
}
SILENT_WHEN_ALLOWED = {"requests_app:opinion_flags"}


def test_every_object_route_is_covered_here():
    names = {name for name, _ in iter_patterns(get_resolver().url_patterns)}
    object_routes = {n for n in names if n in ROUTES and ROUTES[n][0]}

    assert object_routes == set(ACTING_ROLE)


def _client(name, user) -> Client | APIClient:
    if name.startswith("api"):
        api = APIClient()
        api.force_authenticate(user)
        return api
    client = Client()
    client.force_login(user)
    return client


def _payload(payload, personas):
    if payload is None:
        return None
    ji = LegalBasis.objects.in_force_on(timezone.localdate()).get(code="ji-search-seizure")
    out = {}
    for key, value in (payload or {}).items():
        if key == "__checklist__":
            out.update(checklist_post([ji]))
            continue
        if value == "__checklist_json__":
            value = checklist_json([ji])
        elif value == "__otp__":
            value = fresh_otp(personas["dg"])
        elif value == "__referent__":
            value = personas["referent"].pk
        elif value == ["__ji__"]:
            value = [ji.pk]
        out[key] = value
    return out


def _call(name, client, url, payload):
    if payload is None:
        return client.get(url)
    if name.startswith("api"):
        return client.post(url, payload, format="json")
    return client.post(url, payload)


@pytest.mark.parametrize("name", sorted(ACTING_ROLE))
def test_route_emits_its_event_when_used(name, flow, personas):
    state = ROUTES[name][0]
    dr = flow.in_state(state)
    role, payload = ACTING_ROLE[name]
    client = _client(name, personas[role])
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

    response = _call(name, client, _url(name, dr), _payload(payload, personas))

    assert response.status_code in (200, 302), getattr(response, "content", b"")[:300]
    new = list(AuditEvent.objects.filter(seq__gt=last, object_id=str(dr.pk)))
    actions = [e.action for e in new]
    if name in SILENT_WHEN_ALLOWED:
        assert actions == [], name
        return
    assert actions, name
    assert "refused" not in actions
    assert all(e.actor_id == personas[role].pk for e in new)


@pytest.mark.parametrize("name", sorted(ACTING_ROLE))
def test_route_emits_a_refused_event_for_an_outsider(name, flow, personas):
    state = ROUTES[name][0]
    dr = flow.in_state(state)
    _, payload = ACTING_ROLE[name]
    client = _client(name, personas["other_referent"])
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

    response = _call(name, client, _url(name, dr), _payload(payload, personas))

    assert response.status_code in (403, 404)
    new = list(AuditEvent.objects.filter(seq__gt=last))
    assert [e.action for e in new] == ["refused"]
    assert new[0].object_id == str(dr.pk)
    assert new[0].actor_id == personas["other_referent"].pk


def test_no_personal_data_in_audit_details_or_logs(flow, personas, client, caplog):
    caplog.set_level(logging.DEBUG)
    done = [flow.closed(), flow.inadmissible(), flow.closed_oral(), flow.withdrawn()]
    in_review = flow.in_review()
    for dr in [*done, in_review]:
        for role in ("president", "referent", "secretariat", "auditor", "other_referent"):
            client.force_login(personas[role])
            client.get(reverse("requests_app:detail", args=[dr.pk]))
            client.get(reverse("requests_app:scan", args=[dr.pk]))

    dump = json.dumps(
        list(
            AuditEvent.objects.values(
                "action", "object_type", "object_id", "from_state", "to_state", "details"
            )
        ),
        ensure_ascii=False,
    )
    logs = caplog.text
    assert AuditEvent.objects.count() > 50
    for canary in CANARIES:
        assert canary not in dump
        assert canary not in logs
