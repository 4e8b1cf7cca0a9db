"""Every role's pages in a real browser: axe-core (WCAG 2.1 AA) and screenshots.

Requests in several states are prepared through the services, then each
persona logs in and looks at their home page, the register, the catalogue and
a request page. The screenshots go to var/screenshots/ for a human to look at.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from requests_app.inputs import PersonData
from tests.conftest import Flow

from .conftest import Browsing, in_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def person(last_name: str, first_names: str, birth: date) -> PersonData:
    return PersonData(last_name=last_name, first_names=first_names, birth_date=birth)


def letters(flow: Flow) -> dict[str, str]:
    """Requests in the states each role acts on; returns their references."""
    today = timezone.localdate()
    recent = today - timedelta(days=2)
    old = today - timedelta(days=60)
    judge = {
        "requester_name": "Juge Claire Dupont",
        "requester_organisation": "Tribunal de première instance de Namur",
        "requester_address": "Place du Palais de Justice 5, 5000 Namur",
        "requester_reference": "JI/2026/481",
        "information_requested": "Adresse actuelle et aide sociale perçue depuis 2024.",
    }
    return {
        "to_assign": flow.received(
            **judge, received_on=recent, persons=[person("Peeters", "Jan", date(1985, 1, 1))]
        ).reference,
        "overdue": flow.received(
            requester_kind="police",
            requester_name="Zone de police Namur Capitale",
            requester_reference="PV NA.55.L1.004512/2026",
            cited_provision="Art. 46bis du Code d'instruction criminelle",
            information_requested="Composition de ménage.",
            received_on=old,
            persons=[person("Lambert", "Marie Louise", date(1972, 6, 14))],
        ).reference,
        "opinion": flow.assigned(
            **judge, received_on=recent, persons=[person("Dubois", "Luc", date(1990, 3, 9))]
        ).reference,
        "review": flow.in_review(
            **judge, received_on=recent, persons=[person("Janssens", "Eva", date(2001, 11, 30))]
        ).reference,
        "to_sign": flow.awaiting_signatures(
            **judge, received_on=recent, persons=[person("Maes", "Tom", date(1968, 2, 2))]
        ).reference,
        "inadmissible": flow.received(
            requester_kind="landlord",
            requester_name="Immo Meuse SPRL",
            cited_provision="",
            information_requested="Revenus du locataire.",
            received_on=recent,
            persons=[person("Claes", "Nina", date(1995, 7, 7))],
        ).reference,
        "signed": flow.signed(
            **judge, received_on=recent, persons=[person("Wouters", "Sam", date(1979, 9, 19))]
        ).reference,
        "dispatched": flow.dispatched(
            **judge, received_on=recent, persons=[person("Goossens", "Ann", date(1983, 5, 5))]
        ).reference,
        "oral": flow.received(
            channel="oral",
            requester_kind="police",
            requester_name="Agent Thomas",
            received_on=recent,
        ).reference,
    }


HOME_SECTIONS = {
    "secretariat": ["Courrier entrant", "À expédier", "À clôturer"],
    "president": ["À attribuer", "À signer", "En retard"],
    "dg": ["Contrôle de légalité", "À signer", "En retard", "Avec dérogation"],
    "referent": ["Mes demandes"],
    "auditor": [],
}


def test_every_role_pages_pass_axe_and_are_captured(ui: Browsing, people):
    refs = in_thread(lambda: letters(Flow(people)))

    first = ui.as_(people["secretariat"], login=False)
    first.page.goto("/connexion/")
    first.axe("page de connexion")
    first.screenshot("login")
    first.page.get_by_label("Identifiant").fill("secretariat")
    first.page.get_by_label("Mot de passe").fill("pas le bon mot de passe")
    first.page.get_by_role("button", name="Se connecter").click()
    expect(first.page.get_by_role("alert")).to_contain_text("Identifiant ou mot de passe")
    first.axe("page de connexion avec une erreur")

    personas = {}
    for key, sections in HOME_SECTIONS.items():
        persona = personas[key] = ui.as_(people[key])
        page = persona.page
        for section in sections:
            heading = page.get_by_role("heading", level=2, name=re.compile(f"^{section}"))
            expect(heading).to_be_visible()
        persona.axe(f"accueil ({key})")
        persona.screenshot(f"home-{key}")
        nav = page.get_by_role("navigation", name="Navigation principale")
        if key == "auditor":
            expect(nav.get_by_role("link", name="Registre", exact=True)).to_have_count(0)
        else:
            nav.get_by_role("link", name="Registre", exact=True).click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Registre des demandes")
            persona.axe(f"registre ({key})")
            if key == "president":
                persona.screenshot("register-president")
                # A search by person: the name stays out of every address
                # the browser records, sorting included.
                page.get_by_label("Personne concernée").fill("Lambert")
                page.get_by_role("button", name="Rechercher").click()
                expect(page.get_by_role("status")).to_have_text("1 demande")
                expect(page.get_by_role("cell", name=refs["overdue"])).to_be_visible()
                page.get_by_role("link", name="Échéance").click()
                expect(page.get_by_label("Personne concernée")).to_have_value("Lambert")
                expect(page.get_by_role("status")).to_have_text("1 demande")
                history = page.evaluate("() => [location.href, document.referrer]")
                assert "search=" in history[0]
                assert not [url for url in history if "lambert" in url.lower()]
                persona.axe("registre après une recherche par personne")
        nav.get_by_role("link", name="Bases légales").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Bases légales")
        if key == "president":
            persona.axe("catalogue des bases légales")
            persona.screenshot("catalogue")
            page.get_by_role("link", name=re.compile("^Perquisition et saisie")).first.click()
            expect(
                page.get_by_role("heading", name="Conditions à vérifier dans l'avis")
            ).to_be_visible()
            persona.axe("fiche d'une base légale")

    president = personas["president"]
    page = president.open_request("En retard", refs["overdue"])
    expect(page.get_by_text("Délai dépassé")).to_be_visible()
    president.axe("page de la demande en retard (Président)")
    nav = page.get_by_role("navigation", name="Navigation principale")
    nav.get_by_role("link", name="Registre", exact=True).click()
    page.get_by_label("État").select_option(label="Réponse signée, à expédier")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.locator("p.result-count")).to_have_text(re.compile(r"^\d+ demandes?$"))
    president.axe("registre filtré (Président)")
    page.get_by_role("link", name=refs["signed"], exact=True).click()
    president.expect_state("Réponse signée, à expédier")
    president.axe("page de la demande signée (Président)")
    president.screenshot("request-president")
    page.get_by_role("link", name="Résumé imprimable").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Résumé de la demande {refs['signed']}"
    )
    president.axe("résumé imprimable (Président)")
    president.screenshot("summary-president")
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.get_by_role("button", name="Imprimer")).to_be_hidden()
    president.screenshot("summary-president-print")
    page.emulate_media(media="screen")
    page = president.open_request("À signer", refs["inadmissible"])
    president.axe("page de la demande irrecevable (Président)")

    dg = personas["dg"]
    dg.open_request("Contrôle de légalité", refs["review"])
    dg.axe("page de la demande à contrôler (DG)")
    dg.screenshot("request-dg-review")

    referent = personas["referent"]
    referent.open_request("Mes demandes", refs["opinion"])
    referent.axe("page de la demande (référent)")

    secretariat = personas["secretariat"]
    page = secretariat.open_request("À expédier", refs["signed"])
    secretariat.axe("page de la demande signée (secrétariat)")
    secretariat.screenshot("request-secretariat")
    page.get_by_role("link", name="Enregistrer une demande", exact=True).click()
    # Filled in, but without the scan and with a mistyped national number.
    page.get_by_label(re.compile("^Date de réception")).fill(timezone.localdate().isoformat())
    page.get_by_label(re.compile("^Nom du demandeur")).fill("Juge Claire Dupont")
    page.get_by_label(re.compile("^Informations demandées")).fill("Adresse actuelle.")
    page.get_by_label(re.compile("^Nom\\W*$")).first.fill("Peeters")
    page.get_by_label(re.compile("^Numéro de registre national")).first.fill("85010100116")
    page.get_by_role("button", name="Enregistrer la demande").click()
    expect(page.get_by_text("Joignez le scan de la lettre")).to_be_visible()
    expect(page.get_by_text("registre national est invalide")).to_be_visible()
    secretariat.axe("formulaire d'enregistrement avec erreurs")
    secretariat.screenshot("create-errors")
