"""Correcting a registration and annulling a registration error, in a real browser.

The secretariat corrects a requester's name before any referent is assigned
(the audit event names the field, never its values); the DG corrects a
person's date of birth after the assignment and reads the previous value in
the history; the DG annuls a request whose letter is half signed. Each page
passes axe-core with no violation at all and fits a 390 px wide screen.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from audit.models import AuditEvent
from requests_app.models import DisclosureRequest, Reply, State
from tests.conftest import CANARY_NAME, Flow

from .conftest import Browsing, Persona, in_thread
from .test_procedure import field, subform

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=900)


def no_violation(persona: Persona, label: str) -> None:
    """axe-core finds nothing on the page, whatever the impact."""
    violations = persona.axe(label)
    assert violations == [], [v["id"] for v in violations]


def fits_a_phone(persona: Persona, label: str, screenshot: str = "") -> None:
    """At 390 px the page scrolls down only, never sideways."""
    page = persona.page
    page.set_viewport_size(PHONE)
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{label}: {widths[0]} px wide on a {widths[1]} px screen"
    no_violation(persona, f"{label} (390 px)")
    if screenshot:
        persona.screenshot(screenshot)
    page.set_viewport_size(DESKTOP)


def open_request(persona: Persona, dr: DisclosureRequest) -> Page:
    page = persona.page
    page.goto(f"/demandes/{dr.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Demande {dr.reference}")
    return page


def last_correction_event() -> AuditEvent:
    return AuditEvent.objects.filter(action="correct_registration").latest("seq")


def test_secretariat_corrects_the_requester_name_before_assignment(ui: Browsing, people):
    dr = in_thread(Flow(people).received)
    secretariat = ui.as_(people["secretariat"])
    page = open_request(secretariat, dr)

    page.get_by_role("link", name="Corriger les données d'enregistrement").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Corriger l'enregistrement de la demande {dr.reference}"
    )
    # Prefilled with what the secretariat typed at intake.
    expect(field(page, "Nom du demandeur")).to_have_value("Juge CANARYJUGE")
    expect(field(subform(page, "Personne 1"), "Nom")).to_have_value(CANARY_NAME)
    no_violation(secretariat, "formulaire de correction (secrétariat)")
    secretariat.screenshot("correction-secretariat")
    fits_a_phone(secretariat, "formulaire de correction", "correction-secretariat-390")

    field(page, "Nom du demandeur").fill("Juge Claire Dupont")
    field(page, "Motif de la correction").fill("Nom mal recopié depuis la lettre.")
    # "Vérifier" says what would change, in place, without recording anything.
    page.get_by_role("button", name="Vérifier").click()
    panel = page.locator("#intake-check")
    expect(panel).to_contain_text("Rien n'a encore été corrigé.")
    expect(panel.get_by_role("listitem")).to_have_text(["Nom du demandeur"])
    assert in_thread(lambda: DisclosureRequest.objects.get(pk=dr.pk).requester_name) == (
        "Juge CANARYJUGE"
    )
    no_violation(secretariat, "formulaire de correction, après vérification")
    secretariat.screenshot("correction-secretariat-check")
    page.get_by_role("button", name="Enregistrer la correction").click()

    secretariat.expect_message(
        f"Données d'enregistrement de la demande {dr.reference} corrigées : Nom du demandeur."
    )
    secretariat.expect_state("En attente d'un référent")
    history = page.locator("section.corrections")
    expect(history).to_contain_text("Nom du demandeur")
    expect(history).to_contain_text("Nom mal recopié depuis la lettre.")
    # The secretariat reads who, when, what and why; never the previous values.
    expect(history).not_to_contain_text("Valeurs avant la correction")
    expect(history).not_to_contain_text("CANARYJUGE")
    no_violation(secretariat, "demande corrigée (secrétariat)")

    event = in_thread(last_correction_event)
    assert event.actor_id == people["secretariat"].pk
    assert event.details["fields"] == ["requester_name"]
    dump = json.dumps(event.details, ensure_ascii=False)
    assert "CANARYJUGE" not in dump
    assert "Dupont" not in dump
    assert "recopié" not in dump


def test_dg_corrects_a_date_of_birth_after_assignment(ui: Browsing, people):
    dr = in_thread(Flow(people).assigned)
    dg = ui.as_(people["dg"])
    page = open_request(dg, dr)

    page.get_by_role("link", name="Corriger les données d'enregistrement").click()
    person = subform(page, "Personne 1")
    field(person, "Date de naissance").fill("1985-01-02")
    field(page, "Motif de la correction").fill("Date de naissance vérifiée sur la lettre.")
    page.get_by_role("button", name="Enregistrer la correction").click()

    dg.expect_message("corrigées : Personne(s) concernée(s).")
    dg.expect_state("Avis en préparation")
    history = page.locator("section.corrections")
    expect(history).to_contain_text("Valeurs avant la correction")
    expect(history).to_contain_text("né(e) le 01/01/1985")
    expect(page.locator("section.card").filter(has_text="Contenu de la demande")).to_contain_text(
        "né(e) le 02/01/1985"
    )
    no_violation(dg, "historique des corrections (DG)")
    dg.screenshot("correction-history-dg")
    fits_a_phone(dg, "demande avec historique des corrections")

    # The secretariat may no longer correct it: no button for them.
    secretariat = ui.as_(people["secretariat"])
    page = open_request(secretariat, dr)
    expect(page.get_by_role("link", name="Corriger les données d'enregistrement")).to_have_count(0)
    event = in_thread(last_correction_event)
    assert event.actor_id == people["dg"].pk
    assert event.details["fields"] == ["persons"]
    assert "1985" not in json.dumps(event.details)


def test_dg_annuls_a_registration_error(ui: Browsing, people):
    dr = in_thread(Flow(people).partially_signed)
    dg = ui.as_(people["dg"])
    page = open_request(dg, dr)

    page.get_by_role("link", name="Annuler (erreur d'enregistrement)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Annuler la demande {dr.reference} pour erreur d'enregistrement"
    )
    outcome = page.get_by_role("region", name="Ce qui va se passer")
    expect(outcome).to_contain_text("Aucune lettre n'est produite ni envoyée au demandeur.")
    expect(outcome).to_contain_text("cette signature ne compte plus")
    no_violation(dg, "confirmation de l'annulation")
    dg.screenshot("annulment-dg")
    fits_a_phone(dg, "confirmation de l'annulation")

    field(page, "Motif de l'annulation").fill("Lettre enregistrée deux fois : doublon.")
    page.get_by_role("button", name="Confirmer l'annulation").click()

    dg.expect_message(f"Demande {dr.reference} annulée pour erreur d'enregistrement.")
    dg.expect_state("Annulée : erreur d'enregistrement")
    expect(page.get_by_role("region", name="Actions possibles")).to_have_count(0)
    expect(page.locator("section.corrections")).to_contain_text(
        "Lettre enregistrée deux fois : doublon."
    )
    no_violation(dg, "demande annulée")
    dg.screenshot("annulled-request-dg")

    # Nothing remains to sign for the Président.
    president = ui.as_(people["president"])
    page = open_request(president, dr)
    president.expect_state("Annulée : erreur d'enregistrement")
    expect(page.get_by_role("link", name=re.compile("Signer"))).to_have_count(0)
    letters = in_thread(lambda: list(Reply.objects.filter(request_id=dr.pk)))
    assert len(letters) == 1
    assert letters[0].superseded_at is not None
    annulled = in_thread(lambda: AuditEvent.objects.filter(action="annul").get())
    assert annulled.to_state == State.ANNULLED
    assert "doublon" not in json.dumps(annulled.details, ensure_ascii=False)
