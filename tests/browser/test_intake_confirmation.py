"""Second thoughts in a real browser (issue 14): an inadmissible intake is
confirmed before anything is recorded, going back keeps every field and the
chosen scan, a server-side error keeps the scan too, and withdrawing or
closing goes through a confirmation page."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from audit.models import AuditEvent
from requests_app.models import DisclosureRequest, ReplyKind, State
from tests.conftest import Flow

from .conftest import Browsing, Persona, in_thread
from .test_intake_ui import scanned_letter_pdf
from .test_procedure import field, subform

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = 390


def recorded() -> tuple[int, int]:
    """Requests, and audit events other than sign-ins."""
    return in_thread(
        lambda: (
            DisclosureRequest.objects.count(),
            AuditEvent.objects.exclude(action__startswith="login").count(),
        )
    )


def fits_a_phone(persona: Persona, label: str) -> None:
    """No horizontal scrolling at 390 px; the viewport is put back afterwards."""
    page = persona.page
    page.set_viewport_size({"width": PHONE, "height": 844})
    try:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE, f"{label}: {width} px wide at {PHONE} px"
        persona.screenshot(f"{label}-{PHONE}px")
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def letter_file(tmp_path: Path) -> tuple[Path, bytes]:
    content = scanned_letter_pdf()
    path = tmp_path / "lettre-police.pdf"
    path.write_bytes(content)
    return path, content


def fill_intake(page: Page, scan: Path, *, national_number: str = "85.01.01-001.15") -> None:
    field(page, "Date de réception").fill((timezone.localdate() - timedelta(days=1)).isoformat())
    field(page, "Canal").select_option(label="Courrier postal")
    field(page, "Type de demandeur").select_option(label="Police")
    field(page, "Nom du demandeur").fill("Inspecteur Alain Petit")
    field(page, "Organisation").fill("Zone de police Namur Capitale")
    field(page, "Référence du demandeur (« Vos réf. »)").fill("PV/2026/77")
    field(page, "Date de la lettre du demandeur").fill(
        (timezone.localdate() - timedelta(days=3)).isoformat()
    )
    field(page, "Disposition légale citée par le demandeur").fill("")
    field(page, "Informations demandées").fill("Adresse actuelle.")
    field(page, "Scan de la lettre (PDF, PNG, JPEG ou TIFF)").set_input_files(scan)
    person = subform(page, "Personne 1")
    field(person, "Nom").fill("Peeters")
    field(person, "Prénoms").fill("Jan")
    field(person, "Date de naissance").fill("1985-01-01")
    field(person, "Numéro de registre national").fill(national_number)


def expect_intake_kept(page: Page) -> None:
    """The fields of `fill_intake` as they were filled, and the scan kept."""
    expect(field(page, "Nom du demandeur")).to_have_value("Inspecteur Alain Petit")
    expect(field(page, "Organisation")).to_have_value("Zone de police Namur Capitale")
    expect(field(page, "Référence du demandeur (« Vos réf. »)")).to_have_value("PV/2026/77")
    expect(field(page, "Type de demandeur")).to_have_value("police")
    expect(field(page, "Informations demandées")).to_have_value("Adresse actuelle.")
    person = subform(page, "Personne 1")
    expect(field(person, "Nom")).to_have_value("Peeters")
    expect(field(person, "Date de naissance")).to_have_value("1985-01-01")
    expect(page.locator("#held-scan")).to_contain_text(
        re.compile(r"Fichier retenu : PDF, .+ — choisissez un autre fichier pour le remplacer")
    )


def test_an_inadmissible_intake_is_confirmed_before_it_is_recorded(
    ui: Browsing, people, tmp_path: Path
):
    scan, content = letter_file(tmp_path)
    secretariat = ui.as_(people["secretariat"])
    page = secretariat.page
    page.get_by_role("link", name="Enregistrer une demande").click()
    before = recorded()

    # No legal provision: the letter is inadmissible as it stands.
    fill_intake(page, scan)
    page.get_by_role("button", name="Enregistrer la demande").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmer l'enregistrement")
    summary = page.get_by_role("region", name="Ce qui va se passer")
    expect(summary).to_contain_text("irrecevable en l'état")
    expect(summary).to_contain_text("La demande ne cite aucune disposition légale")
    expect(summary).to_contain_text("une lettre d'irrecevabilité sera préparée pour signature")
    expect(page.get_by_role("region", name="Données encodées")).to_contain_text(
        "Police – Inspecteur Alain Petit"
    )
    assert recorded() == before
    assert secretariat.axe("confirmation d'une demande irrecevable") == []
    secretariat.screenshot("intake-confirmation-secretariat")
    fits_a_phone(secretariat, "intake-confirmation-secretariat")

    # Back to the form: every field as it was, the scan kept.
    page.get_by_role("button", name="Revenir au formulaire").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enregistrer une demande reçue")
    expect_intake_kept(page)
    assert recorded() == before
    assert secretariat.axe("formulaire d'enregistrement, scan retenu") == []
    fits_a_phone(secretariat, "intake-form-file-kept")

    # Sent again as it stands, and confirmed this time.
    page.get_by_role("button", name="Enregistrer la demande").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmer l'enregistrement")
    page.get_by_role("button", name="Confirmer l'enregistrement").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Demande \S+$"))
    secretariat.expect_message("enregistrée et déclarée irrecevable")
    secretariat.expect_state("Réponse à signer")
    stored = in_thread(lambda: DisclosureRequest.objects.select_related().get())
    assert stored.state == State.AWAITING_SIGNATURES
    assert stored.scan_sha256 == hashlib.sha256(content).hexdigest()
    kinds = in_thread(lambda: list(stored.replies.values_list("kind", flat=True)))
    assert kinds == [ReplyKind.INADMISSIBILITY]


def test_a_server_side_error_keeps_the_chosen_file(ui: Browsing, people, tmp_path: Path):
    scan, content = letter_file(tmp_path)
    secretariat = ui.as_(people["secretariat"])
    page = secretariat.page
    page.get_by_role("link", name="Enregistrer une demande").click()

    # Check digits wrong: only the server knows.
    fill_intake(page, scan, national_number="85.01.01-001.16")
    field(page, "Disposition légale citée par le demandeur").fill("Art. 46 du Code pénal social")
    page.get_by_role("button", name="Enregistrer la demande").click()

    expect(page.get_by_role("alert").first).to_contain_text("La demande n'a pas été enregistrée")
    expect(page.get_by_text("Le numéro de registre national est invalide")).to_be_visible()
    expect_intake_kept(page)
    assert page.locator("input[type=file]").evaluate("i => i.files.length") == 0
    assert in_thread(DisclosureRequest.objects.count) == 0
    assert secretariat.axe("formulaire d'enregistrement avec une erreur, scan retenu") == []
    secretariat.screenshot("intake-error-file-kept")

    # Corrected without choosing the file again.
    field(subform(page, "Personne 1"), "Numéro de registre national").fill("85.01.01-001.15")
    page.get_by_role("button", name="Enregistrer la demande").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Demande \S+$"))
    secretariat.expect_state("En attente d'un référent")
    stored = in_thread(lambda: DisclosureRequest.objects.get())
    assert stored.scan_sha256 == hashlib.sha256(content).hexdigest()


def test_withdrawal_and_closing_go_through_a_confirmation_page(ui: Browsing, people):
    flow = Flow(people)
    assigned = in_thread(flow.assigned)
    dispatched = in_thread(flow.dispatched)
    secretariat = ui.as_(people["secretariat"])
    page = secretariat.page

    page.goto(assigned.get_absolute_url())
    page.get_by_role("link", name="Enregistrer le retrait par le demandeur").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Enregistrer le retrait de la demande {assigned.reference}"
    )
    expect(page.get_by_role("region", name="Ce qui va se passer")).to_contain_text(
        "aucune réponse ne sera signée ni envoyée"
    )
    assert in_thread(lambda: DisclosureRequest.objects.get(pk=assigned.pk).state) == (
        State.AWAITING_OPINION
    )
    assert secretariat.axe("confirmation du retrait") == []
    secretariat.screenshot("withdraw-confirmation-secretariat")
    fits_a_phone(secretariat, "withdraw-confirmation-secretariat")
    obtained = "Le demandeur a obtenu l'information par une autre voie"
    page.get_by_role("radio", name=obtained).check()
    page.get_by_role("button", name="Confirmer le retrait").click()

    secretariat.expect_message(f"Retrait de la demande {assigned.reference} enregistré.")
    secretariat.expect_state("Retirée par le demandeur")
    reason = page.locator("dl.facts dt", has_text="Motif du retrait").locator(
        "xpath=following-sibling::dd[1]"
    )
    expect(reason).to_have_text(obtained)
    withdrawn = in_thread(lambda: DisclosureRequest.objects.get(pk=assigned.pk))
    assert withdrawn.withdrawal_reason == "information_obtained"

    page.goto(dispatched.get_absolute_url())
    page.get_by_role("link", name="Clôturer la demande").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Clôturer la demande {dispatched.reference}"
    )
    expect(page.get_by_role("region", name="Ce qui va se passer")).to_contain_text(
        "La réponse a été expédiée le"
    )
    assert secretariat.axe("confirmation de la clôture") == []
    fits_a_phone(secretariat, "close-confirmation-secretariat")
    page.get_by_role("button", name="Confirmer la clôture").click()

    secretariat.expect_message(f"Demande {dispatched.reference} clôturée.")
    secretariat.expect_state("Clôturée")
