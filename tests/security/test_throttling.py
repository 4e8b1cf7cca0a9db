"""Sign-in throttling, the password hasher and the session limits (issue 13)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import sessions, throttling
from accounts.models import User
from audit.models import AuditEvent
from config import settings as project_settings
from tests.conftest import CANARY_NAME, PASSWORD, make_user

LOGIN = "/connexion/"


@pytest.fixture(autouse=True)
def _clean_cache(db):
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def hash_calls(monkeypatch):
    """Counts the password checks made (each one hashes)."""
    calls: list[str] = []
    original = User.check_password

    def counting(self, raw_password):
        calls.append(self.username)
        return original(self, raw_password)

    monkeypatch.setattr(User, "check_password", counting)
    return calls


def events_since(seq: int, *actions: str) -> list[AuditEvent]:
    found = AuditEvent.objects.filter(seq__gt=seq).order_by("seq")
    return list(found.filter(action__in=actions) if actions else found)


def last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def age_attempts(minutes: int) -> None:
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=minutes))


def test_fifty_wrong_passwords_lock_the_account_before_any_hashing(client, personas, hash_calls):
    user = personas["president"]
    before = last_seq()

    statuses = [
        client.post(LOGIN, {"username": user.username, "password": f"wrong-{i}"}).status_code
        for i in range(50)
    ]

    limit = project_settings.AXES_FAILURE_LIMIT
    assert statuses[: limit - 1] == [200] * (limit - 1)
    assert statuses[limit - 1 :] == [429] * (50 - limit + 1)
    # Only the tries before the lock hashed a password.
    assert len(hash_calls) == limit

    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert len(hash_calls) == limit
    html = response.content.decode()
    assert "Trop de tentatives de connexion" in html
    assert "Réessayez à" in html
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert "_auth_user_id" not in client.session

    lockouts = events_since(before, "lockout")
    assert len(lockouts) == 1
    assert lockouts[0].actor_id == user.pk
    assert lockouts[0].details["scope"] == "account"
    assert lockouts[0].details["ip"] == "127.0.0.1"
    assert lockouts[0].details["channel"] == "web"
    # The refused tries are not failures of their own.
    assert len(events_since(before, "login_failed")) == limit
    assert not events_since(before, "login")


def test_the_lock_lifts_after_the_cool_off_with_an_unlock_event(client, personas):
    user = personas["referent"]
    for i in range(project_settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": user.username, "password": f"wrong-{i}"})
    assert client.post(LOGIN, {"username": user.username, "password": PASSWORD}).status_code == 429
    before = last_seq()

    age_attempts(16)
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})

    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == user.pk
    unlock, login = events_since(before, "unlock", "login")
    assert (unlock.action, unlock.actor_id) == ("unlock", user.pk)
    assert unlock.details["scope"] == "account"
    assert unlock.details["cause"] == "cool_off"
    assert login.action == "login"


def test_a_typed_name_that_is_no_account_is_locked_and_never_stored(client, personas):
    before = last_seq()
    for _ in range(project_settings.AXES_FAILURE_LIMIT):
        response = client.post(LOGIN, {"username": CANARY_NAME, "password": "x"})
    assert response.status_code == 429

    stored = list(AccessAttempt.objects.values_list("username", "post_data", "get_data"))
    assert stored
    assert CANARY_NAME.lower() not in str(stored).lower()
    assert all(row[0].startswith("name:") for row in stored)
    events = events_since(before)
    assert {e.action for e in events} == {"login_failed", "lockout"}
    assert CANARY_NAME.lower() not in str([e.details for e in events]).lower()
    assert all(e.actor_id is None for e in events)


def test_an_address_is_locked_after_failures_on_many_accounts(client, personas, hash_calls):
    before = last_seq()
    limit = project_settings.AXES_ADDRESS_FAILURE_LIMIT
    per_name = project_settings.AXES_FAILURE_LIMIT - 1
    names = [f"someone-{i}" for i in range(limit // per_name + 1)]
    tries = [(name, n) for name in names for n in range(per_name)][:limit]
    for name, n in tries:
        client.post(LOGIN, {"username": name, "password": f"wrong-{n}"})
    checked = len(hash_calls)

    # No account is locked, the address is: even the right password of
    # another account is refused, without hashing.
    response = client.post(LOGIN, {"username": personas["dg"].username, "password": PASSWORD})

    assert response.status_code == 429
    assert len(hash_calls) == checked
    lockout = events_since(before, "lockout")
    assert [e.details["scope"] for e in lockout] == ["address"]


def test_the_admin_login_is_throttled(client, personas):
    admin = make_user("admin", is_staff=True, is_superuser=True)
    url = reverse("admin:login")
    statuses = [
        client.post(url, {"username": admin.username, "password": f"wrong-{i}"}).status_code
        for i in range(project_settings.AXES_FAILURE_LIMIT + 1)
    ]
    assert statuses[-2:] == [429, 429]
    assert client.post(url, {"username": admin.username, "password": PASSWORD}).status_code == 429


def test_the_api_token_issue_is_throttled(client, personas):
    user = personas["dg"]
    url = reverse("api:token-issue") if _has_route("api:token-issue") else "/api/auth/token/"
    for i in range(project_settings.AXES_FAILURE_LIMIT):
        client.post(
            url,
            {"username": user.username, "password": f"wrong-{i}", "otp": "000000", "label": "x"},
            content_type="application/json",
        )
    response = client.post(
        url,
        {"username": user.username, "password": PASSWORD, "otp": "000000", "label": "x"},
        content_type="application/json",
    )
    assert response.status_code == 429
    assert "Réessayez à" in response.json()["detail"]
    assert int(response["Retry-After"]) > 0


def _has_route(name: str) -> bool:
    from django.urls import NoReverseMatch

    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


def test_the_backend_refuses_a_locked_account_before_hashing(personas, hash_calls):
    user = personas["secretariat"]
    factory = RequestFactory()

    def attempt(password: str) -> User | None:
        request = factory.post("/api/auth/token/", REMOTE_ADDR="192.0.2.7")
        return authenticate(request, username=user.username, password=password)

    for i in range(project_settings.AXES_FAILURE_LIMIT):
        assert attempt(f"wrong-{i}") is None
    checked = len(hash_calls)
    assert attempt(PASSWORD) is None
    assert len(hash_calls) == checked
    # Another address, same account: still locked (per account).
    request = factory.post("/connexion/", REMOTE_ADDR="198.51.100.9")
    assert authenticate(request, username=user.username, password=PASSWORD) is None


def test_the_source_address_is_the_first_forwarded_hop_only_behind_a_trusted_proxy(settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.5, 10.0.0.1"
    )
    settings.HUISCLOS_TRUSTED_PROXY = False
    assert throttling.client_address(request) == "10.0.0.2"
    settings.HUISCLOS_TRUSTED_PROXY = True
    assert throttling.client_address(request) == "203.0.113.5"
    request.META["HTTP_X_FORWARDED_FOR"] = "not-an-address"
    assert throttling.client_address(request) == "10.0.0.2"


def test_session_events_carry_the_address_and_a_truncated_user_agent(client, personas):
    user = personas["auditor"]
    before = last_seq()
    agent = "Mozilla/5.0 " + "x" * 500
    client.post(LOGIN, {"username": user.username, "password": "nope"}, HTTP_USER_AGENT=agent)
    client.post(LOGIN, {"username": user.username, "password": PASSWORD}, HTTP_USER_AGENT=agent)
    failed, login = events_since(before, "login_failed", "login")
    for event in (failed, login):
        assert event.details["ip"] == "127.0.0.1"
        assert event.details["user_agent"] == agent[:200]


# ---------------------------------------------------------------------------
# Signature step-up


def test_the_step_up_locks_after_five_failures_and_unlocks(personas):
    user = personas["president"]
    before = last_seq()
    for _ in range(throttling.STEP_UP_ACCOUNT_LIMIT - 1):
        throttling.record_step_up_failure(user, "192.0.2.1")
        assert throttling.step_up_allowed(user, "192.0.2.1")
    throttling.record_step_up_failure(user, "192.0.2.1")

    assert not throttling.step_up_allowed(user, "198.51.100.1")  # per account
    until = throttling.step_up_retry_at(user, None)
    assert until is not None
    assert "Réessayez de signer à" in throttling.step_up_message(until)
    (lockout,) = events_since(before, "lockout")
    assert lockout.details["kind"] == "step_up"

    cache.set(f"huisclos-stepup-lock:account:{user.pk}", time.time() - 1, timeout=60)
    assert throttling.step_up_allowed(user, "192.0.2.1")
    (unlock,) = events_since(before, "unlock")
    assert (unlock.actor_id, unlock.details["kind"]) == (user.pk, "step_up")


# ---------------------------------------------------------------------------
# Password hashing


@pytest.fixture
def real_hashers(settings):
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS


def test_new_passwords_are_hashed_with_argon2id(db, real_hashers):
    user = User.objects.create_user("newcomer", password=PASSWORD)
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert user.check_password(PASSWORD)


def test_an_old_pbkdf2_hash_still_signs_in_and_is_rehashed(client, db, real_hashers):
    user = make_user("old-timer")
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    assert user.password.startswith("pbkdf2_sha256$")

    response = client.post(LOGIN, {"username": "old-timer", "password": PASSWORD})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(PASSWORD)


# ---------------------------------------------------------------------------
# Sessions


def shift_session(client, **seconds_ago: float) -> None:
    session = client.session
    now = time.time()
    for key, ago in seconds_ago.items():
        session[getattr(sessions, key)] = now - ago
    session.save()


@pytest.mark.parametrize(
    ("shift", "reason"),
    [
        ({"LAST_SEEN": 31 * 60}, "idle"),
        ({"STARTED": 10 * 3600 + 1, "LAST_SEEN": 60}, "absolute"),
    ],
)
def test_a_session_ends_past_its_limits(client, personas, shift, reason):
    user = personas["secretariat"]
    client.force_login(user)
    home = reverse("requests_app:home")
    assert client.get(home).status_code == 200
    before = last_seq()

    shift_session(client, **shift)
    response = client.get(home)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert "_auth_user_id" not in client.session
    (expired,) = events_since(before, "session_expired")
    assert expired.actor_id == user.pk
    assert expired.details["cause"] == reason
    assert expired.details["ip"] == "127.0.0.1"
    page = client.get(response["Location"])
    assert "Votre session a pris fin" in page.content.decode()


def test_activity_keeps_a_session_and_its_row_expires_soon_after_the_idle_limit(client, personas):
    client.force_login(personas["secretariat"])
    home = reverse("requests_app:home")
    shift_session(client, LAST_SEEN=29 * 60, STARTED=9 * 3600)
    assert client.get(home).status_code == 200
    assert time.time() - client.session[sessions.LAST_SEEN] < 5
    assert client.session.get_expiry_age() <= 35 * 60


def test_a_page_within_seconds_of_the_last_does_not_rewrite_the_session(client, personas):
    client.force_login(personas["secretariat"])
    home = reverse("requests_app:home")
    shift_session(client, LAST_SEEN=sessions.SEEN_EVERY - 10)
    seen = client.session[sessions.LAST_SEEN]
    with CaptureQueriesContext(connection) as captured:
        assert client.get(home).status_code == 200
    assert client.session[sessions.LAST_SEEN] == seen
    assert not [q for q in captured.captured_queries if 'UPDATE "django_session"' in q["sql"]]


def test_the_idle_limit_is_never_cut_short_by_the_lagging_last_seen(client, personas):
    # LAST_SEEN may lag the last request by up to SEEN_EVERY seconds: a
    # session whose recorded time is just past the limit may have been used
    # since, and is kept.
    client.force_login(personas["secretariat"])
    shift_session(client, LAST_SEEN=30 * 60 + sessions.SEEN_EVERY - 5)
    assert client.get(reverse("requests_app:home")).status_code == 200


def test_a_register_search_is_forgotten_after_its_time(client, personas):
    from requests_app import views

    client.force_login(personas["president"])
    register = reverse("requests_app:register")
    response = client.post(register, {"person": CANARY_NAME, "sort": "due_on"})
    assert client.get(response["Location"]).status_code == 200

    session = client.session
    key = next(iter(session[views.REGISTER_SEARCHES]))
    session[views.REGISTER_SEARCHES_AT][key] -= views.REGISTER_SEARCH_SECONDS + 1
    session.save()
    assert client.get(response["Location"]).status_code == 400  # "no longer available"

    # A new search drops the old criteria from the session.
    client.post(register, {"q": "SP-1", "sort": "due_on"})
    kept = client.session[views.REGISTER_SEARCHES]
    assert key not in kept
    assert CANARY_NAME not in str(dict(client.session))
