"""The DG's review page in a real browser (issue 14): the letter's scan drawn
in the page beside the opinion, four focused forms (return, then approve),
and an inadmissible request sent back to examination after a confirmation.
Each page is checked with axe-core and measured at 390 px."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import weasyprint
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import Page, ViewportSize, expect

from letters.rendering import letter_fetcher
from requests_app import services
from requests_app.inputs import ItemData, PersonData
from requests_app.models import DisclosureRequest
from tests.conftest import answer_all, basis, intake, reread

from .conftest import Browsing, Persona, in_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}

# A judge's letter as the secretariat scans it: a real PDF with text, so the
# screenshot shows pdf.js drawing it.
LETTER_HTML = """<!DOCTYPE html><html lang="fr"><head><style>
@page { size: A4; margin: 2.5cm; } body { font-family: 'DejaVu Serif', serif; font-size: 11pt; }
h1 { font-size: 14pt; } .right { text-align: right; }</style></head><body>
<p>Tribunal de première instance de Namur<br>Cabinet du juge d'instruction Claire Dupont<br>
Place du Palais de Justice 5, 5000 Namur</p>
<p class="right">Namur, le 2 novembre 2026<br>N/réf. JI/2026/481</p>
<p>Monsieur le Président du CPAS,</p>
<h1>Demande de renseignements – art. 87 à 89 du Code d'instruction criminelle</h1>
<p>Dans le cadre de l'instruction n° 2026/481, je vous prie de me communiquer l'adresse actuelle
de Monsieur Jan Peeters, né le 1er janvier 1985 (NN 85.01.01-001.15), ainsi que le montant de
l'aide sociale qui lui est versée depuis 2024.</p>
<p>Vous trouverez en annexe l'ordonnance qui fonde la présente demande.</p>
<p>Veuillez agréer, Monsieur le Président, l'expression de ma considération distinguée.</p>
<p class="right">Claire Dupont<br>Juge d'instruction</p></body></html>"""


def letter_pdf() -> bytes:
    # The project's locked fetcher, as for every HTML WeasyPrint reads here.
    pdf = weasyprint.HTML(string=LETTER_HTML, url_fetcher=letter_fetcher()).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf


def judge_letter(people) -> DisclosureRequest:
    """A written request with its scan, assigned, its opinion in review."""
    data = intake(
        received_on=timezone.localdate() - timedelta(days=2),
        requester_name="Juge Claire Dupont",
        requester_organisation="Tribunal de première instance de Namur",
        requester_reference="JI/2026/481",
        cited_provision="Art. 87 à 89 du Code d'instruction criminelle",
        information_requested="Adresse actuelle et aide sociale perçue depuis 2024.",
        persons=[
            PersonData(
                last_name="Peeters",
                first_names="Jan",
                birth_date=date(1985, 1, 1),
                national_number="85010100115",
            )
        ],
    )
    scan = SimpleUploadedFile("lettre.pdf", letter_pdf(), content_type="application/pdf")
    dr = services.register_request(
        data, actor=people["secretariat"], scan=scan, scan_content_type="application/pdf"
    )
    services.assign_referent(dr, actor=people["president"], referent=people["referent"])
    submit_opinion(reread(dr), people, necessity="Visée par l'ordonnance du juge.")
    return reread(dr)


def submit_opinion(dr: DisclosureRequest, people, *, necessity: str) -> None:
    ji = basis("ji-search-seizure")
    services.submit_opinion(
        dr,
        actor=people["referent"],
        legal_bases=[ji],
        proposal="disclose_in_part",
        reasoning="L'ordonnance du juge d'instruction vise l'adresse de la personne.",
        items=[
            ItemData("Adresse actuelle", "address", necessity, ji),
            ItemData("Montant de l'aide sociale depuis 2024", "aid", necessity, ji),
        ],
        checklist=answer_all([ji]),
    )


def open_review(dg: Persona, reference: str) -> Page:
    page = dg.open_request("Contrôle de légalité", reference)
    page.get_by_role("link", name="Contrôler la légalité et décider").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Contrôle de légalité de la demande {reference}"
    )
    return page


def decision(page: Page, name: str):
    return page.locator(f"#decision-{name}")


def fits_a_phone(page: Page) -> int:
    """The page's width at 390 px: no horizontal scrolling if it is 390 or less."""
    page.set_viewport_size(PHONE)
    try:
        return int(page.evaluate("document.documentElement.scrollWidth"))
    finally:
        page.set_viewport_size(DESKTOP)


def test_dg_returns_then_approves_on_the_review_page(ui: Browsing, people):
    dr = in_thread(lambda: judge_letter(people))
    dg = ui.as_(people["dg"])

    page = open_review(dg, dr.reference)

    # The request, the person, the items with category, necessity and basis.
    expect(page.locator("#review-file")).to_contain_text("Peeters")
    expect(page.locator("#review-file")).to_contain_text("NN 85010100115")
    opinion = page.locator("#review-opinion")
    expect(opinion).to_contain_text("Montant de l'aide sociale depuis 2024")
    expect(opinion).to_contain_text("Aides octroyées et montants")
    expect(opinion).to_contain_text("Visée par l'ordonnance du juge.")
    expect(opinion).to_contain_text(basis("ji-search-seizure").title_fr)
    expect(page.locator("#review-checklist")).to_contain_text("Remplie")
    # The scan: pdf.js drew its page in the page.
    scan_page = page.get_by_role("img", name="Page 1 sur 1 du scan")
    expect(scan_page).to_be_visible()
    expect(page.locator("[data-scan-status]")).to_have_text("Lettre de 1 page(s).")
    assert scan_page.evaluate("c => c.width > 300 && c.height > 400")
    dg.axe("page de contrôle (DG)")
    dg.screenshot("dg_review_page")
    assert fits_a_phone(page) <= PHONE["width"]

    # Return: the remarks are required, then the opinion goes back.
    page.locator("summary", has_text="Renvoyer l'avis au référent").click()
    returning = decision(page, "return")
    returning.get_by_role("button", name="Renvoyer au référent").click()
    returning = decision(page, "return")
    expect(returning.get_by_role("alert")).to_contain_text("La décision n'a pas été enregistrée")
    expect(returning).to_contain_text("Ces remarques sont obligatoires pour ce choix.")
    expect(page.locator("p.status .state")).to_have_text("Contrôle de légalité (DG)")
    dg.axe("page de contrôle avec une erreur")
    assert fits_a_phone(page) <= PHONE["width"]
    returning.get_by_label("Remarques pour le référent").fill(
        "Le montant de l'aide n'est pas visé par l'ordonnance."
    )
    returning.get_by_role("button", name="Renvoyer au référent").click()
    dg.expect_message("Avis renvoyé au référent avec vos remarques.")
    dg.expect_state("Avis en préparation")

    # The referent writes a second opinion; the DG approves it.
    in_thread(lambda: submit_opinion(reread(dr), people, necessity="Adresse seule nécessaire."))
    page = open_review(dg, dr.reference)
    history = page.locator("#review-history")
    expect(history).to_contain_text("Avis n° 1")
    expect(history).to_contain_text("Contrôle de légalité : Renvoyé au référent")
    expect(history).to_contain_text("Le montant de l'aide n'est pas visé par l'ordonnance.")
    page.locator("summary", has_text="Approuver la proposition").click()
    approving = decision(page, "approve")
    expect(approving.get_by_label("Remarques (facultatif)")).to_be_visible()
    # Only the approve form is open: the other forms' fields are out of sight.
    expect(decision(page, "refuse").get_by_label("Motifs du refus")).to_be_hidden()
    dg.axe("formulaire d'approbation ouvert")
    approving.get_by_role("button", name="Approuver", exact=True).click()
    dg.expect_message("Proposition approuvée. La réponse attend les deux signatures.")
    dg.expect_state("Réponse à signer")


def test_dg_amends_the_items_on_the_review_page_at_phone_width(ui: Browsing, people):
    dr = in_thread(lambda: judge_letter(people))
    dg = ui.as_(people["dg"])
    page = open_review(dg, dr.reference)
    page.set_viewport_size(PHONE)

    page.locator("summary", has_text="Modifier puis approuver").click()
    amending = decision(page, "amend")
    second = amending.locator(".subform").filter(
        has=page.get_by_role("heading", level=3, name="Information 2", exact=True)
    )
    second.get_by_label("Garder").uncheck()
    width = int(page.evaluate("document.documentElement.scrollWidth"))
    dg.axe("formulaire de modification (390 px)")
    dg.screenshot("dg_review_page_mobile")
    amending.get_by_role("button", name="Approuver tel que modifié").click()

    assert width <= PHONE["width"]
    dg.expect_message("Proposition modifiée et approuvée.")
    kept = in_thread(lambda: [i.description for i in reread(dr).reply.items.all()])
    assert kept == ["Adresse actuelle"]


def test_dg_sends_an_inadmissible_request_back_to_examination(ui: Browsing, people):
    dr = in_thread(lambda: services_flow_inadmissible(people))
    dg = ui.as_(people["dg"])
    page = dg.open_request("À signer", dr.reference)

    page.get_by_role("link", name="Renvoyer à l'examen").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Renvoyer la demande {dr.reference} à l'examen"
    )
    expect(page.get_by_text("La demande ne cite aucune disposition légale")).to_be_visible()
    expect(page.get_by_role("heading", name="Ce qui se passe si vous confirmez")).to_be_visible()
    expect(page.get_by_text("La lettre d'irrecevabilité en attente de signature")).to_be_visible()
    dg.axe("confirmation du renvoi à l'examen")
    dg.screenshot("dg_reopen_examination")
    assert fits_a_phone(page) <= PHONE["width"]
    # Nothing happened yet.
    assert in_thread(lambda: reread(dr).state) == "awaiting_signatures"
    page.get_by_role("button", name="Confirmer : renvoyer à l'examen").click()
    dg.expect_message(f"Demande {dr.reference} renvoyée à l'examen. Elle attend un référent.")
    dg.expect_state("En attente d'un référent")

    # The normal procedure follows: the Président assigns a referent.
    president = ui.as_(people["president"])
    page = president.open_request("À attribuer", dr.reference)
    page.get_by_role("link", name="Attribuer à un référent").click()
    page.get_by_label(re.compile(r"^Référent\s*:?$")).select_option(label="Julie Martin")
    page.get_by_role("button", name="Attribuer").click()
    president.expect_state("Avis en préparation")
    in_thread(lambda: submit_opinion(reread(dr), people, necessity="Visée par l'ordonnance."))
    page = open_review(dg, dr.reference)
    expect(page.locator("#review-history")).to_contain_text(
        "Lettre retirée : Demande irrecevable en l'état"
    )
    page.locator("summary", has_text="Approuver la proposition").click()
    decision(page, "approve").get_by_role("button", name="Approuver", exact=True).click()
    dg.expect_state("Réponse à signer")


def services_flow_inadmissible(people) -> DisclosureRequest:
    data = intake(cited_provision="", received_on=timezone.localdate() - timedelta(days=1))
    scan = SimpleUploadedFile("lettre.pdf", letter_pdf(), content_type="application/pdf")
    return services.register_request(
        data, actor=people["secretariat"], scan=scan, scan_content_type="application/pdf"
    )


def test_dg_confirms_an_inadmissibility_whose_letter_was_declined(ui: Browsing, people):
    def declined() -> DisclosureRequest:
        dr = services_flow_inadmissible(people)
        services.decline_to_sign(
            dr, actor=people["president"], remarks="La disposition citée figure au verso."
        )
        return reread(dr)

    dr = in_thread(declined)
    dg = ui.as_(people["dg"])

    page = open_review(dg, dr.reference)

    expect(page.locator("#review-inadmissibility")).to_contain_text(
        "La demande ne cite aucune disposition légale"
    )
    expect(
        page.get_by_role("heading", name="La lettre a été refusée à la signature")
    ).to_be_visible()
    expect(page.get_by_text("La disposition citée figure au verso.").first).to_be_visible()
    expect(page.get_by_role("link", name="Renvoyer à l'examen")).to_be_visible()
    dg.axe("contrôle d'une irrecevabilité refusée à la signature")
    dg.screenshot("dg_review_declined_inadmissibility")
    assert fits_a_phone(page) <= PHONE["width"]
    page.get_by_role("button", name="Confirmer l'irrecevabilité").click()
    dg.expect_message("irrecevabilité confirmée")
    dg.expect_state("Réponse à signer")
