"""The DPO follows the persons' own access requests (issue 16): the open ones
with their GDPR deadlines, no name on the page, and the extension by two
months, once, with a reason, through the same service as the DG's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from requests_app import deadlines
from tests.conftest import CANARY_FIRST, CANARY_NAME, CANARY_NISS, reread
from tests.requests_app.test_access_request import register_access

pytestmark = pytest.mark.django_db


@pytest.fixture
def access_request(secretariat):
    return register_access(secretariat, received_on=timezone.localdate())


def events() -> list[str]:
    return list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))


def test_the_dpo_sees_the_open_access_requests_without_names(client, dpo, access_request, flow):
    lifting = flow.received()
    client.force_login(dpo)
    response = client.get(reverse("dpo:access_requests"))
    assert response.status_code == 200
    body = response.content.decode()
    assert access_request.reference in body
    assert lifting.reference not in body
    for canary in (CANARY_NAME, CANARY_FIRST, CANARY_NISS):
        assert canary not in body
    assert reverse("dpo:extend_access", args=[access_request.pk]) in body


@pytest.mark.parametrize(
    "role", ["secretariat", "president", "dg", "referent", "auditor", "outsider"]
)
def test_others_may_not_follow_or_extend_here(client, personas, role, access_request):
    client.force_login(personas[role])
    assert client.get(reverse("dpo:access_requests")).status_code == 403
    extend = reverse("dpo:extend_access", args=[access_request.pk])
    assert client.get(extend).status_code == 403
    assert client.post(extend, {"reason": "Demande complexe."}).status_code == 403
    assert reread(access_request).deadline_extended_at is None


def test_the_dpo_extends_once_with_a_reason(client, dpo, access_request):
    client.force_login(dpo)
    extend = reverse("dpo:extend_access", args=[access_request.pk])
    assert client.get(extend).status_code == 200
    before = reread(access_request).due_on
    assert before is not None

    response = client.post(extend, {"reason": "Nombreuses demandes à rassembler."})

    assert response.status_code == 302
    assert response["Location"] == reverse("dpo:access_requests")
    after = reread(access_request)
    assert after.due_on == deadlines.extended_access_due_date(after.received_on)
    assert after.due_on is not None
    assert after.due_on > before
    assert after.deadline_extended_by == dpo
    assert events()[-1] == "extend_access_deadline"
    # A second time is refused, and changes nothing.
    again = client.post(extend, {"reason": "Encore."})
    assert again.status_code == 409
    assert "déjà été prolongé" in again.content.decode()
    assert reread(access_request).due_on == after.due_on


def test_a_blank_reason_is_refused_and_changes_nothing(client, dpo, access_request):
    client.force_login(dpo)
    count = AuditEvent.objects.count()
    response = client.post(
        reverse("dpo:extend_access", args=[access_request.pk]), {"reason": "  "}
    )
    assert response.status_code == 400
    assert "corrigez" in response.content.decode()
    assert reread(access_request).deadline_extended_at is None
    assert AuditEvent.objects.count() == count


def test_a_late_request_cannot_be_extended(client, dpo, secretariat):
    late = register_access(secretariat, received_on=timezone.localdate() - timedelta(days=40))
    client.force_login(dpo)
    page = client.get(reverse("dpo:access_requests")).content.decode()
    assert reverse("dpo:extend_access", args=[late.pk]) not in page
    response = client.post(reverse("dpo:extend_access", args=[late.pk]), {"reason": "Trop tard."})
    assert response.status_code == 409
    assert reread(late).deadline_extended_at is None


def test_a_request_to_lift_the_secret_is_not_found_here(client, dpo, flow):
    lifting = flow.received()
    client.force_login(dpo)
    assert client.get(reverse("dpo:extend_access", args=[lifting.pk])).status_code == 404
