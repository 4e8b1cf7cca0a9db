"""Views answer only the methods they serve; errors under /api/ are JSON (issue 13).

Every URL pattern of the project (the Django admin aside) is sent PUT, PATCH
and DELETE, and POST when it only serves reading, by an anonymous visitor
and by signed-in users of several roles: the answer is 405, or a refusal
that comes before it (login redirect, 401, 403, 404), never a success and
never a server error. The OpenAPI schema lists the error answers of every
operation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.dispatch import Signal
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts.models import ApiToken
from config import errors
from legal_basis.models import LegalBasis
from requests_app import queries

pytestmark = pytest.mark.django_db

CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
UNSERVED = ("put", "patch", "delete")
REFUSALS_BEFORE_405 = {401, 403, 404}
# Pages that only read: a POST is a 405 too.
GET_ONLY = {
    "requests_app:home",
    "requests_app:detail",
    "requests_app:summary",
    "requests_app:scan",
    "requests_app:reply_pdf",
    "requests_app:reply_page",
    "legal_basis:list",
    "legal_basis:detail",
    "audit:timeline",
    "audit:request",
    "audit:request_access",
    "audit:user_activity",
    "audit:export",
    "accounts:second_factor",
    "accounts:totp_qr",
    "accounts:recovery_codes",
    "accounts:designations",
    "api:my-tasks",
    "api:request-detail",
    "api:request-scan",
    "api:request-reply-pdf",
    "api:legal-basis-list",
    "api:legal-basis-detail",
    "api-schema",
}


def url_patterns() -> Iterator[tuple[str, str]]:
    """(route, name) of every pattern, the Django admin aside."""

    def walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[tuple[str, str]]:
        for pattern in patterns:
            route = str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if route.startswith("admin/"):
                    continue
                inner = pattern.namespace or ""
                ns = ":".join(p for p in (namespace, inner) if p)
                yield from walk(pattern.url_patterns, prefix + route, ns)
            elif isinstance(pattern, URLPattern):
                name = f"{namespace}:{pattern.name}" if namespace else str(pattern.name)
                yield prefix + route, name

    yield from walk(get_resolver().url_patterns, "/", "")


def test_the_walk_covers_every_app():
    names = {name for _, name in url_patterns()}
    for expected in (
        "requests_app:detail",
        "legal_basis:detail",
        "audit:verification",
        "api:request-sign",
        "accounts:enrol",
        "login",
    ):
        assert expected in names, names
    assert not any(name.startswith("admin:") for name in names)


@pytest.fixture
def concrete_urls(flow) -> list[tuple[str, str]]:
    dr = flow.signed()
    basis = LegalBasis.objects.order_by("code", "version").first()
    assert basis is not None
    values = {
        "pk": str(dr.pk),
        "reference": dr.reference,
        "code": basis.code,
        "version": str(basis.version),
        "fmt": "jsonl",
        "number": "1",
    }
    urls = []
    for route, name in url_patterns():
        assert "^" not in route, f"regular-expression route {route}: fill it in here"
        urls.append((CONVERTER.sub(lambda m: values[m.group(2)], route), name))
    return urls


def client_for(user: Any, path: str) -> Client:
    if path.startswith("/api/"):
        api = APIClient()
        if user is not None:
            _token, key = ApiToken.objects.create(user=user)
            api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return api
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def check_refused(response: Any, who: str, method: str, path: str, served: bool) -> None:
    code = response.status_code
    where = (who, method.upper(), path, code)
    assert code < 500, where
    if served:
        # The user reaches the page: only the method is wrong.
        assert code == 405, where
    elif code == 302 and path == reverse("login"):
        # A signed-in user is sent home from the sign-in page, whatever the method.
        assert who != "anonymous", where
        assert response["Location"] == reverse("requests_app:home"), where
    elif code == 302:
        assert who == "anonymous", where
        assert response["Location"].startswith(reverse("login")), where
    else:
        assert code in REFUSALS_BEFORE_405 | {405}, where
    if path.startswith("/api/") and code >= 400:
        assert response["Content-Type"].startswith("application/json"), where


@pytest.mark.parametrize("who", ["anonymous", "secretariat", "president", "auditor"])
def test_unserved_methods_are_refused_on_every_url(concrete_urls, personas, who):
    user = None if who == "anonymous" else personas[who]
    reached = 0
    for path, name in concrete_urls:
        client = client_for(user, path)
        served = user is not None and client.get(path).status_code == 200
        reached += served
        for method in UNSERVED:
            response = getattr(client, method)(path)
            check_refused(response, who, method, path, served)
        if name in GET_ONLY:
            check_refused(client.post(path), who, "post", path, served)
    if user is not None:
        assert reached >= 5, (who, reached)


def test_json_errors_under_api_and_french_pages_elsewhere(client, personas):
    missing = client.get("/api/nothing-here/")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"
    assert set(missing.json()) >= {"detail"}

    page = client.get("/nulle-part/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
    assert "Page introuvable" in page.content.decode()

    api = client_for(personas["secretariat"], "/api/")
    wrong = api.delete(reverse("api:my-tasks"))
    assert wrong.status_code == 405
    assert "detail" in wrong.json()

    anonymous = APIClient().get(reverse("api:my-tasks"))
    assert anonymous.status_code in (401, 403)
    assert "detail" in anonymous.json()


def test_handlers_answer_json_under_api(rf: RequestFactory):
    for handler, status in (
        (errors.bad_request, 400),
        (errors.permission_denied, 403),
        (errors.page_not_found, 404),
    ):
        api = handler(rf.get("/api/requests/"), Exception("x"))
        assert api.status_code == status
        assert api["Content-Type"] == "application/json"
        page = handler(rf.get("/demandes/"), Exception("x"))
        assert page.status_code == status
        assert page["Content-Type"].startswith("text/html")
    try:
        raise RuntimeError("SECRET-TRACEBACK-MARKER")
    except RuntimeError:
        api = errors.server_error(rf.get("/api/requests/"))
        page = errors.server_error(rf.get("/demandes/"))
    assert api.status_code == page.status_code == 500
    assert api["Content-Type"] == "application/json"
    assert api.content.decode().startswith('{"detail": "Erreur interne')
    assert "SECRET-TRACEBACK-MARKER" not in api.content.decode()
    assert "Erreur interne" in page.content.decode()
    assert "SECRET-TRACEBACK-MARKER" not in page.content.decode()


def test_an_unexpected_error_in_the_api_is_a_json_500_without_traceback(personas, monkeypatch):
    def broken(user):
        raise RuntimeError("SECRET-TRACEBACK-MARKER")

    monkeypatch.setattr(queries, "work_queues", broken)
    signalled: list[Any] = []
    signal = Signal()
    signal.connect(lambda sender, request=None, **kw: signalled.append(request.path), weak=False)
    monkeypatch.setattr(errors, "got_request_exception", signal)

    response = client_for(personas["secretariat"], "/api/").get(reverse("api:my-tasks"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["detail"].startswith("Erreur interne")
    assert "SECRET-TRACEBACK-MARKER" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert signalled == [reverse("api:my-tasks")]


def test_the_schema_documents_the_errors_of_every_operation(personas):
    api = client_for(personas["secretariat"], "/api/")
    response = api.get(reverse("api-schema") + "?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert {"Error", "ValidationError"} <= set(schema["components"]["schemas"])
    operations = 0
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            operations += 1
            responses = operation["responses"]
            where = (method, path, sorted(responses))
            assert any(code.startswith("2") for code in responses), where
            required = {"403", "405", "500", "503"}
            if {} not in operation.get("security", [{}]):
                required |= {"401", "404"}
            if method == "post":
                required.add("400")
            if method == "post" and re.search(r"/\{[^}]+\}/\w+/$", path):
                required.add("409")  # a step refused in the request's state
            assert required <= set(responses), where
            for code in required:
                content = responses[code]["content"]["application/json"]["schema"]
                assert content["$ref"] in (
                    "#/components/schemas/Error",
                    "#/components/schemas/ValidationError",
                ), where
    assert operations >= 15
