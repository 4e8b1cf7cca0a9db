"""Route × role × method access matrix (T-AC-1, T-AC-2).

Every URL pattern of the resolver must appear in ROUTES, so a new route
without an access rule fails `test_every_route_has_an_access_rule`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.conftest import CANARY_FIRST, CANARY_NAME, CANARY_NISS, fresh_otp, reread

CANARIES = [CANARY_NAME, CANARY_FIRST, CANARY_NISS, "CANARYINFO", "CANARYRUE", "CANARYMOTIF"]
ROLES = [
    "secretariat",
    "president",
    "dg",
    "referent",
    "other_referent",
    "auditor",
    "dpo",
    "outsider",
]
STAFF = {"secretariat", "president", "dg", "referent", "other_referent", "auditor", "dpo"}
CONTENT = {"president", "dg", "referent"}
REGISTER = {"secretariat", "president", "dg", "referent", "other_referent"}


def iter_patterns(
    patterns: list[URLPattern | URLResolver], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or ""
            full_ns = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from iter_patterns(pattern.url_patterns, prefix + str(pattern.pattern), full_ns)
        else:
            name = pattern.name or ""
            yield (f"{namespace}:{name}" if namespace else name, prefix + str(pattern.pattern))


# name -> (state the request must be in, or None for routes without a
# request; methods to try; roles that may use it). Object routes not
# allowed must answer 404 (hidden) or 403 (visible but not your step).
ROUTES: dict[str, tuple[str | None, list[str], set[str]]] = {
    "requests_app:home": (None, ["GET"], STAFF),
    "requests_app:register": (None, ["GET", "POST"], REGISTER),
    "requests_app:create": (None, ["GET"], {"secretariat"}),
    "requests_app:detail": ("awaiting_review", ["GET"], REGISTER - {"other_referent"}),
    "requests_app:summary": ("awaiting_review", ["GET"], CONTENT),
    "requests_app:scan": ("awaiting_review", ["GET"], CONTENT),
    "requests_app:reply_pdf": ("signed", ["GET"], CONTENT | {"secretariat"}),
    # Checking the signatures again: whoever reads the reply (the reply's rule).
    "requests_app:revalidate_letter": ("signed", ["POST"], CONTENT | {"secretariat"}),
    "requests_app:assign": ("awaiting_assignment", ["GET", "POST"], {"president", "dg"}),
    "requests_app:opinion": ("awaiting_opinion", ["GET", "POST"], {"referent"}),
    "requests_app:opinion_flags": ("awaiting_opinion", ["POST"], {"referent"}),
    "requests_app:review": ("awaiting_review", ["GET", "POST"], {"dg"}),
    # Only for an inadmissible request, which no state here builds: its access and
    # audit rules are tested in tests/requests_app/test_review_page.py.
    "requests_app:reopen_examination": (None, [], set()),
    "requests_app:sign": ("awaiting_signatures", ["GET", "POST"], {"president", "dg"}),
    "requests_app:decline_to_sign": ("awaiting_signatures", ["POST"], {"president", "dg"}),
    "requests_app:letter_paragraph": ("awaiting_signatures", ["GET", "POST"], {"dg"}),
    # The letter's pages as images: the reply's rule (the secretariat once signed).
    "requests_app:reply_page": ("awaiting_signatures", ["GET"], CONTENT),
    "requests_app:dispatch": ("signed", ["GET", "POST"], {"secretariat"}),
    # GET: the confirmation page; POST: the step itself.
    "requests_app:close": ("dispatched", ["GET", "POST"], {"secretariat"}),
    "requests_app:withdraw": (
        "awaiting_opinion",
        ["GET", "POST"],
        {"secretariat", "president", "dg"},
    ),
    "requests_app:correct": ("awaiting_assignment", ["GET", "POST"], {"secretariat", "dg"}),
    "requests_app:annul": ("awaiting_opinion", ["GET", "POST"], {"dg"}),
    # The acknowledgement of receipt exists only when the administrator asks
    # for it, which no state here builds: its routes' access and audit rules
    # are tested in tests/requests_app/test_acknowledgement.py.
    "requests_app:acknowledgement_prepare": (None, [], set()),
    "requests_app:acknowledgement_sign": (None, [], set()),
    "requests_app:acknowledgement_dispatch": (None, [], set()),
    "requests_app:acknowledgement_pdf": (None, [], set()),
    "requests_app:acknowledgement_page": (None, [], set()),
    # A person's own access request (GDPR art. 15), which no state here builds:
    # its routes' access rules are tested in tests/requests_app/test_access_request.py.
    "requests_app:access_reply": (None, [], set()),
    "requests_app:extend_deadline": (None, [], set()),
    "api:request-access-reply": (None, [], set()),
    "api:request-extend-deadline": (None, [], set()),
    "api:my-tasks": (None, ["GET"], REGISTER),
    "api:request-list": (None, ["GET"], REGISTER),
    "api:request-detail": ("awaiting_review", ["GET"], REGISTER - {"other_referent"}),
    "api:request-scan": ("awaiting_review", ["GET"], CONTENT),
    "api:request-reply-pdf": ("signed", ["GET"], CONTENT | {"secretariat"}),
    "api:request-assign": ("awaiting_assignment", ["POST"], {"president", "dg"}),
    "api:request-opinion": ("awaiting_opinion", ["POST"], {"referent"}),
    "api:request-approve": ("awaiting_review", ["POST"], {"dg"}),
    "api:request-refuse": ("awaiting_review", ["POST"], {"dg"}),
    "api:request-return": ("awaiting_review", ["POST"], {"dg"}),
    "api:request-sign": ("awaiting_signatures", ["POST"], {"president", "dg"}),
    "api:request-decline": ("awaiting_signatures", ["POST"], {"president", "dg"}),
    "api:request-dispatch": ("signed", ["POST"], {"secretariat"}),
    "api:request-close": ("dispatched", ["POST"], {"secretariat"}),
    "api:request-withdraw": ("awaiting_opinion", ["POST"], {"secretariat", "president", "dg"}),
    "api:request-correct": ("awaiting_assignment", ["POST"], {"secretariat", "dg"}),
    "api:request-annul": ("awaiting_opinion", ["POST"], {"dg"}),
    "api:legal-basis-list": (None, ["GET"], STAFF),
    "api:legal-basis-detail": (None, ["GET"], STAFF),
    "api-schema": (None, ["GET"], STAFF | {"outsider"}),
    "legal_basis:list": (None, ["GET"], STAFF),
    "legal_basis:detail": (None, ["GET"], STAFF),
    "audit:timeline": (None, ["GET"], {"auditor"}),
    "audit:request": (None, ["GET"], {"auditor"}),
    "audit:request_access": (None, ["GET"], {"auditor"}),
    "audit:user_activity": (None, ["GET"], {"auditor"}),
    "audit:verification": (None, ["GET", "POST"], {"auditor"}),
    "audit:export": (None, ["GET"], {"auditor"}),
    # The DPO's desk (tests/dpo/): the register of disclosures is the DPO's alone.
    "dpo:register": (None, ["GET", "POST"], {"dpo"}),
    "dpo:register_export": (None, ["POST"], {"dpo"}),
    "dpo:processing_record": (None, ["GET"], {"president", "dg", "dpo"}),
    "dpo:access_requests": (None, ["GET"], {"dpo"}),
    # Names an access request, which no state here builds (tests/dpo/test_access_follow.py).
    "dpo:extend_access": (None, [], set()),
    # The figures: for those who answer to the Council (tests/dpo/test_statistics.py).
    "statistics:index": (None, ["GET"], {"president", "dg", "dpo"}),
    "statistics:csv": (None, ["GET"], {"president", "dg", "dpo"}),
    "statistics:annual_report": (None, ["GET"], {"president", "dg", "dpo"}),
    # Retention: the DPO and the DG (tests/dpo/test_retention.py); lifting names
    # a hold, which no state here builds: its rule is tested there.
    "retention:report": (None, ["GET"], {"dpo", "dg"}),
    "retention:hold": (None, ["GET", "POST"], {"dpo", "dg"}),
    "retention:lift": (None, [], set()),
    # Every signed-in account manages its own API tokens (tests/security/test_tokens.py).
    "accounts:api_tokens": (None, ["GET"], STAFF | {"outsider"}),
    "accounts:revoke_api_token": (None, [], set()),
    # Acting designations: the Président and the DG (tests/accounts/test_designations.py).
    "accounts:designations": (None, ["GET"], {"president", "dg"}),
    "accounts:designate": (None, ["GET", "POST"], {"president", "dg"}),
    "accounts:end_designation": (None, [], set()),
    # Public by nature; tested elsewhere.
    "api:token-issue": (None, [], set()),
    "login": (None, [], set()),
    "logout": (None, [], set()),
    "favicon": (None, [], set()),
    # The second factor's own pages (tests/security/test_second_factor.py).
    "accounts:second_factor": (None, [], set()),
    "accounts:enrol": (None, [], set()),
    "accounts:totp_qr": (None, [], set()),
    "accounts:recovery_codes": (None, [], set()),
    "accounts:verify": (None, [], set()),
    "accounts:webauthn_registration_complete": (None, [], set()),
    "accounts:webauthn_sign_in_complete": (None, [], set()),
    "accounts:webauthn_step_up_complete": (None, [], set()),
}
# django-otp-webauthn's JSON endpoints (begin / complete a ceremony).
EXTERNAL_PREFIXES = ("admin:", "otp_webauthn:")


def test_every_route_has_an_access_rule():
    names = {name for name, _ in iter_patterns(get_resolver().url_patterns)}
    unnamed = [route for name, route in iter_patterns(get_resolver().url_patterns) if not name]
    missing = sorted(n for n in names if n not in ROUTES and not n.startswith(EXTERNAL_PREFIXES))

    assert not unnamed, f"unnamed routes: {unnamed}"
    assert not missing, f"routes without an access rule: {missing}"


def _url(name: str, dr) -> str:
    if name == "api:legal-basis-detail":
        return str(reverse(name, args=["cp-458"]))
    if name == "legal_basis:detail":
        return str(reverse(name, args=["cp-458", 1]))
    if name in ("audit:request", "audit:request_access"):
        return str(reverse(name, args=["SP-2026-0001"]))
    if name == "audit:export":
        return str(reverse(name, args=["jsonl"]))
    if dr is None:
        return str(reverse(name))
    if name == "requests_app:reply_page":
        return str(reverse(name, args=[dr.pk, 1]))
    return str(reverse(name, args=[dr.pk]))


def _call(client, method: str, url: str, api: bool, signer=None):
    if method == "GET":
        return client.get(url)
    payload = {"remarks": "x", "otp": fresh_otp(signer) if signer is not None else "000000"}
    if api:
        return client.post(url, payload, format="json")
    return client.post(url, payload)


def _body(response) -> str:
    if hasattr(response, "streaming_content"):
        return str(b"".join(response.streaming_content).decode(errors="replace"))
    return str(response.content.decode(errors="replace"))


ROUTE_METHODS = [
    (name, method) for name, (_, methods, _allowed) in ROUTES.items() for method in methods
]


@pytest.mark.parametrize(("name", "method"), ROUTE_METHODS)
def test_route_role_method_matrix(name, method, flow, personas, subtests):
    """Every role (and the anonymous visitor) on one route and method.

    The request is built once; each role's attempt runs in a savepoint rolled
    back afterwards, so it meets the world as it was built (an allowed POST
    by one role changes nothing for the next).
    """
    state, _, _allowed = ROUTES[name]
    dr = flow.in_state(state) if state else None
    for role in [*ROLES, "anonymous"]:
        with subtests.test(role=role), transaction.atomic():
            _check_route_role_method(name, method, role, dr, personas)
            transaction.set_rollback(True)


def _check_route_role_method(name, method, role, dr, personas):
    state, _, allowed = ROUTES[name]
    api = name.startswith("api")
    client: Client
    if api:
        client = APIClient()
        if role != "anonymous":
            _token, key = ApiToken.objects.create(user=personas[role])
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    else:
        client = Client()
        if role != "anonymous":
            client.force_login(personas[role])
    url = _url(name, dr)

    response = _call(client, method, url, api, None if role == "anonymous" else personas[role])

    assert response.status_code < 500
    if role == "anonymous":
        if api:
            assert response.status_code in (401, 403)
        else:
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))
        return
    if role in allowed:
        # 400: the step was reached and the (deliberately incomplete) payload refused.
        assert response.status_code in (200, 201, 302, 400), _body(response)[:500]
        return
    assert response.status_code in (403, 404), (response.status_code, _body(response)[:300])
    body = _body(response)
    for canary in CANARIES:
        assert canary not in body
    if dr is not None and state:
        # The request did not move.
        assert reread(dr).state == state


@pytest.mark.parametrize("name", [n for n, v in ROUTES.items() if v[0]])
def test_another_referents_request_is_hidden(name, flow, personas, client):
    state, methods, _ = ROUTES[name]
    dr = flow.in_state(state)
    api = name.startswith("api")
    if api:
        client = APIClient()
        client.force_authenticate(personas["other_referent"])
    else:
        client.force_login(personas["other_referent"])

    for method in methods:
        response = _call(client, method, _url(name, dr), api)

        assert response.status_code == 404
        assert all(c not in _body(response) for c in CANARIES)


def test_admin_is_closed_to_every_role(client, personas):
    for role in ROLES:
        client.force_login(personas[role])

        response = client.get("/admin/")

        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
