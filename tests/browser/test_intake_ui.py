"""The intake page in a real browser: drop the scan, preview it, check the
alerts without leaving the page, then record; and a transition form that a
double click cannot submit twice."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Page, expect

from audit.models import AuditEvent
from requests_app.models import DisclosureRequest
from tests.conftest import Flow

from .conftest import Browsing, in_thread
from .test_procedure import field, subform

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def scanned_letter_pdf() -> bytes:
    """A one-page PDF holding an image, as a scanner makes them."""
    image = Image.new("RGB", (620, 877), "white")
    for x in range(60, 560):
        for y in (100, 101, 160, 161, 220, 221):
            image.putpixel((x, y), (20, 20, 20))
    out = io.BytesIO()
    image.save(out, "PDF", resolution=75.0)
    return out.getvalue()


def drop_file(page: Page, name: str, content: bytes, mime: str) -> None:
    """Drop a file on the drop zone as a file manager would."""
    transfer = page.evaluate_handle(
        """([name, bytes, mime]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], name, {type: mime}));
            return transfer;
        }""",
        [name, list(content), mime],
    )
    page.locator(".dropzone").dispatch_event("drop", {"dataTransfer": transfer})


def fill_intake(page: Page, cited_provision: str = "") -> None:
    field(page, "Date de réception").fill((timezone.localdate() - timedelta(days=1)).isoformat())
    field(page, "Canal").select_option(label="Courrier postal")
    field(page, "Type de demandeur").select_option(label="Police")
    field(page, "Nom du demandeur").fill("Inspecteur Alain Petit")
    field(page, "Disposition légale citée par le demandeur").fill(cited_provision)
    field(page, "Informations demandées").fill("Adresse actuelle.")
    person = subform(page, "Personne 1")
    field(person, "Nom").fill("Peeters")
    field(person, "Prénoms").fill("Jan")
    field(person, "Date de naissance").fill("1985-01-01")


def test_drop_preview_check_then_record(ui: Browsing, people, tmp_path: Path):
    secretariat = ui.as_(people["secretariat"])
    page = secretariat.page
    page.get_by_role("link", name="Enregistrer une demande").click()
    expect(page.locator(".dropzone")).to_contain_text("Glissez ici la lettre scannée")

    # A file that is not a scan is flagged at once, before any upload.
    drop_file(page, "lettre.pdf", b"<html>not a letter</html>", "application/pdf")
    expect(page.locator("#scan-preview")).to_contain_text("il sera refusé")

    # The real letter: its first page is drawn from the PDF itself.
    pdf = scanned_letter_pdf()
    drop_file(page, "lettre-police.pdf", pdf, "application/pdf")
    preview = page.locator("#scan-preview")
    expect(preview).to_contain_text("Document de 1 page(s)")
    canvas = preview.locator("canvas.scan-page")
    expect(canvas).to_be_visible()
    assert canvas.evaluate("c => c.width") > 100
    # Something was drawn: the canvas is not uniformly blank.
    assert canvas.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  for (let i = 0; i < d.length; i += 4) if (d[i] < 128) return true;
                  return false; }"""
    )

    # "Vérifier" shows the alerts in place; the dropped file stays attached.
    fill_intake(page, cited_provision="")
    page.get_by_role("button", name="Vérifier").click()
    panel = page.locator("#intake-check")
    expect(panel).to_contain_text("Vérification avant enregistrement")
    expect(panel).to_contain_text("Scan accepté : fichier PDF")
    expect(panel).to_contain_text("Points d'attention")
    assert page.locator("input[type=file]").evaluate("i => i.files.length") == 1
    assert in_thread(DisclosureRequest.objects.count) == 0
    secretariat.axe("formulaire d'enregistrement, après aperçu et vérification")
    secretariat.screenshot("intake-preview-secretariat")

    # Add the provision the letter cites, check again, and record.
    field(page, "Disposition légale citée par le demandeur").fill("Art. 46 du Code pénal social")
    page.get_by_role("button", name="Vérifier").click()
    expect(panel).to_contain_text("Vérification avant enregistrement")
    page.get_by_role("button", name="Enregistrer la demande").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Demande \S+$"))
    stored = in_thread(lambda: DisclosureRequest.objects.get())
    assert stored.scan_sha256 == hashlib.sha256(pdf).hexdigest()


def test_a_png_scan_is_shown_as_an_image(ui: Browsing, people):
    secretariat = ui.as_(people["secretariat"])
    page = secretariat.page
    page.get_by_role("link", name="Enregistrer une demande").click()
    out = io.BytesIO()
    Image.new("RGB", (300, 400), "white").save(out, "PNG")

    drop_file(page, "lettre.png", out.getvalue(), "image/png")

    image = page.locator("#scan-preview img.scan-page")
    expect(image).to_be_visible()
    assert (image.get_attribute("src") or "").startswith("blob:")
    assert image.evaluate("i => i.naturalWidth") == 300


def test_a_double_click_on_a_transition_form_submits_once(ui: Browsing, people):
    dr = in_thread(lambda: Flow(people).received())
    president = ui.as_(people["president"])
    page = president.page
    page.goto(f"/demandes/{dr.pk}/attribuer/")
    field(page, "Référent").select_option(label="Julie Martin")
    last = in_thread(lambda: AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)[0])

    page.get_by_role("button", name="Attribuer").dblclick()

    president.expect_message(f"Référent attribué à la demande {dr.reference}.")
    actions = in_thread(
        lambda: list(
            AuditEvent.objects.filter(seq__gt=last, object_id=str(dr.pk)).values_list(
                "action", flat=True
            )
        )
    )
    assert actions.count("assign_referent") == 1
    assert "refused" not in actions
