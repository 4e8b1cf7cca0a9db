"""The secretariat reads a reply only once it is signed, as for the PDF (issue 13).

Before the second signature the reply is a draft the signatories may still
refuse; the secretariat, which sends it, sees its text from the moment it
is signed. One rule (requests_app.access.sees_reply) for the request page,
the summary, the API and the PDF.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape
from rest_framework.test import APIClient

from accounts.models import ApiToken
from requests_app import access, services
from requests_app.models import DisclosureRequest, Reply, State
from tests.conftest import fresh_otp

pytestmark = pytest.mark.django_db


def api_for(user) -> APIClient:
    client = APIClient()
    _token, key = ApiToken.objects.create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def marker(dr: DisclosureRequest) -> str:
    """A piece of the reply's text as a page would show it."""
    body = Reply.objects.get(request=dr).body
    line = max(body.splitlines(), key=len).strip()
    assert len(line) > 20, body
    return escape(line[:60])


def page_shows_reply(client, dr: DisclosureRequest) -> bool:
    response = client.get(reverse("requests_app:detail", args=[dr.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    shown = response.context["reply"] is not None
    assert shown == (marker(dr) in html), "context and page disagree"
    return shown


def api_shows_reply(user, dr: DisclosureRequest) -> bool:
    response = api_for(user).get(reverse("api:request-detail", args=[dr.pk]))
    assert response.status_code == 200, response.content
    return "reply" in response.json()


def test_secretariat_sees_the_reply_only_after_the_second_signature(client, flow, personas):
    secretariat = personas["secretariat"]
    client.force_login(secretariat)
    steps = [
        ("awaiting", flow.awaiting_signatures(), False),
        ("one signature", flow.partially_signed(), False),
        ("signed", flow.signed(), True),
        ("dispatched", flow.dispatched(), True),
    ]
    for name, dr, expected in steps:
        assert access.sees_reply(secretariat, dr) is expected, name
        assert access.may_download_reply(secretariat, dr) is expected, name
        assert page_shows_reply(client, dr) is expected, name
        assert api_shows_reply(secretariat, dr) is expected, name
        pdf = client.get(reverse("requests_app:reply_pdf", args=[dr.pk]))
        if not expected:
            assert pdf.status_code == 404, name
        # The summary is for the roles that see the content: never the secretariat.
        summary = client.get(reverse("requests_app:summary", args=[dr.pk]))
        assert summary.status_code == 404, name


def test_the_same_request_before_and_after_its_second_signature(client, flow, personas):
    secretariat = personas["secretariat"]
    client.force_login(secretariat)
    dr = flow.partially_signed()
    assert not page_shows_reply(client, dr)
    assert not api_shows_reply(secretariat, dr)

    services.sign_reply(dr, actor=personas["president"], otp=fresh_otp(personas["president"]))
    dr.refresh_from_db()
    assert dr.state == State.SIGNED
    assert page_shows_reply(client, dr)
    assert api_shows_reply(secretariat, dr)


def test_content_roles_see_the_draft_on_every_page(client, flow, personas):
    dr = flow.awaiting_signatures()
    for role in ("dg", "president"):
        user = personas[role]
        client.force_login(user)
        assert page_shows_reply(client, dr), role
        assert api_shows_reply(user, dr), role
        summary = client.get(reverse("requests_app:summary", args=[dr.pk]))
        assert summary.status_code == 200
        assert summary.context["reply"] is not None
