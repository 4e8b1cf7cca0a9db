"""The acknowledgement of receipt through a real browser (issue 14): the
administrator asks for one for investigating judges; the secretariat
registers a judge's letter; the Président and the DG sign the
acknowledgement from their home pages while the request waits for its
referent; the secretariat records its dispatch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, ViewportSize, expect

from requests_app.models import DefaultDeadline
from tests.conftest import PDF_BYTES, fresh_otp

from .conftest import Browsing, Persona, in_thread
from .test_procedure import field, register_letter

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
CODE_LABEL = "Code de votre application d'authentification (confirme la signature)"


@pytest.fixture
def letter(tmp_path: Path) -> Path:
    path = tmp_path / "lettre-juge.pdf"
    path.write_bytes(PDF_BYTES)
    return path


def acknowledge_judges() -> None:
    DefaultDeadline.objects.update_or_create(
        requester_kind="investigating_judge",
        defaults={"working_days": 15, "acknowledge_receipt": True},
    )


def fits_a_phone(persona: Persona, label: str) -> None:
    """At 390 px the page scrolls only vertically."""
    page = persona.page
    page.set_viewport_size(PHONE)
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    page.set_viewport_size(DESKTOP)
    assert widths[0] <= widths[1], f"{label}: horizontal scroll at 390 px ({widths})"


def acknowledgement_section(page: Page):
    return page.locator("section.acknowledgement")


def sign(persona: Persona, reference: str, capacity: str) -> None:
    page = persona.open_request("Accusés de réception à signer", reference)
    expect(acknowledgement_section(page)).to_be_visible()
    page.get_by_role("link", name="Signer l'accusé de réception", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Signer l'accusé de réception {reference}"
    )
    # The letter is shown drawn, page by page, before the code is typed.
    first_page = page.get_by_role("img", name=re.compile(r"^Page 1 sur \d+ de l'accusé"))
    expect(first_page).to_be_visible()
    first_page.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const img = document.querySelector('.letter-pages img');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    persona.axe(f"signature de l'accusé de réception ({capacity})")
    persona.screenshot(f"acknowledgement-sign-{persona.user.username}")
    fits_a_phone(persona, "signature de l'accusé de réception")
    field(page, CODE_LABEL).fill(fresh_otp(persona.user))
    page.get_by_role("button", name="Signer l'accusé de réception", exact=True).click()
    persona.expect_message(f"Accusé de réception {reference} signé ({capacity}).")
    # The examination goes on: the request has not moved.
    persona.expect_state("En attente d'un référent")


@pytest.mark.real_letters
def test_acknowledgement_signed_twice_then_dispatched(ui: Browsing, people, letter):
    in_thread(acknowledge_judges)

    # The secretariat registers the judge's letter: the acknowledgement is prepared.
    secretariat = ui.as_(people["secretariat"])
    reference = register_letter(secretariat, scan=letter)
    secretariat.expect_message(f"Demande {reference} enregistrée.")
    secretariat.expect_message("Un accusé de réception a été préparé")
    page = secretariat.page
    section = acknowledgement_section(page)
    expect(section).to_contain_text("Préparé : en attente des signatures")
    # The draft is not the secretariat's to read.
    expect(section.get_by_role("link", name=re.compile("Télécharger"))).to_have_count(0)
    secretariat.axe("page de la demande (secrétariat, accusé préparé)")

    # The Président signs first, then the DG, each from their home page.
    president = ui.as_(people["president"])
    sign(president, reference, "Le Président")
    expect(acknowledgement_section(president.page)).to_contain_text(
        "Signé une fois : en attente de la seconde signature."
    )
    dg = ui.as_(people["dg"])
    sign(dg, reference, "Le Directeur général")
    expect(acknowledgement_section(dg.page)).to_contain_text(
        "Signé par les deux signataires : à expédier."
    )
    dg.screenshot("acknowledgement-signed-dg")

    # The secretariat downloads the signed letter and records its dispatch.
    page = secretariat.open_request("Accusés de réception à expédier", reference)
    section = acknowledgement_section(page)
    with page.expect_download() as download:
        section.get_by_role("link", name="Télécharger l'accusé de réception signé (PDF)").click()
    signed_pdf = Path(download.value.path()).read_bytes()
    assert signed_pdf.startswith(b"%PDF-")
    assert signed_pdf.count(b"/ByteRange") == 2  # the two signatures
    page.get_by_role(
        "link", name="Enregistrer l'expédition de l'accusé de réception", exact=True
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Enregistrer l'expédition de l'accusé de réception {reference}"
    )
    secretariat.axe("formulaire d'expédition de l'accusé de réception")
    fits_a_phone(secretariat, "expédition de l'accusé de réception")
    form = page.locator("main form")
    field(page, "Mode d'expédition").select_option(label="Recommandé")
    field(page, "Numéro du recommandé").fill("")
    form.get_by_role("button", name="Enregistrer l'expédition").click()
    # Bad input: the page says why, nothing is recorded.
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Enregistrer l'expédition de l'accusé de réception {reference}"
    )
    expect(page.locator("main .messages")).to_contain_text("Indiquez le numéro du recommandé.")
    field(page, "Numéro du recommandé").fill("RR555444333BE")
    form.get_by_role("button", name="Enregistrer l'expédition").click()
    secretariat.expect_message(f"Expédition de l'accusé de réception {reference} enregistrée.")
    secretariat.expect_state("En attente d'un référent")
    today = timezone.localdate().strftime("%d/%m/%Y")
    expect(acknowledgement_section(page)).to_contain_text(f"Expédié le {today} (recommandé).")
    expect(acknowledgement_section(page)).to_contain_text("RR555444333BE")
    secretariat.axe("page de la demande (secrétariat, accusé expédié)")
    fits_a_phone(secretariat, "page de la demande, accusé expédié")
    page.set_viewport_size(PHONE)
    secretariat.screenshot("acknowledgement-dispatched-phone")
    page.set_viewport_size(DESKTOP)

    # Nothing is left to do on it: off every home page.
    for persona, section_title in (
        (secretariat, "Accusés de réception à expédier"),
        (president, "Accusés de réception à signer"),
        (dg, "Accusés de réception à signer"),
    ):
        home = persona.home()
        expect(home.get_by_role("heading", level=2, name=re.compile(section_title))).to_have_count(
            0
        )
