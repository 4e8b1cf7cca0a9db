"""Acting designations in the browser (issue 14): the DG designates an acting
Président on the page, who then signs a reply as acting; the DG ends a
designation after a confirmation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, ViewportSize, expect

from accounts import services as accounts
from accounts.models import ActingDesignation, Role
from requests_app import services
from requests_app.models import Signature, State
from tests.conftest import Flow, fresh_otp, give_credential, make_user, reread

from .conftest import Browsing, Persona, in_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MOBILE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
# One word of 100 characters: it must wrap rather than widen a phone's page.
LONG_REFERENCE = "CAS/2026/" + "0" * 91


def field(scope: Page | Locator, label: str) -> Locator:
    """The form field labelled `label` (Django adds " :" after each label)."""
    return scope.get_by_label(re.compile(rf"^{re.escape(label)}\s*:?$"))


def no_violations(persona: Persona, label: str) -> None:
    violations = persona.axe(label)
    assert violations == [], [v["id"] for v in violations]


def fits_a_phone(persona: Persona, name: str) -> None:
    """At 390 px the page scrolls only vertically; a screenshot is kept."""
    page = persona.page
    page.set_viewport_size(MOBILE)
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    persona.screenshot(name)
    page.set_viewport_size(DESKTOP)
    assert widths[0] <= widths[1], f"horizontal scrolling at 390 px: {widths}"


def open_designations(persona: Persona) -> Page:
    page = persona.page
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Désignations faisant fonction"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Désignations faisant fonction")
    return page


def section(page: Page, title: str) -> Locator:
    return page.locator("section.card").filter(
        has=page.get_by_role("heading", level=2, name=re.compile(f"^{re.escape(title)}"))
    )


def test_dg_designates_an_acting_president_who_signs_as_acting(ui: Browsing, people):
    deputy = make_user("deputy", Role.SECRETARIAT, first_name="Luc", last_name="Gérard")
    give_credential(deputy)
    dr = in_thread(Flow(people).awaiting_signatures)
    reference = dr.reference
    today = timezone.localdate()
    last_day = today + timedelta(days=14)

    # The DG designates Luc Gérard acting Président from today, on the page.
    dg = ui.as_(people["dg"])
    page = open_designations(dg)
    no_violations(dg, "désignations faisant fonction (vide)")
    page.get_by_role("link", name="Désigner un faisant fonction").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Désigner un faisant fonction")
    no_violations(dg, "formulaire de désignation")
    field(page, "Personne désignée").select_option(label="Luc Gérard")
    field(page, "Faisant fonction de").select_option(label="Président")
    expect(field(page, "Premier jour")).to_have_value(today.isoformat())
    field(page, "Dernier jour").fill(last_day.isoformat())
    field(page, "Date de la décision du conseil").fill((today - timedelta(days=3)).isoformat())
    field(page, "Référence de la décision du conseil").fill("CAS/2026/041")
    dg.screenshot("designation-form")
    fits_a_phone(dg, "designation-form-mobile")
    page.get_by_role("button", name="Enregistrer la désignation").click()

    dg.expect_message(
        f"Luc Gérard est désigné(e) Président f.f. du {today:%d/%m/%Y} au {last_day:%d/%m/%Y}."
    )
    running = section(page, "En cours aujourd'hui")
    expect(running.get_by_role("heading", level=3)).to_have_text("Luc Gérard, Président f.f.")
    expect(running).to_contain_text(f"du {today:%d/%m/%Y} au {last_day:%d/%m/%Y} inclus")
    expect(running).to_contain_text("référence CAS/2026/041")
    expect(running).to_contain_text("Anne Leclercq")
    no_violations(dg, "désignations faisant fonction")
    dg.screenshot("designations")
    fits_a_phone(dg, "designations-mobile")
    designation = ActingDesignation.objects.get(user=deputy)
    assert designation.designated_by == people["dg"]
    assert (designation.starts_on, designation.ends_on) == (today, last_day)

    # The DG signs first (through the service); the acting Président second.
    in_thread(lambda: services.sign_reply(dr, actor=people["dg"], otp=fresh_otp(people["dg"])))
    acting = ui.as_(deputy)
    page = acting.open_request("À signer", reference)
    page.get_by_role("link", name="Signer la réponse").click()
    field(page, "Code de votre application d'authentification (confirme la signature)").fill(
        fresh_otp(deputy)
    )
    page.get_by_role("button", name="Signer la réponse").click()

    acting.expect_message(f"Réponse {reference} signée (Le Président f.f.).")
    acting.expect_state("Réponse signée, à expédier")
    expect(page.get_by_text(re.compile(r"^Le Président f\.f\. : Luc Gérard, le "))).to_be_visible()
    acting.screenshot("acting-president-signed")
    signature = Signature.objects.get(signer=deputy)
    assert signature.is_acting
    assert signature.capacity == Role.PRESIDENT
    assert reread(dr).state == State.SIGNED


def test_dg_ends_a_designation_after_confirming(ui: Browsing, people):
    deputy = make_user("deputy", Role.REFERENT, first_name="Luc", last_name="Gérard")
    today = timezone.localdate()
    designation = accounts.designate_acting(
        people["president"],
        deputy,
        Role.DIRECTOR_GENERAL,
        today,
        today + timedelta(days=30),
        today,
        LONG_REFERENCE,
    )

    dg = ui.as_(people["dg"])
    page = open_designations(dg)
    running = section(page, "En cours aujourd'hui")
    expect(running).to_contain_text("Marc Dubois")
    running.get_by_role("link", name="Mettre fin à cette désignation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Mettre fin à une désignation faisant fonction"
    )
    no_violations(dg, "confirmation de fin de désignation")
    expect(page.locator("main")).to_contain_text(LONG_REFERENCE)
    dg.screenshot("designation-end")
    fits_a_phone(dg, "designation-end-mobile")
    expect(field(page, "Ne compte plus à partir du")).to_have_value(today.isoformat())
    page.get_by_role("button", name="Mettre fin à la désignation").click()

    dg.expect_message(
        f"La désignation de Luc Gérard comme Directeur général f.f. ne compte plus à partir du "
        f"{today:%d/%m/%Y}."
    )
    expect(section(page, "En cours aujourd'hui")).to_contain_text("Aucune.")
    past = section(page, "Terminées ou passées")
    expect(past).to_contain_text(f"Fin anticipée : ne compte plus à partir du {today:%d/%m/%Y}.")
    expect(past).to_contain_text("Anne Leclercq")
    fits_a_phone(dg, "designations-ended-mobile")
    designation.refresh_from_db()
    assert designation.revoked_by == people["dg"]
    assert not deputy.__class__.objects.get(pk=deputy.pk).has_role(Role.DIRECTOR_GENERAL)
