"""A real Chromium (Playwright, sync API) against the live server on PostgreSQL.

One browser for the browser tests, one context (cookie jar) per persona, who
logs in through the real login page, then the second-factor page with a
code of their authenticator (each persona's key is known: tests/conftest.py).
Every page can be checked with axe-core (vendored under
static/vendor/axe-core/) against the WCAG 2.1 AA rules, and any
Content-Security-Policy violation reported by the browser fails the test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from accounts.models import Role, User
from tests.conftest import PASSWORD, SIGNING_ROLES, fresh_otp, give_credential
from tests.conftest import persona as world_persona

CHROMIUM = os.environ.get("HUISCLOS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_URL = "/static/vendor/axe-core/axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = {"serious", "critical"}
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"

# Playwright's sync API keeps an asyncio loop running in this thread, which
# Django's guard takes for async code. The tests only touch the database
# between browser calls, never concurrently with them.
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"

# Names shown in the header, on home pages and in the screenshots.
PERSONAS = {
    "secretariat": (Role.SECRETARIAT, "Sophie", "Lambert"),
    "president": (Role.PRESIDENT, "Marc", "Dubois"),
    "dg": (Role.DIRECTOR_GENERAL, "Anne", "Leclercq"),
    "referent": (Role.REFERENT, "Julie", "Martin"),
    "auditor": (Role.AUDITOR, "Paul", "Renard"),
    "dpo": (Role.DPO, "Nadia", "Peeters"),
}


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
            # While Playwright's loop runs, Django keeps this thread's
            # connections apart from its usual ones: close them here.
            connections.close_all()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


def in_thread[T](work: Callable[[], T]) -> T:
    """Run `work` (service calls preparing data) in a thread of its own.

    Signing a letter calls asyncio.run(), which refuses to run in the thread
    where Playwright's loop runs. The worker's writes are committed (these
    tests are transactional), so the live server sees them.
    """

    def run() -> T:
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@pytest.fixture
def people(transactional_db: None) -> dict[str, User]:
    """One persona per role, committed so that the live server sees them.

    They are the world's personas (tests/conftest.py), named for the pages
    and the screenshots; the signers get a certificate in their new name.
    The flush after the test and the rebuild of the world undo it.
    """
    people = {}
    for key, (role, first, last) in PERSONAS.items():
        user = world_persona(key)
        assert list(user.groups.values_list("name", flat=True)) == [role], key
        user.first_name, user.last_name = first, last
        user.save(update_fields=["first_name", "last_name"])
        if role in SIGNING_ROLES:
            give_credential(user)
        people[key] = user
    return people


@dataclass
class AxeReport:
    """Every axe run of the session, for the summary printed at the end."""

    runs: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for _, violations in self.runs:
            for violation in violations:
                impact = violation.get("impact") or "unknown"
                totals[impact] = totals.get(impact, 0) + 1
        return totals


@pytest.fixture(scope="package")
def axe_report() -> Iterator[AxeReport]:
    report = AxeReport()
    yield report
    if report.runs:
        counts = report.counts()
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"
        print(f"\naxe-core: {len(report.runs)} pages checked; violations by impact: {summary}")


def describe(violation: dict[str, Any]) -> str:
    targets = [", ".join(node["target"]) for node in violation["nodes"][:5]]
    return (
        f"[{violation.get('impact')}] {violation['id']}: {violation['help']} "
        f"({len(violation['nodes'])} element(s): {'; '.join(targets)})"
    )


class Persona:
    """One logged-in user in their own browser context."""

    def __init__(self, context: BrowserContext, user: User, axe_report: AxeReport) -> None:
        self.context = context
        self.user = user
        self.page: Page = context.new_page()
        self.axe_report = axe_report
        self.csp_violations: list[str] = []
        self.page.on("console", self._on_console)

    def _on_console(self, message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.csp_violations.append(f"{self.page.url}: {message.text}")

    def login(self) -> Persona:
        page = self.page
        page.goto("/connexion/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Connexion")
        page.get_by_label("Identifiant").fill(self.user.username)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        # The second factor: the persona's authenticator (tests/conftest.py).
        expect(page.get_by_role("heading", level=1)).to_have_text("Second facteur")
        page.get_by_label(re.compile(r"^Code\s*:?$")).fill(fresh_otp(self.user))
        page.get_by_role("button", name="Vérifier").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            f"Bonjour {self.user.get_full_name()}"
        )
        return self

    def home(self) -> Page:
        self.page.get_by_role("navigation", name="Navigation principale").get_by_role(
            "link", name="Accueil"
        ).click()
        expect(self.page.get_by_role("heading", level=1)).to_contain_text("Bonjour")
        return self.page

    def open_request(self, section: str, reference: str) -> Page:
        """From the home page, open `reference` listed under `section`."""
        page = self.home()
        card = page.locator("section.card").filter(
            has=page.get_by_role("heading", level=2, name=re.compile(f"^{re.escape(section)}"))
        )
        card.get_by_role("link", name=reference, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Demande {reference}")
        return page

    def expect_state(self, label: str) -> None:
        expect(self.page.locator("p.status .state")).to_have_text(label)

    def expect_message(self, text: str) -> None:
        expect(self.page.locator("main .messages")).to_contain_text(text)

    def axe(self, label: str) -> list[dict[str, Any]]:
        """Run axe-core on the current page; fail on serious or critical violations."""
        page = self.page
        # A page still loading may have no head yet to add the script to.
        page.wait_for_load_state("load")
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            # Loaded from the app's own origin, so the strict CSP allows it.
            page.add_script_tag(url=AXE_URL)
        result = page.evaluate(
            """tags => axe.run(document, {runOnly: {type: "tag", values: tags},
                                          resultTypes: ["violations"]})""",
            WCAG_TAGS,
        )
        violations: list[dict[str, Any]] = result["violations"]
        self.axe_report.runs.append((label, violations))
        blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
        for violation in violations:
            if violation.get("impact") not in BLOCKING_IMPACTS:
                print(f"axe {label}: {describe(violation)}")
        assert not blocking, f"axe on {label} ({page.url}):\n" + "\n".join(
            describe(v) for v in blocking
        )
        return violations

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


class Browsing:
    """Opens one browser context per persona and checks them at the end."""

    def __init__(self, browser: Browser, base_url: str, axe_report: AxeReport) -> None:
        self.browser = browser
        self.base_url = base_url
        self.axe_report = axe_report
        self.personas: list[Persona] = []

    def as_(self, user: User, *, login: bool = True) -> Persona:
        context = self.browser.new_context(
            base_url=self.base_url,
            locale="fr-BE",
            timezone_id="Europe/Brussels",
            viewport={"width": 1280, "height": 900},
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        persona = Persona(context, user, self.axe_report)
        self.personas.append(persona)
        return persona.login() if login else persona

    def close(self) -> list[str]:
        violations = [v for p in self.personas for v in p.csp_violations]
        for persona in self.personas:
            persona.context.close()
        return violations


@pytest.fixture
def ui(chromium, live_server, axe_report) -> Iterator[Browsing]:
    browsing = Browsing(chromium, live_server.url, axe_report)
    yield browsing
    csp_violations = browsing.close()
    assert not csp_violations, "Content-Security-Policy violations:\n" + "\n".join(csp_violations)
