"""The second factor: the door after the password, and the step-up at each
signature (issue 13). These tests sign in through the pages, with the
password first, and compute the authenticator's codes themselves; they do
not use `fresh_otp`, which clears django-otp's replay guard and throttle."""

from __future__ import annotations

import time

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts import services as accounts
from accounts.models import User
from audit.models import AuditEvent
from requests_app import services
from requests_app.models import State
from tests.conftest import CANARY_NAME, PASSWORD, reread, totp_code

pytestmark = pytest.mark.django_db


def sign_in_with_password(client: Client, user: User) -> None:
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content


def wrong_code(user: User) -> str:
    """Six digits that are none of the codes the authenticator accepts now."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    valid = {totp_code(user, time.time() + offset * device.step) for offset in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def test_password_alone_reaches_no_request_page_and_no_api_data(client, flow, personas):
    dr = flow.in_review()
    user = personas["president"]
    sign_in_with_password(client, user)

    for url in (
        reverse("requests_app:home"),
        dr.get_absolute_url(),
        reverse("requests_app:register"),
        reverse("audit:timeline"),
        reverse("admin:index"),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:second_factor")), url
        assert CANARY_NAME not in response.content.decode()
    for url in (reverse("api:request-list"), reverse("api:request-detail", args=[dr.pk])):
        response = client.get(url)
        assert response.status_code == 403, url
        assert response.json()["code"] == "second_factor_required"
        assert CANARY_NAME not in response.content.decode()
    # A POST does not act either.
    response = client.post(
        reverse("requests_app:review", args=[dr.pk]), {"decision": "approve", "remarks": ""}
    )
    assert response.status_code == 302
    assert reread(dr).state == State.AWAITING_REVIEW
    # The second-factor page itself is open, and leads to verification.
    page = client.get(reverse("accounts:second_factor"), follow=True)
    assert page.status_code == 200
    assert page.redirect_chain[-1][0] == reverse("accounts:verify")
    # ...with no menu to the pages it cannot open yet.
    html = page.content.decode()
    assert reverse("requests_app:register") not in html
    assert reverse("accounts:api_tokens") not in html


def test_the_right_code_opens_the_door(client, flow, personas):
    dr = flow.received()
    user = personas["secretariat"]
    sign_in_with_password(client, user)

    response = client.post(
        reverse("accounts:verify") + f"?next={dr.get_absolute_url()}",
        {"otp": totp_code(user), "next": dr.get_absolute_url()},
    )

    assert response.status_code == 302
    assert response["Location"] == dr.get_absolute_url()
    assert client.get(dr.get_absolute_url()).status_code == 200
    assert client.get(reverse("api:request-list")).status_code == 200
    event = AuditEvent.objects.filter(action="second_factor_verified").last()
    assert event is not None
    assert event.actor_id == user.pk
    assert event.details == {"device": "totp"}


def test_a_wrong_code_is_refused_and_recorded(client, personas):
    user = personas["secretariat"]
    sign_in_with_password(client, user)

    response = client.post(reverse("accounts:verify"), {"otp": wrong_code(user)})

    assert response.status_code == 200
    assert "pas valable" in response.content.decode()
    assert client.get(reverse("requests_app:home")).status_code == 302
    event = AuditEvent.objects.filter(action="second_factor_failed").last()
    assert event is not None
    assert event.actor_id == user.pk


def test_a_code_already_used_does_not_open_another_session(personas):
    user = personas["referent"]
    code = totp_code(user)
    first, second = Client(), Client()
    sign_in_with_password(first, user)
    sign_in_with_password(second, user)

    assert first.post(reverse("accounts:verify"), {"otp": code}).status_code == 302
    assert second.post(reverse("accounts:verify"), {"otp": code}).status_code == 200
    assert second.get(reverse("requests_app:home")).status_code == 302


def test_a_recovery_code_works_once(personas):
    user = personas["auditor"]
    device = StaticDevice.objects.create(user=user, name="recovery", confirmed=True)
    StaticToken.objects.create(device=device, token="abcd2345")

    first = Client()
    sign_in_with_password(first, user)
    assert first.post(reverse("accounts:verify"), {"otp": "ABCD 2345"}).status_code == 302
    assert first.get(reverse("audit:timeline")).status_code == 200

    second = Client()
    sign_in_with_password(second, user)
    assert second.post(reverse("accounts:verify"), {"otp": "abcd2345"}).status_code == 200
    assert second.get(reverse("audit:timeline")).status_code == 302
    assert not StaticToken.objects.filter(device=device).exists()


def test_first_sign_in_forces_enrolment_then_shows_recovery_codes_once(client):
    user = User.objects.create_user("newcomer", password=PASSWORD)
    sign_in_with_password(client, user)

    home = client.get(reverse("requests_app:home"), follow=True)
    assert home.redirect_chain[-1][0] == reverse("accounts:enrol")
    page = home.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert accounts.totp_secret(device) in page
    qr = client.get(reverse("accounts:totp_qr"))
    assert qr["Content-Type"] == "image/svg+xml"
    assert b"<svg" in qr.content

    clock = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    bad = client.post(reverse("accounts:enrol"), {"otp": f"{(clock.token() + 1) % 10**6:06d}"})
    assert bad.status_code == 200
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()

    done = client.post(reverse("accounts:enrol"), {"otp": f"{clock.token():06d}"})
    assert done.status_code == 302
    assert done["Location"] == reverse("accounts:recovery_codes")
    codes_page = client.get(reverse("accounts:recovery_codes"))
    assert codes_page.status_code == 200
    codes = list(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(codes) == 10
    assert all(code in codes_page.content.decode() for code in codes)
    assert client.get(reverse("accounts:recovery_codes")).status_code == 302
    assert client.get(reverse("requests_app:home")).status_code == 403  # no role: no page
    assert AuditEvent.objects.filter(
        action="second_factor_enrolled", actor_id=user.pk, details={"device": "totp"}
    ).exists()


def test_an_enrolled_user_cannot_enrol_another_factor_with_the_password_alone(client, personas):
    user = personas["dg"]
    sign_in_with_password(client, user)

    response = client.get(reverse("accounts:enrol"))

    assert response.status_code == 302
    assert client.get(reverse("accounts:totp_qr")).status_code == 404
    assert not TOTPDevice.objects.filter(user=user, confirmed=False).exists()
    begin = client.post(
        reverse("otp_webauthn:credential-registration-begin"), content_type="application/json"
    )
    assert begin.status_code == 403


def test_a_key_alone_does_not_sign_in(client):
    response = client.post(
        reverse("otp_webauthn:credential-authentication-begin"), content_type="application/json"
    )
    assert response.status_code >= 400


# ---------------------------------------------------------------------------
# Step-up at each signature


def test_signing_without_a_fresh_factor_is_refused_in_the_ui(client, flow, personas):
    dr = flow.awaiting_signatures()
    dg = personas["dg"]
    client.force_login(dg)
    url = reverse("requests_app:sign", args=[dr.pk])

    missing = client.post(url, {"otp": ""})
    wrong = client.post(url, {"otp": wrong_code(dg)})

    assert missing.status_code == 400
    assert wrong.status_code == 400
    assert "Second facteur non confirmé" in wrong.content.decode()
    assert reread(dr).state == State.AWAITING_SIGNATURES
    assert reread(dr).reply.signatures.count() == 0
    causes = [
        e.details["cause"] for e in AuditEvent.objects.filter(action="refused", object_id=dr.pk)
    ]
    assert causes == ["reauthentication_failed", "reauthentication_failed"]


def test_signing_with_a_fresh_code_in_the_ui(client, flow, personas):
    dr = flow.awaiting_signatures()
    dg = personas["dg"]
    client.force_login(dg)

    response = client.post(reverse("requests_app:sign", args=[dr.pk]), {"otp": totp_code(dg)})

    assert response.status_code == 302
    assert reread(dr).state == State.PARTIALLY_SIGNED


def test_signing_without_a_fresh_factor_is_refused_in_the_api(flow, personas):
    dr = flow.awaiting_signatures()
    dg = personas["dg"]
    api = APIClient()
    api.force_authenticate(dg)
    url = reverse("api:request-sign", args=[dr.pk])

    missing = api.post(url, {}, format="json")
    password = api.post(url, {"password": PASSWORD}, format="json")
    wrong = api.post(url, {"otp": wrong_code(dg)}, format="json")

    assert missing.status_code == 400
    assert password.status_code == 400
    assert wrong.status_code == 403
    assert "reauthentication_failed" in wrong.content.decode()
    assert reread(dr).state == State.AWAITING_SIGNATURES


def test_signing_with_a_fresh_code_in_the_api(flow, personas):
    dr = flow.awaiting_signatures()
    dg = personas["dg"]
    api = APIClient()
    api.force_authenticate(dg)

    response = api.post(
        reverse("api:request-sign", args=[dr.pk]), {"otp": totp_code(dg)}, format="json"
    )

    assert response.status_code == 200, response.content
    assert reread(dr).state == State.PARTIALLY_SIGNED


def test_a_step_up_code_signs_once(flow, personas):
    first, second = flow.awaiting_signatures(), flow.awaiting_signatures()
    dg = personas["dg"]
    code = totp_code(dg)
    services.sign_reply(first, actor=dg, otp=code)

    with pytest.raises(services.ActionRefused) as refused:
        services.sign_reply(reread(second), actor=dg, otp=code)

    assert refused.value.cause == "reauthentication_failed"
    assert refused.value.http_status == 403
    assert reread(second).state == State.AWAITING_SIGNATURES


def test_a_webauthn_step_up_signs_once_within_two_minutes(flow, personas):
    first, second, third = (flow.awaiting_signatures() for _ in range(3))
    dg = personas["dg"]
    session = SessionStore()

    accounts.record_webauthn_step_up(session, dg)
    services.sign_reply(first, actor=dg, session=session)
    with pytest.raises(services.ActionRefused):
        services.sign_reply(reread(second), actor=dg, session=session)

    accounts.record_webauthn_step_up(session, dg)
    session[accounts.STEP_UP_SESSION_KEY]["at"] -= accounts.STEP_UP_SECONDS + 1
    with pytest.raises(services.ActionRefused):
        services.sign_reply(reread(third), actor=dg, session=session)

    accounts.record_webauthn_step_up(session, personas["president"])
    with pytest.raises(services.ActionRefused):
        services.sign_reply(reread(third), actor=dg, session=session)
    assert reread(second).state == reread(third).state == State.AWAITING_SIGNATURES
    assert reread(first).state == State.PARTIALLY_SIGNED
