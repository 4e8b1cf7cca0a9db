"""API tokens (issue 13): stored hashed, shown once, expiring, revoked by their
owner, on a password change and on deactivation; issued through the API only
with the password and a second factor."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiToken, User
from audit.models import AuditEvent
from tests.conftest import PASSWORD, fresh_otp, make_user

pytestmark = pytest.mark.django_db

TASKS = "/api/tasks/"
LABEL = "script de statistiques CANARYLABEL"


def api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def create_in_ui(client, label: str = LABEL) -> str:
    response = client.post(reverse("accounts:api_tokens"), {"label": label})
    assert response.status_code == 201, response.content[:300]
    key = response.context["new_token"]
    assert key
    assert key in response.content.decode()
    return str(key)


@pytest.fixture
def owner(db) -> User:
    return make_user("tokenowner", "secretariat")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def test_a_token_made_in_the_ui_opens_the_api_with_the_token_scheme(owner_client, owner):
    key = create_in_ui(owner_client)

    assert api(key).get(TASKS).status_code == 200
    assert APIClient().get(TASKS).status_code in (401, 403)
    assert api(key[:-1] + ("0" if key[-1] != "0" else "1")).get(TASKS).status_code == 401


def test_the_token_is_stored_hashed_never_in_clear(owner_client, owner):
    key = create_in_ui(owner_client)

    token = ApiToken.objects.get(user=owner)
    assert token.digest == hashlib.sha512(key.encode()).hexdigest()
    stored = " ".join(
        str(v) for v in ApiToken.objects.filter(pk=token.pk).values().first().values()
    )
    assert key not in stored
    # Only the first characters are kept in clear, to find the row.
    assert len(token.token_key) < len(key) // 3


def test_the_token_is_shown_once(owner_client, owner):
    key = create_in_ui(owner_client)

    page = owner_client.get(reverse("accounts:api_tokens"))

    assert page.status_code == 200
    body = page.content.decode()
    assert key not in body
    assert key[:8] not in body
    assert "CANARYLABEL" in body  # the owner sees the label, created, expiry, last use


def test_the_page_lists_the_owner_s_tokens_only(owner_client, owner):
    other = make_user("othertokens", "secretariat")
    services.create_api_token(other, label="CANARYOTHER", channel="web")
    create_in_ui(owner_client)

    body = owner_client.get(reverse("accounts:api_tokens")).content.decode()

    assert "CANARYLABEL" in body
    assert "CANARYOTHER" not in body


def test_a_token_expires_after_30_days_by_default(owner_client, owner):
    assert settings.HUISCLOS_API_TOKEN_DAYS == 30
    create_in_ui(owner_client)

    token = ApiToken.objects.get(user=owner)
    assert token.expiry is not None
    assert abs(token.expiry - (timezone.now() + timedelta(days=30))) < timedelta(minutes=5)


def test_the_lifetime_comes_from_the_environment():
    env = {**os.environ, "HUISCLOS_API_TOKEN_DAYS": "7", "DJANGO_DEBUG": "true"}
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings');"
        "from django.conf import settings; print(settings.REST_KNOX['TOKEN_TTL'].days)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "7"


def test_an_expired_token_is_refused_with_401(owner_client, owner):
    key = create_in_ui(owner_client)
    ApiToken.objects.filter(user=owner).update(expiry=timezone.now() - timedelta(seconds=1))

    response = api(key).get(TASKS)

    assert response.status_code == 401


def test_a_token_is_revoked_by_a_password_change(owner_client, owner):
    key = create_in_ui(owner_client)
    assert api(key).get(TASKS).status_code == 200

    owner.set_password("an entirely new passphrase 42")
    owner.save()

    assert api(key).get(TASKS).status_code == 401
    assert not ApiToken.objects.filter(user=owner).exists()
    event = AuditEvent.objects.filter(action="api_tokens_revoked").latest("seq")
    assert event.object_id == str(owner.pk)
    assert event.details["cause"] == "password_change"


def test_a_password_rehash_at_sign_in_keeps_the_tokens(owner_client, owner):
    key = create_in_ui(owner_client)
    owner.refresh_from_db()

    # What `check_password` does when the hasher changes: a new hash, same password.
    owner.password = "md5$" + owner.password  # any other hash string
    owner.save(update_fields=["password"])

    assert api(key).get(TASKS).status_code == 200


def test_a_token_is_revoked_by_deactivation(owner_client, owner):
    key = create_in_ui(owner_client)

    owner.is_active = False
    owner.save()

    assert api(key).get(TASKS).status_code == 401
    assert not ApiToken.objects.filter(user=owner).exists()
    event = AuditEvent.objects.filter(action="api_tokens_revoked").latest("seq")
    assert event.details["cause"] == "deactivation"


def test_the_owner_revokes_a_token_in_the_ui(owner_client, owner):
    key = create_in_ui(owner_client)
    token = ApiToken.objects.get(user=owner)

    response = owner_client.post(reverse("accounts:revoke_api_token", args=[token.pk]))

    assert response.status_code == 302
    assert api(key).get(TASKS).status_code == 401
    event = AuditEvent.objects.filter(action="api_token_revoked").latest("seq")
    assert event.object_id == str(token.pk)
    assert event.actor_id == owner.pk


def test_revocation_is_a_post(owner_client, owner):
    create_in_ui(owner_client)
    token = ApiToken.objects.get(user=owner)

    response = owner_client.get(reverse("accounts:revoke_api_token", args=[token.pk]))

    assert response.status_code == 405
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_another_user_s_token_cannot_be_revoked(owner_client, owner):
    other = make_user("othertokens", "secretariat")
    token, key = services.create_api_token(other, label="x", channel="web")
    before = AuditEvent.objects.count()

    response = owner_client.post(reverse("accounts:revoke_api_token", args=[token.pk]))

    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert api(key).get(TASKS).status_code == 200
    assert AuditEvent.objects.count() == before


def test_the_trail_records_creation_and_revocation_without_the_token_or_label(owner_client, owner):
    key = create_in_ui(owner_client)
    token = ApiToken.objects.get(user=owner)
    owner_client.post(reverse("accounts:revoke_api_token", args=[token.pk]))

    events = AuditEvent.objects.filter(object_type="api_token", object_id=str(token.pk))
    assert sorted(e.action for e in events) == ["api_token_created", "api_token_revoked"]
    for event in events:
        text = str(event.details)
        assert key[:15] not in text
        assert token.digest not in text
        assert "CANARYLABEL" not in text


def test_an_empty_label_is_refused_and_creates_nothing(owner_client, owner):
    response = owner_client.post(reverse("accounts:api_tokens"), {"label": "  "})

    assert response.status_code == 400
    assert not ApiToken.objects.filter(user=owner).exists()


def test_the_page_needs_a_signed_in_user(client):
    response = client.get(reverse("accounts:api_tokens"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# ---------------------------------------------------------------------------
# Issue through the API: password and second factor


ISSUE = "/api/auth/token/"


def test_the_api_issues_a_token_for_the_password_and_a_second_factor(owner):
    response = APIClient().post(
        ISSUE,
        {"username": owner.username, "password": PASSWORD, "otp": fresh_otp(owner), "label": "ci"},
        format="json",
    )

    assert response.status_code == 201, response.content
    key = response.json()["token"]
    assert api(key).get(TASKS).status_code == 200
    token = ApiToken.objects.get(user=owner)
    assert token.digest == hashlib.sha512(key.encode()).hexdigest()
    assert AuditEvent.objects.filter(
        action="api_token_created", object_id=str(token.pk), details__channel="api"
    ).exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"password": PASSWORD},  # no second factor
        {"password": PASSWORD, "otp": "000000"},  # a wrong one
        {"password": "wrong password", "otp": None},  # the right code, a wrong password
        {"otp": None},  # no password
    ],
)
def test_the_api_refuses_a_token_without_both_factors(owner, payload):
    body = {"username": owner.username, **payload}
    if "otp" in body and body["otp"] is None:
        body["otp"] = fresh_otp(owner)

    response = APIClient().post(ISSUE, body, format="json")

    assert response.status_code == 400
    assert "detail" in response.json()
    assert not ApiToken.objects.exists()


def test_an_inactive_account_gets_no_token(owner):
    owner.is_active = False
    owner.save()

    response = APIClient().post(
        ISSUE,
        {"username": owner.username, "password": PASSWORD, "otp": fresh_otp(owner)},
        format="json",
    )

    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_the_issue_answers_only_post(owner):
    assert APIClient().get(ISSUE).status_code == 405
