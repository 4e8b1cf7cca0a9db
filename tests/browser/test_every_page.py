"""Every page, for every role, in French and at a phone's width.

A register holding a request in every state (tests/browser/seed.py) is
built through the services; then each persona logs in and crawls every page
it can reach by following links from its home page and the header, plus the
pages of every seeded request it may open. On each page, at 390 px wide:

- the visible text (and the attribute text people read: titles,
  placeholders, labels for assistive technology, alternative text, options)
  holds no code (snake_case or CamelCase identifiers) and no English: no
  source string of the catalogue that French translates differently, and none
  of the English function words that French text never contains;
- dates and times are Belgian (dd/mm/yyyy, HH:MM, Brussels time): no ISO
  timestamps, no "UTC", no English month or day names, no time of day that is
  the UTC clock rather than the Brussels one;
- the page does not scroll sideways (wide tables scroll inside their own
  container); the register's and the audit log's filters fold away;
- axe-core (WCAG 2.1 AA) finds nothing.

Every failure is collected and reported together, by role and page.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, ViewportSize, expect

from accounts.models import Role, User
from tests.conftest import PASSWORD, Flow, fresh_otp, make_user
from tests.conftest import persona as world_persona
from tests.words import Clock, words_problems

from .conftest import AXE_URL, WCAG_TAGS, Browsing, Persona, describe, in_thread
from .seed import Seeded, every_state

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLES = ["secretariat", "president", "dg", "referent", "auditor", "dpo"]
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}

# Not pages: sign-out, files (letters, scans, QR codes, exports), the API,
# the Django admin and the static files.
NOT_A_PAGE = re.compile(
    r"^/(deconnexion|api|admin|static|media|compte/webauthn)/"
    r"|^/audit/export/"
    r"|/lettre/$"
    r"|\.(pdf|png|svg|jpe?g|csv|jsonl|json|ico|txt)$"
)
# The same page under other query strings (sorting, paging, a filter), for
# any request: a couple of them are enough.
QUERIES_PER_FAMILY = 2
# The catalogue's records read the same for every role: one role checks them.
SAME_FOR_EVERYONE = re.compile(r"^/bases-legales/.+/v\d+/$")


INSPECT_SOURCE = Path(__file__).parent / "inspect_page.js"
INSPECT = "\n".join(
    line
    for line in INSPECT_SOURCE.read_text(encoding="utf-8").splitlines()
    if not line.startswith("//")
)
OPEN_DETAILS = "() => document.querySelectorAll('details:not([open])').forEach(d => d.open = true)"


def family(path: str) -> str:
    """The page's kind: the path with its numbers and references left out."""
    return re.sub(r"SP-\d{4}-\d+|\d+", "N", path)


class Crawl:
    """One persona's walk through the pages, collecting every problem."""

    def __init__(self, persona: Persona, clock: Clock, *, catalogue_records: bool) -> None:
        self.persona = persona
        self.page: Page = persona.page
        self.clock = clock
        # The catalogue's records read the same for every role: one role checks them.
        self.catalogue_records = catalogue_records
        self.failures: dict[str, list[str]] = defaultdict(list)
        self.visited: list[str] = []
        self._queries: dict[str, set[str]] = defaultdict(set)
        self._seen: set[str] = set()
        self._queue: deque[str] = deque()

    def enqueue(self, url: str) -> None:
        parts = urlsplit(url)
        path = parts.path
        key = path + ("?" + parts.query if parts.query else "")
        if key in self._seen or NOT_A_PAGE.search(path):
            return
        if parts.query:
            kind = family(path)
            if len(self._queries[kind]) >= QUERIES_PER_FAMILY:
                return
            self._queries[kind].add(parts.query)
        if SAME_FOR_EVERYONE.match(path) and not self.catalogue_records:
            return
        self._seen.add(key)
        self._queue.append(key)

    def run(self, start: list[str]) -> None:
        for url in start:
            self.enqueue(url)
        while self._queue:
            self.check(self._queue.popleft())

    def check(self, url: str) -> None:
        page = self.page
        response = page.goto(url)
        status = response.status if response else 0
        self.visited.append(f"{url} ({status})")
        parts = urlsplit(page.url)
        landed = parts.path + ("?" + parts.query if parts.query else "")
        label = f"{url} [{status}]" + (f" → {landed}" if landed != url else "")
        self.inspect(label)
        origin = f"{parts.scheme}://{parts.netloc}"
        for href in page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)"):
            if href.startswith(origin + "/"):
                self.enqueue(href[len(origin) :].split("#")[0])

    def inspect(self, label: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        problems = self.failures[label]
        seen = page.evaluate(INSPECT, False)
        if seen["scrollWidth"] > seen["innerWidth"]:
            problems.append(
                f"défilement horizontal à {seen['innerWidth']} px "
                f"(largeur {seen['scrollWidth']} px): " + "; ".join(seen["wide"])
            )
        problems.extend(f"axe: {describe(v)}" for v in axe_violations(page))
        # Folded parts are read too, and must not widen the page once open.
        page.evaluate(OPEN_DETAILS)
        # What is marked translate="no" (addresses, user agents, fingerprints)
        # is data shown as it is: left out of the words checked.
        opened = page.evaluate(INSPECT, True)
        if opened["scrollWidth"] > opened["innerWidth"] >= seen["scrollWidth"]:
            problems.append(
                f"défilement horizontal, sections dépliées (largeur {opened['scrollWidth']} px): "
                + "; ".join(opened["wide"])
            )
        text = "\n".join([opened["title"], opened["text"], *opened["attrs"]])
        problems.extend(words_problems(text, self.clock))
        if not problems:
            del self.failures[label]


def axe_violations(page: Page) -> list[dict[str, Any]]:
    page.wait_for_load_state("load")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=AXE_URL)
    result = page.evaluate(
        """tags => axe.run(document, {runOnly: {type: "tag", values: tags},
                                      resultTypes: ["violations"]})""",
        WCAG_TAGS,
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def request_pages(seeded: Seeded, role: str, people: dict[str, User]) -> list[str]:
    """The seeded requests' pages the role may open (links lead to the rest)."""
    if role == "auditor":
        urls = []
        for reference in seeded.references.values():
            urls += [f"/audit/demandes/{reference}/", f"/audit/demandes/{reference}/acces/"]
        return urls
    if role == "dpo":
        # No request page is the DPO's: the matrix (test_access.py) checks the 404s.
        return []
    requests = list(seeded.requests.values())
    if role == "referent":
        mine = [dr for dr in requests if dr.referent_id == people["referent"].pk]
        others = [dr for dr in requests if dr.referent_id != people["referent"].pk]
        # One request that is not theirs: the refusal page they would see.
        requests = mine + others[:1]
    return [f"/demandes/{dr.pk}/" for dr in requests]


def login_pages(ui: Browsing, user: User, clock: Clock) -> tuple[Persona, Crawl]:
    """The pages before the menu: sign-in (and its error), the second factor."""
    persona = ui.as_(user, login=False)
    persona.page.set_viewport_size(PHONE)
    crawl = Crawl(persona, clock, catalogue_records=False)
    page = persona.page
    page.goto("/connexion/")
    crawl.inspect("/connexion/")
    page.get_by_label("Identifiant").fill(user.username)
    page.get_by_label("Mot de passe").fill("pas le bon mot de passe")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_be_visible()
    crawl.inspect("/connexion/ (mot de passe erroné)")
    page.get_by_label("Identifiant").fill(user.username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Second facteur")
    crawl.inspect(f"{urlsplit(page.url).path} (second facteur)")
    page.get_by_label(re.compile(r"^Code\s*:?$")).fill("000000")
    page.get_by_role("button", name="Vérifier").click()
    # The refusal is on the next page: wait for it, not the heading both share.
    expect(page.get_by_role("alert")).to_contain_text("corrigez le code ci-dessous")
    crawl.inspect(f"{urlsplit(page.url).path} (code erroné)")
    page.get_by_label(re.compile(r"^Code\s*:?$")).fill(fresh_otp(user))
    page.get_by_role("button", name="Vérifier").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bonjour")
    return persona, crawl


def enrolment_pages(ui: Browsing, clock: Clock) -> Crawl:
    """A newcomer's first sign-in: enrolment of an authenticator, recovery codes."""
    newcomer = in_thread(lambda: _newcomer())
    persona = ui.as_(newcomer, login=False)
    persona.page.set_viewport_size(PHONE)
    crawl = Crawl(persona, clock, catalogue_records=False)
    page = persona.page
    page.goto("/connexion/")
    page.get_by_label("Identifiant").fill(newcomer.username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    crawl.inspect(f"{urlsplit(page.url).path} (inscription)")
    code = in_thread(lambda: _pending_code(newcomer))
    page.locator("input[name=otp]").fill(code)
    page.locator("main form button[type=submit]").first.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    crawl.inspect(f"{urlsplit(page.url).path} (codes de secours)")
    return crawl


def _newcomer() -> User:
    user = make_user("nouvelle", Role.REFERENT, first_name="Lise", last_name="Nouvelle")
    TOTPDevice.objects.filter(user=user).delete()
    return user


def _pending_code(user: User) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    clock = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{clock.token():0{device.digits}d}"


def fold_problems(persona: Persona, path: str, field: str) -> list[str]:
    """The filters of `path` fold away on a phone and are open on a desk."""
    page = persona.page
    problems = []
    page.set_viewport_size(PHONE)
    page.goto(path)
    if page.locator(field).first.is_visible():
        problems.append(f"les filtres ne sont pas repliés à {PHONE['width']} px ({field})")
    page.set_viewport_size(DESKTOP)
    page.goto(path)
    if not page.locator(field).first.is_visible():
        problems.append(f"les filtres sont repliés à {DESKTOP['width']} px ({field})")
    page.set_viewport_size(PHONE)
    return problems


def report(failures: dict[str, list[str]]) -> str:
    lines = []
    for label, problems in failures.items():
        lines.append(f"\n{label}")
        lines.extend(f"    - {p}" for p in problems)
    return "\n".join(lines)


def test_sign_in_pages_are_french_and_fit_a_phone(ui: Browsing, people):
    clock = Clock()
    _, crawl = login_pages(ui, people["secretariat"], clock)
    failures = {f"[connexion] {k}": v for k, v in crawl.failures.items() if v}
    enrolment = enrolment_pages(ui, clock)
    failures |= {f"[nouveau compte] {k}": v for k, v in enrolment.failures.items() if v}
    clock.stop()

    assert not failures, "Pages with problems:" + report(failures)


@pytest.mark.parametrize("role", ROLES)
def test_every_page_of_a_role_is_french_and_fits_a_phone(ui: Browsing, people, role):
    clock = Clock()
    everyone = {**people, "other_referent": world_persona("other_referent")}
    seeded = in_thread(lambda: every_state(Flow(everyone)))
    current = ui.as_(people[role])
    current.page.set_viewport_size(PHONE)
    # The catalogue's records read the same for every role: the Président's
    # walk checks them, the others' only the catalogue's list.
    crawl = Crawl(current, clock, catalogue_records=role == "president")
    crawl.run(["/", *request_pages(seeded, role, people)])
    current.page.goto("/")
    current.screenshot(f"mobile-home-{role}")
    if role == "auditor":
        # The verification's outcome, once run from the page.
        current.page.goto("/audit/verification/")
        current.page.get_by_role("button", name="Vérifier maintenant").click()
        expect(current.page.locator("main .messages")).to_be_visible()
        crawl.inspect("/audit/verification/ (après une vérification)")
        crawl.failures["/audit/ (pliage)"] += fold_problems(current, "/audit/", "#id_acteur")
        current.page.goto("/audit/")
        current.screenshot("mobile-audit")
    elif role == "dpo":
        current.page.goto("/statistiques/")
        current.screenshot("mobile-statistics")
    else:
        crawl.failures["/demandes/ (pliage)"] += fold_problems(
            current, "/demandes/", "form.filters select"
        )
        if role == "president":
            current.page.goto("/demandes/")
            current.screenshot("mobile-register")
    clock.stop()

    print(f"\n{role}: {len(crawl.visited)} pages")
    for url in crawl.visited:
        print(f"  {url}")
    if seeded.missing:
        print(f"\nNot seeded yet (no service): {', '.join(seeded.missing)}")
    # The role reached its home, the catalogue and more than a handful of pages.
    assert len(crawl.visited) >= 5, crawl.visited
    failures = {f"[{role}] {k}": v for k, v in crawl.failures.items() if v}
    assert not failures, "Pages with problems:" + report(failures)
