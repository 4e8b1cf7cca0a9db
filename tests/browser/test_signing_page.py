"""The signature page through a real browser (issue 14): the letter drawn in
the page with what it rests on, declining to sign, and the DG's paragraph in
the signed PDF.
"""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect
from pypdf import PdfReader

from requests_app import services, views
from requests_app.inputs import ChecklistData, PersonData
from requests_app.models import DisclosureRequest, Signature, SignatureDecline, State
from tests.conftest import Flow, fresh_otp, opinion_kwargs, reread

from .conftest import Browsing, Persona, in_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MOBILE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
OTP_LABEL = "Code de votre application d'authentification (confirme la signature)"
OLD_OVERRIDE = "Dérogation de l'avis renvoyé : urgence signalée par téléphone."
REMARKS = "Le montant du RIS n'est pas couvert par l'ordonnance : retirez-le."
PARAGRAPH = (
    "Pour les informations relatives à la situation familiale, nous vous invitons à "
    "vous adresser au juge de la jeunesse compétent."
)


def field(scope: Page | Locator, label: str) -> Locator:
    return scope.get_by_label(re.compile(rf"^{re.escape(label)}\s*:?$"))


def card(page: Page, title: str) -> Locator:
    return page.locator("section.card").filter(
        has=page.get_by_role("heading", level=2, name=re.compile(f"^{re.escape(title)}"))
    )


def named_flow(people: dict[str, Any]) -> Flow:
    """The flow with readable names for the pages and the screenshot."""
    flow = Flow(people)
    received = flow.received

    def received_named(**overrides: Any) -> DisclosureRequest:
        values = {
            "requester_name": "Juge Claire Dupont",
            "requester_reference": "JI/2026/481",
            "information_requested": "Adresse actuelle et aide perçue.",
            "persons": [
                PersonData(
                    last_name="Peeters",
                    first_names="Jan",
                    birth_date=date(1985, 1, 1),
                    national_number="85010100115",
                )
            ],
            **overrides,
        }
        return received(**values)

    flow.received = received_named  # type: ignore[method-assign]  # names for the pages
    return flow


def awaiting_signatures_after_a_return(people: dict[str, Any]) -> DisclosureRequest:
    """Opinion no. 1 carried a derogation and was sent back; opinion no. 2,
    without one, was approved: its letter awaits the signatures."""
    flow = named_flow(people)
    dr = flow.assigned()
    first = opinion_kwargs()
    first["checklist"] = [
        ChecklistData(a.legal_basis, a.position, "not_met", "Non rempli")
        for a in first["checklist"]
    ]
    services.submit_opinion(dr, actor=people["referent"], override_reason=OLD_OVERRIDE, **first)
    services.return_for_revision(reread(dr), actor=people["dg"], remarks="Sans dérogation.")
    services.submit_opinion(reread(dr), actor=people["referent"], **opinion_kwargs())
    services.approve(reread(dr), actor=people["dg"])
    return reread(dr)


def open_sign_page(signer: Persona, reference: str) -> Page:
    page = signer.open_request("À signer", reference)
    page.get_by_role("link", name="Signer la réponse").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Signer la réponse {reference}")
    return page


def images_drawn(page: Page) -> list[int]:
    """The natural width of each page image, once every one has loaded."""
    images = page.locator("img.letter-page")
    for i in range(images.count()):
        images.nth(i).scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.letter-page')].every(i => i.complete)"
    )
    widths: list[int] = page.evaluate(
        "() => [...document.querySelectorAll('img.letter-page')].map(i => i.naturalWidth)"
    )
    return widths


def fits_a_phone(persona: Persona, name: str) -> None:
    page = persona.page
    page.set_viewport_size(MOBILE)
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    persona.screenshot(name)
    page.set_viewport_size(DESKTOP)
    assert widths[0] <= widths[1], f"horizontal scrolling at 390 px: {widths}"


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((p.extract_text() or "").split()) for p in reader.pages)


def current_flags(dr: DisclosureRequest) -> list[str]:
    """The messages of the current opinion's flags, as the pages compute them."""
    fresh = reread(dr)
    opinion = fresh.current_opinion()
    assert opinion is not None
    return [str(f.message) for f in views._opinion_flags(fresh, opinion)]


@pytest.mark.real_letters
def test_the_sign_page_shows_the_letter_and_what_it_rests_on(ui: Browsing, people):
    dr = in_thread(lambda: awaiting_signatures_after_a_return(people))
    flags = in_thread(lambda: current_flags(dr))

    president = ui.as_(people["president"])
    page = open_sign_page(president, dr.reference)

    expect(card(page, "Votre signature")).to_contain_text("Vous signez en qualité de Président.")
    letter = card(page, "La lettre que vous signez")
    expect(letter).to_contain_text("Type de lettre : Communication d")
    widths = images_drawn(page)
    assert widths
    assert all(w == 900 for w in widths), widths
    expect(page.locator("img.letter-page").first).to_have_attribute(
        "alt", re.compile(r"^Page 1 sur \d+ de la lettre")
    )
    persons = card(page, "Personne(s) concernée(s)")
    expect(persons).to_contain_text("Peeters Jan, né(e) le 01/01/1985")
    items = card(page, "Informations que la lettre communique")
    expect(items.locator("ol.sign-items > li")).to_have_count(2)
    first = items.locator("ol.sign-items > li").first
    expect(first).to_contain_text("CANARYITEM adresse actuelle")
    expect(first).to_contain_text("Adresse")  # its category
    expect(first).to_contain_text("Nécessaire à l'enquête")  # its necessity, from the opinion
    expect(first).to_contain_text("Perquisition et saisie ordonnées par un juge d'instruction")
    # The flags of the current opinion; the returned opinion's derogation is not there.
    assert flags
    for message in flags:
        expect(page.locator(".flag-list")).to_contain_text(message)
    expect(page.get_by_text(OLD_OVERRIDE)).to_have_count(0)
    expect(card(page, "Refuser de signer")).to_be_visible()
    president.axe("page de signature")
    president.screenshot("sign_page")
    fits_a_phone(president, "sign_page-mobile")


def test_decline_to_sign_sends_the_request_back_and_voids_the_signature(ui: Browsing, people):
    dr = in_thread(named_flow(people).partially_signed)  # the DG signed first
    declined_letter = in_thread(lambda: reread(dr).reply)

    president = ui.as_(people["president"])
    page = open_sign_page(president, dr.reference)
    decline = card(page, "Refuser de signer")
    # Blank remarks (the browser lets spaces through): the page says so and nothing changes.
    field(decline, "Vos remarques pour le directeur général").fill("   ")
    decline.get_by_role("button", name="Refuser de signer et renvoyer au contrôle").click()
    expect(page.get_by_text("Le refus de signer n'a pas été enregistré")).to_be_visible()
    president.axe("refus de signer sans remarques")
    assert in_thread(lambda: reread(dr).state) == State.PARTIALLY_SIGNED
    decline = card(page, "Refuser de signer")
    field(decline, "Vos remarques pour le directeur général").fill(REMARKS)
    decline.get_by_role("button", name="Refuser de signer et renvoyer au contrôle").click()

    president.expect_message(
        f"Vous avez refusé de signer la lettre de {dr.reference} : la demande retourne"
    )
    president.expect_state("Contrôle de légalité (DG)")
    history = card(page, "Lettres antérieures")
    expect(history).to_contain_text("Refusée à la signature")
    expect(history).to_contain_text("annulée : lettre refusée à la signature")
    expect(history).to_contain_text(REMARKS)
    president.axe("demande après un refus de signer")
    president.screenshot("request_after_decline")

    def counted() -> tuple[Any, ...]:
        fresh = reread(dr)
        letter = reread(dr).replies.get(pk=declined_letter.pk)
        return (
            fresh.state,
            fresh.current_reply(),
            fresh.has_two_signatures(),
            letter.superseded_at is not None,
            list(Signature.objects.filter(reply=letter).values_list("capacity", flat=True)),
            list(SignatureDecline.objects.values_list("reply_id", "capacity", "remarks")),
        )

    state, current, two, superseded, kept, declines = in_thread(counted)
    assert state == State.AWAITING_REVIEW
    assert current is None  # no letter to sign: the DG's signature counts for nothing
    assert not two
    assert superseded
    assert kept == ["director_general"]  # kept in the history
    assert declines == [(declined_letter.pk, "president", REMARKS)]

    # Back to the DG's review: the DG decides again, and a new letter needs both signatures.
    dg = ui.as_(people["dg"])
    page = dg.open_request("Contrôle de légalité", dr.reference)
    expect(page.get_by_role("link", name="Contrôler la légalité et décider")).to_be_visible()
    in_thread(lambda: services.approve(reread(dr), actor=people["dg"]))
    page.reload()
    dg.expect_state("Réponse à signer")
    expect(page.get_by_text("Aucune signature pour l'instant.")).to_be_visible()
    dg.axe("demande avec une lettre antérieure refusée (DG)")


@pytest.mark.real_letters
def test_the_dgs_paragraph_is_in_the_signed_pdf(ui: Browsing, people):
    dr = in_thread(named_flow(people).awaiting_signatures)

    dg = ui.as_(people["dg"])
    page = dg.open_request("À signer", dr.reference)
    page.get_by_role("link", name="Ajouter un paragraphe à la lettre").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Ajouter un paragraphe à la lettre {dr.reference}"
    )
    dg.axe("formulaire du paragraphe du DG")
    fits_a_phone(dg, "letter_paragraph-mobile")
    field(page, "Paragraphe ajouté par le directeur général").fill(PARAGRAPH)
    page.get_by_role("button", name="Enregistrer le paragraphe").click()
    dg.expect_message("Paragraphe ajouté à la lettre")

    # The DG signs; the sign page shows the paragraph.
    page.get_by_role("link", name="Signer la réponse").click()
    expect(card(page, "Paragraphe ajouté par le directeur général")).to_contain_text(PARAGRAPH)
    assert images_drawn(page)
    field(page, OTP_LABEL).fill(fresh_otp(people["dg"]))
    page.get_by_role("button", name="Signer la réponse").click()
    dg.expect_state("Réponse signée une fois")
    # Once signed, the paragraph can no longer change.
    expect(
        page.get_by_role("link", name="Modifier le paragraphe ajouté à la lettre")
    ).to_have_count(0)

    president = ui.as_(people["president"])
    page = open_sign_page(president, dr.reference)
    expect(card(page, "Paragraphe ajouté par le directeur général")).to_contain_text(PARAGRAPH)
    expect(page.get_by_role("link", name="Modifier ou supprimer le paragraphe")).to_have_count(0)
    field(page, OTP_LABEL).fill(fresh_otp(people["president"]))
    page.get_by_role("button", name="Signer la réponse").click()
    president.expect_state("Réponse signée, à expédier")
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger la réponse signée (PDF)").click()

    signed = download.value.path().read_bytes()
    assert signed.count(b"/ByteRange") == 2
    text = pdf_text(signed)
    assert " ".join(PARAGRAPH.split()) in text
    assert text.index("Pour les informations relatives") > text.index("CANARYITEM")
