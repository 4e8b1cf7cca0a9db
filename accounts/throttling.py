"""Throttling of sign-in and of the signature step-up.

Sign-in (django-axes; settings AXES_*, argued in config/settings.py)
-------------------------------------------------------------------
The web login (/connexion/), the admin login and the API token issue all call
`django.contrib.auth.authenticate()`. `axes.backends.AxesStandaloneBackend`
comes first in AUTHENTICATION_BACKENDS, so a locked account or address is
refused there, before ModelBackend hashes the password. Failures are counted
per account (AXES_FAILURE_LIMIT) and per source address
(AXES_ADDRESS_FAILURE_LIMIT) over AXES_COOLOFF_TIME; the refusal is a 429 page
(or JSON under /api/) in French saying when to try again.

What axes stores: only its attempt rows (`axes.AccessAttempt`), and in them
the "username" column holds `account:<id>` when the typed name is an account,
or `name:<digest>` (a keyed HMAC of the typed text) when it is not, never the
typed text; the POSTed username and password are masked in the stored form
data. Axes's access log and failure log are off: the audit chain has the
sign-ins, failures, lockouts and unlocks (ids, address, user agent; no name).

Unlocks: a lock ends by itself after the cool-off. Axes deletes the expired
attempt rows at the next sign-in activity; `ThrottleHandler` then records an
"unlock" event (reason "cool_off", with the time the lock ended). The
`axes_reset*` commands record "unlock" with reason "reset".

Signature step-up (for `accounts.services.verify_second_factor` callers)
-----------------------------------------------------------------------
    from accounts import throttling

    address = throttling.client_address(request)
    if not throttling.step_up_allowed(user, address):
        ...  # refuse; throttling.step_up_retry_at(user, address) says until when
    elif verify_second_factor(user, code) is None:
        throttling.record_step_up_failure(user, address, user_agent=throttling.user_agent(request))

5 failures per account (STEP_UP_ACCOUNT_LIMIT) or 20 per address
(STEP_UP_ADDRESS_LIMIT) in 15 minutes lock the step-up for 15 minutes; the
lock and its end are audit events ("lockout"/"unlock", kind "step_up").
Counters live in Django's cache: with several worker processes it must be a
shared cache (CACHES), or each process counts on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.db.models import Max, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import ngettext

from . import services

USER_AGENT_MAX = 200
ACCOUNT_PREFIX = "account:"
NAME_PREFIX = "name:"

STEP_UP_ACCOUNT_LIMIT = 5
STEP_UP_ADDRESS_LIMIT = 20
STEP_UP_WINDOW = timedelta(minutes=15)


# ---------------------------------------------------------------------------
# Who is asking: address, user agent, account key


def client_address(request: Any) -> str | None:
    """REMOTE_ADDR, or the first X-Forwarded-For hop when the proxy is trusted."""
    meta = request.META
    if getattr(settings, "HUISCLOS_TRUSTED_PROXY", False):
        forwarded: str = str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")[0].strip()
        if _is_address(forwarded):
            return forwarded
    remote = str(meta.get("REMOTE_ADDR", ""))
    return remote if _is_address(remote) else None


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def user_agent(request: Any) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_MAX]


def client_details(request: Any) -> dict[str, str | None]:
    """What a session event says about the client: its address and user agent."""
    if request is None:
        return {}
    return {"ip": client_address(request), "user_agent": user_agent(request)}


def account_key(request: Any, credentials: dict[str, Any] | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the key attempts are counted under.

    `account:<id>` for an existing account, else `name:<keyed digest>` of the
    typed text: attempts on a name that is no account are throttled alike,
    and the text (perhaps a person's name typed in the wrong field) is never
    stored.
    """
    field = get_user_model().USERNAME_FIELD
    if credentials:
        typed = credentials.get(field)
    else:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        typed = data.get(field)
    if not typed or not isinstance(typed, str):
        return None
    # Axes asks several times per try: one query per request.
    memo: dict[str, str] = (
        request.__dict__.setdefault("_huisclos_account_keys", {}) if request is not None else {}
    )
    if typed not in memo:
        pk = get_user_model().objects.filter(**{field: typed}).values_list("pk", flat=True).first()
        if pk is not None:
            memo[typed] = f"{ACCOUNT_PREFIX}{pk}"
        else:
            digest = hmac.new(
                settings.SECRET_KEY.encode(), typed.encode(errors="replace"), hashlib.sha256
            ).hexdigest()[:32]
            memo[typed] = f"{NAME_PREFIX}{digest}"
    return memo[typed]


def account_id(key: str | None) -> int | None:
    if key and key.startswith(ACCOUNT_PREFIX):
        return int(key.removeprefix(ACCOUNT_PREFIX))
    return None


def channel(request: Any) -> str:
    path = str(getattr(request, "path", ""))
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "web"


# ---------------------------------------------------------------------------
# Sign-in locks


def cool_off() -> timedelta:
    value = settings.AXES_COOLOFF_TIME
    assert isinstance(value, timedelta)
    return value


@dataclass(frozen=True)
class Lock:
    scope: str  # "account" or "address"
    until: datetime
    failures: int


def sign_in_lock(key: str | None, address: str | None) -> Lock | None:
    """The lock on this account key or address now, if any (account first)."""
    now = timezone.now()
    recent = AccessAttempt.objects.filter(attempt_time__gte=now - cool_off())
    scopes: list[tuple[str, Q, int]] = []
    if key:
        scopes.append(("account", Q(username=key), settings.AXES_FAILURE_LIMIT))
    if address:
        scopes.append(("address", Q(ip_address=address), settings.AXES_ADDRESS_FAILURE_LIMIT))
    for scope, condition, limit in scopes:
        found = recent.filter(condition).aggregate(
            failures=Sum("failures_since_start"), last=Max("attempt_time")
        )
        if (found["failures"] or 0) >= limit:
            return Lock(scope, found["last"] + cool_off(), found["failures"])
    return None


class ThrottleBackend(AxesStandaloneBackend):  # type: ignore[misc]
    """AxesStandaloneBackend, first in AUTHENTICATION_BACKENDS.

    Axes refuses an authenticate() call without a request (ValueError). Every
    sign-in view passes its request (tests/security/test_throttling.py); a
    call without one comes from code running in the process (the test
    client's login(), a shell), where there is no client to throttle: it is
    let through to the next backend instead of crashing.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        super().authenticate(request, username, password, **kwargs)
        return None


class ThrottleHandler(AxesDatabaseHandler):  # type: ignore[misc]
    """Axes's database handler with a limit per account and another per address,
    and unlock events."""

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        # Axes compares one number with AXES_FAILURE_LIMIT: the address's
        # failures are scaled so that reaching AXES_ADDRESS_FAILURE_LIMIT
        # counts as reaching it (floor(n * A / I) >= A exactly when n >= I).
        key = get_client_username(request, credentials)
        sums = {
            "address": Sum("failures_since_start", filter=Q(ip_address=request.axes_ip_address))
        }
        if key:
            sums["account"] = Sum("failures_since_start", filter=Q(username=key))
        found = AccessAttempt.objects.filter(
            attempt_time__gte=request.axes_attempt_time - cool_off()
        ).aggregate(**sums)
        limit = settings.AXES_FAILURE_LIMIT
        scaled = (found["address"] or 0) * limit // settings.AXES_ADDRESS_FAILURE_LIMIT
        return max(found.get("account") or 0, scaled)

    def clean_expired_user_attempts(
        self, request: Any = None, credentials: dict[str, Any] | None = None
    ) -> int:
        if request is not None and settings.AXES_COOLOFF_TIME is not None:
            threshold = request.axes_attempt_time - cool_off()
            expired = AccessAttempt.objects.filter(attempt_time__lte=threshold)
            _record_unlocks(expired, "cool_off")
        return int(super().clean_expired_user_attempts(request, credentials))

    def reset_attempts(
        self,
        *,
        ip_address: str | None = None,
        username: str | None = None,
        ip_or_username: bool = False,
    ) -> int:
        attempts = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - cool_off())
        if ip_or_username:
            attempts = attempts.filter(Q(ip_address=ip_address) | Q(username=username))
        else:
            if ip_address:
                attempts = attempts.filter(ip_address=ip_address)
            if username:
                attempts = attempts.filter(username=username)
        _record_unlocks(attempts, "reset")
        return int(
            super().reset_attempts(
                ip_address=ip_address, username=username, ip_or_username=ip_or_username
            )
        )


def _record_unlocks(attempts: QuerySet[AccessAttempt], reason: str) -> None:
    """An "unlock" event for each account or address whose lock these rows held.

    The request that triggers the clean-up is someone else's: its address and
    user agent are not this event's."""
    per_scope = [
        ("account", "username", settings.AXES_FAILURE_LIMIT),
        ("address", "ip_address", settings.AXES_ADDRESS_FAILURE_LIMIT),
    ]
    for scope, column, limit in per_scope:
        rows = (
            attempts.exclude(**{f"{column}__isnull": True})
            .values(column)
            .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            .filter(failures__gte=limit)
        )
        for row in rows:
            key = row[column] if scope == "account" else None
            details: dict[str, Any] = {
                "scope": scope,
                "kind": "sign_in",
                "cause": reason,
                "locked_until": (row["last"] + cool_off()).isoformat(),
            }
            if scope == "address":
                details["ip"] = row[column]
            services.record_session_event("unlock", actor_id=account_id(key), details=details)


def record_lockout(request: Any, key: str | None) -> None:
    """Receiver of axes's `user_locked_out`: one "lockout" event per lock.

    Axes also sends the signal for each try refused during the lock (no new
    failure counted then: `axes_failures_since_start` stays None); those are
    not events.
    """
    inner = getattr(request, "_request", None)
    if inner is not None:
        # A DRF request (API token issue): let AxesMiddleware see the refusal.
        inner.axes_locked_out = True
        inner.axes_credentials = getattr(request, "axes_credentials", None)
        inner.__dict__.setdefault("_huisclos_account_keys", {}).update(
            request.__dict__.get("_huisclos_account_keys", {})
        )
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    lock = sign_in_lock(key, client_address(request))
    if lock is None:
        return
    # Several workers may reach the limit at once: one event per lock.
    marker = f"huisclos-lockout:{lock.scope}:{key if lock.scope == 'account' else ''}:" + (
        f"{client_address(request) if lock.scope == 'address' else ''}:{lock.until.timestamp()}"
    )
    if not cache.add(marker, True, timeout=int(cool_off().total_seconds()) + 60):
        return
    services.record_session_event(
        "lockout",
        actor_id=account_id(key),
        details={
            "scope": lock.scope,
            "kind": "sign_in",
            "channel": channel(request),
            "failures": lock.failures,
            "locked_until": lock.until.isoformat(),
            **client_details(request),
        },
    )


def retry_message(until: datetime) -> str:
    minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
    return ngettext(
        "Too many failed sign-in attempts. Try again at %(time)s (in %(minutes)d minute).",
        "Too many failed sign-in attempts. Try again at %(time)s (in %(minutes)d minutes).",
        minutes,
    ) % {"time": time_format(timezone.localtime(until), "H:i"), "minutes": minutes}


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 with the time to try again (JSON under /api/)."""
    key = account_key(request, credentials)
    lock = sign_in_lock(key, client_address(request))
    until = lock.until if lock else timezone.now() + cool_off()
    retry_after = max(1, math.ceil((until - timezone.now()).total_seconds()))
    message = retry_message(until)
    response: HttpResponse
    if channel(request) == "api":
        response = JsonResponse({"detail": message, "retry_after": retry_after}, status=429)
    else:
        response = render(
            request,
            "accounts/locked_out.html",
            {"message": message, "until": timezone.localtime(until)},
            status=429,
        )
    response["Retry-After"] = str(retry_after)
    return response


# ---------------------------------------------------------------------------
# Signature step-up


def _step_up_keys(user: AbstractBaseUser, ip: str | None) -> list[tuple[str, str, int]]:
    keys = [("account", f"account:{user.pk}", STEP_UP_ACCOUNT_LIMIT)]
    if ip:
        keys.append(("address", f"address:{ip}", STEP_UP_ADDRESS_LIMIT))
    return keys


def step_up_retry_at(user: AbstractBaseUser, ip: str | None) -> datetime | None:
    """When the step-up lock on this account or address ends; None when open."""
    now = timezone.now().timestamp()
    ends = [
        until
        for _, key, _ in _step_up_keys(user, ip)
        if (until := cache.get(f"huisclos-stepup-lock:{key}")) is not None and until > now
    ]
    return datetime.fromtimestamp(max(ends), tz=UTC) if ends else None


def step_up_allowed(user: AbstractBaseUser, ip: str | None) -> bool:
    """False while the account or the address is locked out of the step-up.

    A lock found past its end is removed here, with its "unlock" event.
    """
    now = timezone.now().timestamp()
    allowed = True
    for scope, key, _ in _step_up_keys(user, ip):
        lock_key = f"huisclos-stepup-lock:{key}"
        until = cache.get(lock_key)
        if until is None:
            continue
        if until > now:
            allowed = False
        elif cache.delete(lock_key):
            details: dict[str, Any] = {
                "scope": scope,
                "kind": "step_up",
                "cause": "cool_off",
                "locked_until": datetime.fromtimestamp(until, tz=UTC).isoformat(),
            }
            if scope == "address":
                details["ip"] = ip
            services.record_session_event("unlock", actor_id=user.pk, details=details)
    return allowed


def record_step_up_failure(
    user: AbstractBaseUser, ip: str | None, *, user_agent: str = ""
) -> None:
    """Count a wrong step-up code; at the limit, lock and record a "lockout"."""
    window = int(STEP_UP_WINDOW.total_seconds())
    for scope, key, limit in _step_up_keys(user, ip):
        count_key = f"huisclos-stepup-count:{key}"
        cache.add(count_key, 0, timeout=window)
        try:
            failures = cache.incr(count_key)
        except ValueError:  # expired between add and incr
            cache.add(count_key, 1, timeout=window)
            failures = 1
        if failures < limit:
            continue
        cache.delete(count_key)
        until = timezone.now() + STEP_UP_WINDOW
        # Kept past its end so that step_up_allowed can record the unlock.
        if cache.add(f"huisclos-stepup-lock:{key}", until.timestamp(), timeout=window + 86400):
            services.record_session_event(
                "lockout",
                actor_id=user.pk,
                details={
                    "scope": scope,
                    "kind": "step_up",
                    "failures": failures,
                    "locked_until": until.isoformat(),
                    "ip": ip,
                    "user_agent": user_agent[:USER_AGENT_MAX],
                },
            )


def step_up_message(until: datetime) -> str:
    """The French refusal for a locked step-up."""
    minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
    return ngettext(
        "Too many wrong codes. Try signing again at %(time)s (in %(minutes)d minute).",
        "Too many wrong codes. Try signing again at %(time)s (in %(minutes)d minutes).",
        minutes,
    ) % {"time": time_format(timezone.localtime(until), "H:i"), "minutes": minutes}
