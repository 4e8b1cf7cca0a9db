"""The opinion form and the intake form in a real browser: conditions shown as
a basis is ticked, the points of attention updated without submitting, items
and persons added and removed freely, a returned opinion opened pre-filled,
and both forms checked with axe-core. Screenshots of both forms, wide and
narrow, go to /tmp/shots/ for a human to look at."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import User
from legal_basis.models import LegalBasis
from requests_app import services
from requests_app.models import DisclosureRequest, State
from tests.conftest import Flow, basis

from .conftest import Browsing, Persona, in_thread
from .test_procedure import field, subform

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/shots")
WIDTHS = (1280, 390)


def shoot(persona: Persona, name: str) -> list[Path]:
    """Full-page screenshots of the current page, wide then narrow."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = persona.page
    paths = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        path = SHOTS / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    page.set_viewport_size({"width": 1280, "height": 900})
    return paths


def open_opinion(persona: Persona, dr: DisclosureRequest) -> Page:
    page = persona.page
    page.goto(f"/demandes/{dr.pk}/avis/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Avis motivé sur la demande {dr.reference}"
    )
    return page


def basis_box(page: Page, basis_obj: LegalBasis):
    return page.get_by_role("checkbox", name=f"{basis_obj.title_fr} ({basis_obj.citation})")


def conditions_of(page: Page, basis_obj: LegalBasis):
    return page.locator(f'fieldset[data-checklist-for="{basis_obj.pk}"]')


def fill_item(page: Page, number: int, description: str, category: str, basis_title: str):
    item = subform(page, f"Information {number}")
    field(item, "Information proposée").fill(description)
    field(item, "Catégorie").select_option(label=category)
    field(item, "Base qui la permet").select_option(label=basis_title)
    field(item, "Pourquoi est-elle strictement nécessaire ?").fill("Visée par l'ordonnance.")


def test_ticking_a_basis_shows_its_conditions_and_the_flags_follow(ui: Browsing, people):
    dr = in_thread(lambda: Flow(people).assigned())
    ji = in_thread(lambda: basis("ji-search-seizure"))
    referent = ui.as_(people["referent"])
    page = open_opinion(referent, dr)
    url = page.url
    # With script, the no-script button is gone and no condition shows yet.
    expect(page.get_by_role("button", name=re.compile("^Afficher les conditions"))).to_be_hidden()
    expect(conditions_of(page, ji)).to_be_hidden()
    expect(page.get_by_text("[F] fait tiré d'une source")).to_be_visible()

    basis_box(page, ji).check()

    # The conditions appear at once, without any page load.
    expect(conditions_of(page, ji)).to_be_visible()
    expect(conditions_of(page, ji).get_by_role("radio", name="Remplie", exact=True)).to_have_count(
        len(ji.checklist)
    )
    assert page.url == url
    # The item's basis list offers the ticked basis.
    item = subform(page, "Information 1")
    expect(field(item, "Base qui la permet").locator("option")).to_have_text(
        ["— Choisir une base cochée —", ji.title_fr]
    )
    # An item without its basis: the flags say so without submitting.
    field(item, "Information proposée").fill("Adresse actuelle")
    field(item, "Catégorie").select_option(label="Adresse")
    status = page.locator("[data-flags-status]")
    expect(status).to_contain_text("Points d'attention mis à jour")
    expect(page.locator("#opinion-flags .flag-blocking")).not_to_have_count(0)
    blocking_before = page.locator("#opinion-flags .flag-blocking").count()
    field(item, "Base qui la permet").select_option(label=ji.title_fr)
    expect(page.locator("#opinion-flags .flag-blocking")).to_have_count(blocking_before - 1)
    assert not in_thread(lambda: DisclosureRequest.objects.get(pk=dr.pk).opinions.exists())

    # Unticking hides the conditions again and empties the item's basis.
    basis_box(page, ji).uncheck()
    expect(conditions_of(page, ji)).to_be_hidden()
    expect(field(item, "Base qui la permet")).to_have_value("")
    basis_box(page, ji).check()
    referent.axe("formulaire d'avis, base cochée, alertes à jour")
    shoot(referent, "opinion-form")


def test_a_fourth_item_can_be_added_and_any_removed(ui: Browsing, people):
    dr = in_thread(lambda: Flow(people).assigned())
    ji = in_thread(lambda: basis("ji-search-seizure"))
    referent = ui.as_(people["referent"])
    page = open_opinion(referent, dr)
    basis_box(page, ji).check()
    met = conditions_of(page, ji).get_by_role("radio", name="Remplie", exact=True)
    for condition in met.all():
        condition.check()
    page.get_by_role("radio", name="Communiquer", exact=True).check()
    field(page, "Motivation").fill("L'ordonnance du juge d'instruction vise ces informations.")
    add = page.get_by_role("button", name="Ajouter une information")
    for _ in range(4):
        add.click()
    expect(page.locator("[data-formset-forms] > .subform")).to_have_count(5)
    # The new sub-form takes the focus.
    expect(field(subform(page, "Information 5"), "Information proposée")).to_be_focused()
    items = [
        ("Adresse actuelle", "Adresse"),
        ("À retirer", "Autre"),
        ("Composition de ménage", "Composition de ménage"),
        ("Aide accordée", "Aides octroyées et montants"),
        ("Dates de contact", "Dates de contact"),
    ]
    for number, (description, category) in enumerate(items, start=1):
        fill_item(page, number, description, category, ji.title_fr)

    page.get_by_role("button", name="Retirer l'information 2").click()

    # The others are renumbered: "Information 2" is now the household.
    expect(page.locator("[data-formset-forms] > .subform")).to_have_count(4)
    expect(field(subform(page, "Information 2"), "Information proposée")).to_have_value(
        "Composition de ménage"
    )
    expect(page.locator("input[name=items-TOTAL_FORMS]")).to_have_value("4")
    referent.axe("formulaire d'avis, quatre informations")
    page.get_by_role("button", name="Transmettre l'avis").click()
    referent.expect_message(f"Avis enregistré pour la demande {dr.reference}.")

    def stored() -> list[tuple[str, str]]:
        opinion = DisclosureRequest.objects.get(pk=dr.pk).opinions.get()
        return [(i.description, i.legal_basis.code) for i in opinion.items.order_by("position")]

    assert in_thread(stored) == [
        ("Adresse actuelle", "ji-search-seizure"),
        ("Composition de ménage", "ji-search-seizure"),
        ("Aide accordée", "ji-search-seizure"),
        ("Dates de contact", "ji-search-seizure"),
    ]


def test_a_returned_opinion_opens_prefilled(ui: Browsing, people):
    remarks = "Précisez en quoi le montant du RIS est nécessaire."

    def returned() -> DisclosureRequest:
        dr = Flow(people).in_review()
        services.return_for_revision(dr, actor=people["dg"], remarks=remarks)
        return dr

    dr = in_thread(returned)
    ji = in_thread(lambda: basis("ji-search-seizure"))
    referent = ui.as_(people["referent"])
    page = open_opinion(referent, dr)

    remarks_card = page.locator("section").filter(has_text="Remarques du Directeur général")
    expect(remarks_card).to_contain_text(remarks)
    expect(page.get_by_text("comme avis n° 2")).to_be_visible()
    expect(basis_box(page, ji)).to_be_checked()
    expect(conditions_of(page, ji)).to_be_visible()
    met = conditions_of(page, ji).get_by_role("radio", name="Remplie", exact=True)
    expect(met.first).to_be_checked()
    expect(page.get_by_role("radio", name="Communiquer", exact=True)).to_be_checked()
    expect(field(page, "Motivation")).to_have_value("Motivation CANARYMOTIF")
    first = subform(page, "Information 1")
    expect(field(first, "Information proposée")).to_have_value("CANARYITEM adresse actuelle")
    expect(field(first, "Base qui la permet")).to_have_value(str(ji.pk))
    expect(field(subform(page, "Information 2"), "Information proposée")).to_have_value(
        "Montant du RIS"
    )
    referent.axe("formulaire d'avis renvoyé, pré-rempli")
    shoot(referent, "opinion-returned")

    # The referent drops the second item and submits: opinion no. 2.
    page.get_by_role("button", name="Retirer l'information 2").click()
    page.get_by_role("button", name="Transmettre l'avis").click()
    referent.expect_message(f"Avis enregistré pour la demande {dr.reference}.")

    def versions() -> list[tuple[int, int]]:
        return [
            (o.number, o.items.count())
            for o in DisclosureRequest.objects.get(pk=dr.pk).opinions.order_by("number")
        ]

    assert in_thread(versions) == [(1, 2), (2, 1)]


def test_the_dg_sees_the_legal_analysis_when_an_item_rests_on_a_contested_basis(
    ui: Browsing, people
):
    def prepared():
        contested = LegalBasis.objects.create(
            code="test-contested",
            title_fr="Base contestée de test",
            citation="Disposition de test",
            letter_citation="Disposition de test",
            reply_paragraph_accepted="Le centre communique les informations ci-dessous.",
            role="request_basis",
            effect="contested",
        )
        dg = User.objects.get(pk=people["dg"].pk)
        dg.groups.add(*people["referent"].groups.all())
        dg = User.objects.get(pk=dg.pk)
        dr = Flow(people).received()
        services.assign_referent(dr, actor=people["president"], referent=dg)
        return dr, contested

    dr, contested = in_thread(prepared)
    dg = ui.as_(people["dg"])
    page = open_opinion(dg, dr)
    analysis = page.get_by_role("group", name="Analyse juridique")
    expect(analysis).to_be_hidden()

    basis_box(page, contested).check()
    page.get_by_role("radio", name="Communiquer", exact=True).check()
    field(page, "Motivation").fill("Motivation du DG.")
    fill_item(page, 1, "Adresse actuelle", "Adresse", contested.title_fr)

    expect(analysis).to_be_visible()
    dg.axe("formulaire d'avis du DG, base contestée")
    field(page, "Analyse juridique du Directeur général").fill("Analyse CANARYANALYSE.")
    page.get_by_role("button", name="Transmettre l'avis").click()
    dg.expect_message(f"Avis enregistré pour la demande {dr.reference}.")

    def stored() -> tuple[str, str]:
        fresh = DisclosureRequest.objects.get(pk=dr.pk)
        return fresh.state, fresh.opinions.get().legal_analysis

    assert in_thread(stored) == (State.AWAITING_SIGNATURES, "Analyse CANARYANALYSE.")


def test_the_intake_form_takes_the_new_fields_and_persons_freely(ui: Browsing, people):
    secretariat = ui.as_(people["secretariat"])
    page = secretariat.page
    page.get_by_role("link", name="Enregistrer une demande").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enregistrer une demande reçue")
    expect(page.locator("[data-formset-forms] > .subform")).to_have_count(1)
    secretariat.axe("formulaire d'enregistrement")
    shoot(secretariat, "intake-form")

    received_on = timezone.localdate() - timedelta(days=1)
    field(page, "Date de réception").fill(received_on.isoformat())
    field(page, "Canal").select_option(label="Oral (téléphone, guichet)")
    field(page, "Type de demandeur").select_option(label="Juge d'instruction")
    field(page, "Nom du demandeur").fill("Juge Claire Dupont")
    field(page, "Fonction du demandeur").select_option(value="investigating_judge")
    field(page, "Civilité").select_option(value="madam")
    field(page, "Date de la lettre du demandeur").fill(
        (received_on - timedelta(days=3)).isoformat()
    )
    field(page, "Informations demandées").fill("Adresse actuelle.")
    documents = page.get_by_role("group", name="Documents joints à la demande")
    documents.get_by_role("checkbox").first.check()
    add = page.get_by_role("button", name="Ajouter une personne")
    add.click()
    add.click()
    # Names only: an oral call keeps no birth date or national number (issue 16).
    for number, (last, first) in enumerate(
        [("Peeters", "Jan"), ("Supprimé", "X"), ("Janssens", "Eva")], start=1
    ):
        person = subform(page, f"Personne {number}")
        field(person, "Nom").fill(last)
        field(person, "Prénoms").fill(first)
    page.get_by_role("button", name="Retirer la personne 2").click()
    expect(field(subform(page, "Personne 2"), "Nom")).to_have_value("Janssens")
    secretariat.axe("formulaire d'enregistrement, deux personnes")
    shoot(secretariat, "intake-form-filled")
    page.get_by_role("button", name="Enregistrer la demande").click()
    # An oral request is closed at once: the outcome is confirmed first.
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmer l'enregistrement")
    page.get_by_role("button", name="Confirmer l'enregistrement").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Demande \S+$"))

    def stored():
        dr = DisclosureRequest.objects.get()
        return (
            sorted(dr.persons.values_list("last_name", flat=True)),
            dr.requester_function,
            dr.requester_civility,
            len(dr.documents),
        )

    assert in_thread(stored) == (["Janssens", "Peeters"], "investigating_judge", "madam", 1)
