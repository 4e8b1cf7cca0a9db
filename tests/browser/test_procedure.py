"""The procedure through a real browser, one persona after the other.

Every step is taken the way staff take it: log in on the login page, open
the request from the home page, click the step's button, fill the form. Each
form is checked with axe-core (WCAG 2.1 AA) on the way.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from tests.conftest import PDF_BYTES, Flow, basis, fresh_otp

from .conftest import Browsing, Persona, in_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def field(scope: Page | Locator, label: str) -> Locator:
    """The form field labelled `label` (Django adds " :" after each label)."""
    return scope.get_by_label(re.compile(rf"^{re.escape(label)}\s*:?$"))


def subform(page: Page, heading: str) -> Locator:
    return page.locator(".subform").filter(
        has=page.get_by_role("heading", level=3, name=heading, exact=True)
    )


def register_letter(
    secretariat: Persona,
    *,
    scan: Path | None,
    channel: str = "Courrier postal",
    cited_provision: str = "Art. 87 à 89 du Code d'instruction criminelle",
    confirm: bool = False,
) -> str:
    """Fill the intake form as the secretariat; returns the new reference.

    `confirm`: the outcome (oral, inadmissible) is confirmed on the page that
    follows (tests/browser/test_intake_confirmation.py).
    """
    page = secretariat.page
    page.get_by_role("link", name="Enregistrer une demande").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enregistrer une demande reçue")
    secretariat.axe("formulaire d'enregistrement")
    received_on = timezone.localdate() - timedelta(days=1)
    field(page, "Date de réception").fill(received_on.isoformat())
    field(page, "Canal").select_option(label=channel)
    field(page, "Type de demandeur").select_option(label="Juge d'instruction")
    field(page, "Nom du demandeur").fill("Juge Claire Dupont")
    field(page, "Organisation").fill("Tribunal de première instance de Namur")
    field(page, "Adresse").fill("Place du Palais de Justice 5\n5000 Namur")
    field(page, "Référence du demandeur (« Vos réf. »)").fill("JI/2026/481")
    field(page, "Disposition légale citée par le demandeur").fill(cited_provision)
    field(page, "Informations demandées").fill("Adresse actuelle de la personne.")
    # The judge's order came with the letter: the basis needs it on file.
    page.locator("input[name=documents][value=judge_order]").check()
    if scan is not None:
        field(page, "Scan de la lettre (PDF, PNG, JPEG ou TIFF)").set_input_files(scan)
    person = subform(page, "Personne 1")
    field(person, "Nom").fill("Peeters")
    field(person, "Prénoms").fill("Jan")
    if not channel.startswith("Oral"):
        # An oral call keeps no birth date or national number (issue 16).
        field(person, "Date de naissance").fill("1985-01-01")
        field(person, "Numéro de registre national").fill("85.01.01-001.15")
    page.get_by_role("button", name="Enregistrer la demande").click()
    heading = page.get_by_role("heading", level=1)
    if confirm:
        expect(heading).to_have_text("Confirmer l'enregistrement")
        page.get_by_role("button", name="Confirmer l'enregistrement").click()
    expect(heading).to_have_text(re.compile(r"^Demande \S+$"))
    return heading.inner_text().removeprefix("Demande ")


BLANK_ITEMS_BUG = (
    "An untouched item form on the opinion page was refused: its category list "
    "must start with an empty choice so that the form counts as unchanged."
)


def refused_blank_items(page: Page) -> bool:
    """True if the opinion came back with errors on the item forms left blank."""
    blank = subform(page, "Information 2")
    return bool(blank.count()) and blank.get_by_text("Ce champ est obligatoire.").count() > 0


@pytest.fixture
def letter(tmp_path: Path) -> Path:
    path = tmp_path / "lettre-juge.pdf"
    path.write_bytes(PDF_BYTES)
    return path


# The one end-to-end path: the letter rendered for real, in the live server.
@pytest.mark.real_letters
def test_whole_procedure_through_the_browser(ui: Browsing, people, letter):
    # The secretariat registers the letter, with its scan.
    secretariat = ui.as_(people["secretariat"])
    reference = register_letter(secretariat, scan=letter)
    secretariat.expect_message(f"Demande {reference} enregistrée.")
    secretariat.expect_message("Elle attend l'attribution d'un référent.")
    secretariat.expect_state("En attente d'un référent")

    # The Président assigns it to the referent.
    president = ui.as_(people["president"])
    page = president.open_request("À attribuer", reference)
    president.expect_state("En attente d'un référent")
    president.axe("page de la demande (Président, à attribuer)")
    page.get_by_role("link", name="Attribuer à un référent").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Attribuer la demande {reference} à un référent"
    )
    president.axe("formulaire d'attribution")
    field(page, "Référent").select_option(label="Julie Martin")
    page.get_by_role("button", name="Attribuer").click()
    president.expect_message(f"Référent attribué à la demande {reference}.")
    president.expect_state("Avis en préparation")

    # The referent writes the opinion: the conditions appear as the basis is ticked.
    referent = ui.as_(people["referent"])
    page = referent.open_request("Mes demandes", reference)
    page.get_by_role("link", name="Rédiger l'avis motivé").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Avis motivé sur la demande {reference}"
    )
    referent.axe("formulaire d'avis")
    ji = basis("ji-search-seizure")
    page.get_by_role("checkbox", name=f"{ji.title_fr} ({ji.citation})").check()
    page.get_by_role("radio", name="Communiquer", exact=True).check()
    field(page, "Motivation").fill("L'ordonnance du juge d'instruction vise l'adresse.")
    conditions = page.get_by_role("radio", name="Remplie", exact=True)
    expect(conditions).to_have_count(len(ji.checklist))
    referent.axe("formulaire d'avis, conditions affichées")
    referent.screenshot("opinion-conditions")
    for condition in conditions.all():
        condition.check()
    item = subform(page, "Information 1")
    field(item, "Information proposée").fill("Adresse actuelle")
    field(item, "Catégorie").select_option(label="Adresse")
    field(item, "Base qui la permet").select_option(label=ji.title_fr)
    field(item, "Pourquoi est-elle strictement nécessaire ?").fill("Visée par l'ordonnance.")
    page.get_by_role("button", name="Transmettre l'avis").click()
    # The two unused item forms are ignored, not refused.
    assert not refused_blank_items(page), BLANK_ITEMS_BUG
    referent.expect_message(f"Avis enregistré pour la demande {reference}.")
    referent.expect_state("Contrôle de légalité (DG)")

    # The DG approves, then signs with their password.
    dg = ui.as_(people["dg"])
    page = dg.open_request("Contrôle de légalité", reference)
    dg.axe("page de la demande (DG, contrôle)")
    page.get_by_role("link", name="Contrôler la légalité et décider").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Contrôle de légalité de la demande {reference}"
    )
    dg.axe("formulaire de contrôle de légalité")
    dg.screenshot("review")
    expect(
        page.locator("#review-opinion").get_by_text("Adresse actuelle", exact=True)
    ).to_be_visible()
    page.locator("summary", has_text="Approuver la proposition").click()
    page.get_by_role("button", name="Approuver", exact=True).click()
    dg.expect_message("Proposition approuvée. La réponse attend les deux signatures.")
    dg.expect_state("Réponse à signer")
    page.get_by_role("link", name="Signer la réponse").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Signer la réponse {reference}")
    dg.axe("formulaire de signature")
    field(page, "Code de votre application d'authentification (confirme la signature)").fill(
        fresh_otp(dg.user)
    )
    page.get_by_role("button", name="Signer la réponse").click()
    dg.expect_message(f"Réponse {reference} signée (Le Directeur général).")
    dg.expect_state("Réponse signée une fois")

    # The Président signs second.
    page = president.open_request("À signer", reference)
    page.get_by_role("link", name="Signer la réponse").click()
    field(page, "Code de votre application d'authentification (confirme la signature)").fill(
        fresh_otp(president.user)
    )
    page.get_by_role("button", name="Signer la réponse").click()
    president.expect_message(f"Réponse {reference} signée (Le Président).")
    president.expect_state("Réponse signée, à expédier")

    # The secretariat downloads the signed reply, records the dispatch, closes.
    page = secretariat.open_request("À expédier", reference)
    expect(
        page.get_by_role("heading", name="Réponse officielle : Communication d'informations")
    ).to_be_visible()
    expect(page.get_by_text("Les deux signatures sont valides")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger la réponse signée (PDF)").click()
    signed_pdf = Path(download.value.path()).read_bytes()
    assert signed_pdf.startswith(b"%PDF-")
    assert signed_pdf.count(b"/ByteRange") == 2  # the two signatures
    secretariat.axe("page de la demande (secrétariat, à expédier)")
    page.get_by_role("link", name="Enregistrer l'expédition").click()
    dispatch_form = page.locator("main form")
    secretariat.axe("formulaire d'expédition")
    expect(field(page, "Date d'expédition")).to_have_value(timezone.localdate().isoformat())
    field(page, "Mode d'expédition").select_option(label="Recommandé")
    field(page, "Numéro du recommandé").fill("RR123456789BE")
    dispatch_form.get_by_role("button", name="Enregistrer l'expédition").click()
    secretariat.expect_message(f"Expédition de la réponse {reference} enregistrée.")
    secretariat.expect_state("Réponse expédiée")
    page.get_by_role("link", name="Clôturer la demande").click()
    page.get_by_role("button", name="Confirmer la clôture").click()
    secretariat.expect_message(f"Demande {reference} clôturée.")
    secretariat.expect_state("Clôturée")
    expect(page.get_by_role("region", name="Actions possibles")).to_have_count(0)


def test_request_without_legal_provision_is_inadmissible(ui: Browsing, people, letter):
    secretariat = ui.as_(people["secretariat"])

    reference = register_letter(secretariat, scan=letter, cited_provision="", confirm=True)

    secretariat.expect_message(f"Demande {reference} enregistrée et déclarée irrecevable")
    secretariat.expect_message("attend les signatures du Président et du DG")
    secretariat.expect_state("Réponse à signer")
    page = secretariat.page
    # The secretariat sees a reply's content only once it is signed.
    expect(
        page.get_by_role("heading", name="Réponse officielle : Demande irrecevable en l'état")
    ).to_have_count(0)

    president = ui.as_(people["president"])
    page = president.open_request("À signer", reference)
    president.expect_state("Réponse à signer")
    expect(
        page.get_by_role("heading", name="Projet de réponse : Demande irrecevable en l'état")
    ).to_be_visible()
    expect(page.get_by_text("Aucune signature pour l'instant.")).to_be_visible()
    expect(page.get_by_text("Irrecevable en l'état", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Signer la réponse")).to_be_visible()
    president.axe("page de la demande irrecevable (Président)")


def test_oral_request_is_closed_at_once(ui: Browsing, people):
    secretariat = ui.as_(people["secretariat"])

    reference = register_letter(
        secretariat, scan=None, channel="Oral (téléphone, guichet)", confirm=True
    )

    secretariat.expect_message(f"Demande orale {reference} enregistrée et clôturée")
    secretariat.expect_message("aucune information n'est jamais donnée oralement")
    secretariat.expect_state("Clôturée : demande orale non traitable")
    expect(secretariat.page.get_by_role("region", name="Actions possibles")).to_have_count(0)


def test_dg_sends_the_opinion_back_and_the_referent_sees_the_remarks(ui: Browsing, people):
    dr = in_thread(Flow(people).in_review)
    remarks = "Précisez en quoi l'adresse est strictement nécessaire à l'enquête."

    dg = ui.as_(people["dg"])
    page = dg.open_request("Contrôle de légalité", dr.reference)
    page.get_by_role("link", name="Contrôler la légalité et décider").click()
    page.locator("summary", has_text="Renvoyer l'avis au référent avec des remarques").click()
    page.get_by_role("button", name="Renvoyer au référent").click()
    # Remarks are required to send back: the form says so and nothing changes.
    expect(page.get_by_text("Ces remarques sont obligatoires pour ce choix.")).to_be_visible()
    dg.axe("formulaire de contrôle avec une erreur")
    field(page, "Remarques pour le référent").fill(remarks)
    page.get_by_role("button", name="Renvoyer au référent").click()
    dg.expect_message("Avis renvoyé au référent avec vos remarques.")
    dg.expect_state("Avis en préparation")

    referent = ui.as_(people["referent"])
    page = referent.open_request("Mes demandes", dr.reference)
    page.get_by_role("link", name="Rédiger l'avis motivé").click()
    remarks_card = page.locator("section").filter(
        has=page.get_by_role("heading", name="Remarques du Directeur général")
    )
    expect(remarks_card).to_contain_text(remarks)
    referent.axe("formulaire d'avis avec les remarques du DG")


def test_refused_disclosure_gets_a_refusal_reply(ui: Browsing, people):
    dr = in_thread(Flow(people).in_review)

    dg = ui.as_(people["dg"])
    page = dg.open_request("Contrôle de légalité", dr.reference)
    page.get_by_role("link", name="Contrôler la légalité et décider").click()
    page.locator("summary", has_text="Refuser la communication").click()
    field(page, "Motifs du refus").fill("L'ordonnance ne vise pas cette personne.")
    page.get_by_role("button", name="Refuser la communication", exact=True).click()

    dg.expect_message("Communication refusée. La lettre de refus attend les signatures.")
    dg.expect_state("Réponse à signer")
    expect(
        page.get_by_role("heading", name="Projet de réponse : Refus de communication")
    ).to_be_visible()
    expect(
        page.get_by_role("heading", name="Contrôle de légalité : Communication refusée")
    ).to_be_visible()
    dg.axe("page de la demande refusée (DG)")
