"""Strict Content-Security-Policy and security headers on every page.

Not a browser test: the Django test client visits every page each persona
can reach, in a state where the page is really shown, and checks that

- the Content-Security-Policy header is there and allows neither
  'unsafe-inline' nor 'unsafe-eval' (script-src, default-src, style-src);
- the HTML has no inline <script> or <style> block, no on* event attribute,
  no style="" attribute and no javascript: URL, so the strict policy breaks
  nothing;
- every response says Cache-Control: no-store and X-Content-Type-Options:
  nosniff.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from accounts.models import User
from legal_basis.models import LegalBasis
from tests.conftest import Flow, checklist_post

pytestmark = pytest.mark.django_db

UNSAFE = ("'unsafe-inline'", "'unsafe-eval'")
CHECKED_DIRECTIVES = ("default-src", "script-src", "style-src")


class InlineCodeFinder(HTMLParser):
    """Collects whatever a strict CSP would block or that needs 'unsafe-inline'."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False
        self._script_has_src = False
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> event attribute")
            if name == "style":
                self.problems.append(f'<{tag} style="{value}"> attribute')
            if name in {"href", "src", "action", "formaction"} and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}> javascript: URL")
        if tag == "script":
            self._in_script = True
            self._script_has_src = any(name == "src" for name, _ in attrs)
            if not self._script_has_src:
                self.problems.append("inline <script> block")
        if tag == "style":
            self._in_style = True
            self.problems.append("inline <style> block")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_script and self._script_has_src and data.strip():
            self.problems.append("<script src> with inline code")


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = [w.lower() for w in words[1:]]
    return directives


def problems_of(response) -> list[str]:
    problems: list[str] = []
    header = response.get("Content-Security-Policy")
    if not header:
        problems.append("no Content-Security-Policy header")
    else:
        directives = csp_directives(header)
        if "default-src" not in directives:
            problems.append("CSP without default-src")
        for directive in CHECKED_DIRECTIVES:
            for keyword in UNSAFE:
                if keyword in directives.get(directive, []):
                    problems.append(f"CSP {directive} allows {keyword}")
    if response.get("Cache-Control") != "no-store":
        problems.append(f"Cache-Control is {response.get('Cache-Control')!r}, not 'no-store'")
    if response.get("X-Content-Type-Options") != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    if response.get("Content-Type", "").startswith("text/html"):
        finder = InlineCodeFinder()
        finder.feed(response.content.decode())
        finder.close()
        problems += finder.problems
    return problems


@dataclass
class Visit:
    label: str
    url: str
    status: int = 200
    post: dict[str, object] | None = None
    follow: bool = False


def check(client: Client, user: User | None, visits: list[Visit]) -> list[str]:
    client.logout()
    if user is not None:
        client.force_login(user)
    found: list[str] = []
    who = user.username if user is not None else "anonymous"
    for visit in visits:
        if visit.post is None:
            response = client.get(visit.url)
        else:
            response = client.post(visit.url, visit.post, follow=visit.follow)
        if response.status_code != visit.status:
            found.append(
                f"{who} {visit.label} {visit.url}: status {response.status_code}, "
                f"expected {visit.status}"
            )
        found += [f"{who} {visit.label} {visit.url}: {p}" for p in problems_of(response)]
    return found


def url(name: str, *args: object) -> str:
    return reverse(name, args=args)


def test_every_page_has_a_strict_csp_and_no_inline_code(client, personas, flow: Flow):
    to_assign = flow.received()
    assigned = flow.assigned()
    in_review = flow.in_review()
    to_sign = flow.awaiting_signatures()
    signed = flow.signed()
    closed = flow.closed()
    oral = flow.closed_oral()
    inadmissible = flow.inadmissible()
    every = [to_assign, assigned, in_review, to_sign, signed, closed, oral, inadmissible]
    ji = LegalBasis.objects.current().get(code="ji-search-seizure")
    catalogue = [
        Visit("catalogue", url("legal_basis:list")),
        Visit("catalogue entry", url("legal_basis:detail", ji.code, ji.version)),
    ]
    detail_pages = [Visit(f"detail {dr.state}", dr.get_absolute_url()) for dr in every]
    schema = Visit("api schema", url("api-schema"))

    visits: dict[str, list[Visit]] = {
        "secretariat": [
            Visit("home", url("requests_app:home")),
            Visit("register", url("requests_app:register")),
            Visit(
                "register filtered",
                url("requests_app:register"),
                post={"state": "signed", "overdue": "on"},
                follow=True,
            ),
            Visit("create", url("requests_app:create")),
            Visit("create follow-up", url("requests_app:create") + f"?follows={closed.pk}"),
            Visit(
                "create with errors",
                url("requests_app:create"),
                status=400,
                post={"channel": "post", "persons-TOTAL_FORMS": "0"},
            ),
            Visit("dispatch", url("requests_app:dispatch", signed.pk)),
            Visit(
                "create check with errors",
                url("requests_app:create"),
                status=400,
                post={"channel": "post", "preview": "1", "persons-TOTAL_FORMS": "0"},
            ),
            Visit("forbidden step", url("requests_app:assign", to_assign.pk), status=404),
            *detail_pages,
            *catalogue,
            schema,
        ],
        "president": [
            Visit("home", url("requests_app:home")),
            Visit("register", url("requests_app:register")),
            Visit("assign", url("requests_app:assign", to_assign.pk)),
            Visit("sign", url("requests_app:sign", to_sign.pk)),
            Visit("sign inadmissibility", url("requests_app:sign", inadmissible.pk)),
            Visit("forbidden step", url("requests_app:sign", assigned.pk), status=403),
            Visit("summary", url("requests_app:summary", signed.pk)),
            Visit(
                "register searched and sorted",
                url("requests_app:register"),
                post={
                    "q": "SP",
                    "person": "CANARYNOM",
                    "legal_basis": "ji-search-seizure",
                    "sort": "-due_on",
                },
                follow=True,
            ),
            Visit(
                "register with errors",
                url("requests_app:register"),
                status=400,
                post={"due_from": "x"},
            ),
            Visit(
                "register criteria in the address",
                url("requests_app:register") + "?person=CANARYNOM",
                status=400,
            ),
            Visit("register search expired", url("requests_app:register") + "?search=x", 400),
            *detail_pages,
            *catalogue,
            schema,
        ],
        "dg": [
            Visit("home", url("requests_app:home")),
            Visit("register", url("requests_app:register")),
            Visit("review", url("requests_app:review", in_review.pk)),
            Visit(
                "review with errors",
                url("requests_app:review", in_review.pk),
                status=400,
                post={"decision": "return", "remarks": "", "items-TOTAL_FORMS": "0"},
            ),
            Visit("sign", url("requests_app:sign", to_sign.pk)),
            *detail_pages,
            *catalogue,
            schema,
        ],
        "referent": [
            Visit("home", url("requests_app:home")),
            Visit("register", url("requests_app:register")),
            Visit("opinion", url("requests_app:opinion", assigned.pk)),
            Visit(
                "opinion with conditions",
                url("requests_app:opinion", assigned.pk),
                post={
                    "legal_bases": [ji.pk],
                    "refresh": "1",
                    "items-TOTAL_FORMS": "0",
                    "items-INITIAL_FORMS": "0",
                },
            ),
            Visit(
                "opinion with errors",
                url("requests_app:opinion", assigned.pk),
                status=400,
                post={
                    "legal_bases": [ji.pk],
                    "proposal": "disclose",
                    "reasoning": "",
                    "items-TOTAL_FORMS": "0",
                    "items-INITIAL_FORMS": "0",
                    **checklist_post([ji]),
                },
            ),
            Visit("assigned request", assigned.get_absolute_url()),
            *catalogue,
            schema,
        ],
        "auditor": [
            Visit("home", url("requests_app:home")),
            Visit("audit timeline", url("audit:timeline")),
            Visit("audit request trail", url("audit:request", closed.reference)),
            Visit("audit request access", url("audit:request_access", closed.reference)),
            Visit("audit user activity", url("audit:user_activity")),
            Visit("audit verification", url("audit:verification")),
            *catalogue,
            schema,
        ],
        "outsider": [Visit("home without a role", url("requests_app:home"), status=403)],
    }

    found = check(client, None, [Visit("login", url("login"))])
    for key, pages in visits.items():
        found += check(client, personas[key], pages)

    assert not found, "\n".join(found)


def test_login_page_with_an_error_has_the_same_headers(client, personas):
    found = check(
        client,
        None,
        [
            Visit(
                "login error",
                url("login"),
                post={"username": "secretariat", "password": "wrong"},
            )
        ],
    )
    assert not found, "\n".join(found)


def test_the_checks_catch_what_a_strict_policy_forbids():
    page = HttpResponse(
        '<p style="color:red" onclick="x()">a</p><script>alert(1)</script>'
        '<script src="/static/a.js"></script><style>p{}</style>'
        '<a href="javascript:void(0)">b</a>'
    )
    page["Content-Security-Policy"] = "default-src 'self'; script-src 'self' 'unsafe-inline'"

    found = problems_of(page)

    assert found == [
        "CSP script-src allows 'unsafe-inline'",
        "Cache-Control is None, not 'no-store'",
        "no X-Content-Type-Options: nosniff",
        '<p style="color:red"> attribute',
        "<p onclick=…> event attribute",
        "inline <script> block",
        "inline <style> block",
        "<a href='javascript:void(0)'> javascript: URL",
    ]
