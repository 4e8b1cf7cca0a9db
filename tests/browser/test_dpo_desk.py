"""The DPO's desk in a real browser, beside the register and the figures
(test_dpo_register.py, test_dpo_statistics.py): the home page's card, the
access requests and their extension, retention and a legal hold; axe-core
on each page and screenshots of the new ones."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from requests_app.inputs import PersonData
from tests.conftest import Flow
from tests.conftest import persona as world_persona

from .conftest import Browsing, in_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _seed(people) -> dict[str, str]:
    flow = Flow(people)
    access = flow.received(
        kind="subject_access",
        identity_verification="id_card_at_desk",
        channel="hand_delivery",
        requester_kind="person_concerned",
        requester_name="Sara Peeters",
        requester_organisation="",
        requester_reference="",
        cited_provision="",
        documents=[],
        information_requested="Quelles données le CPAS détient-il sur moi ?",
        received_on=timezone.localdate(),
        persons=[PersonData("Peeters", "Sara", birth_date=date(1991, 4, 4))],
    )
    closed = flow.closed()
    return {"access": access.reference, "closed": closed.reference}


def test_the_dpo_follows_access_requests_and_holds_a_request(ui: Browsing, people):
    refs = in_thread(lambda: _seed(people))
    dpo = in_thread(lambda: world_persona("dpo"))
    persona = ui.as_(dpo)
    page = persona.page

    card = page.locator("section.card").filter(
        has=page.get_by_role("heading", level=2, name="Protection des données")
    )
    expect(card.get_by_role("link")).to_have_count(5)
    persona.axe("accueil (délégué à la protection des données)")
    persona.screenshot("dpo-home")

    nav = page.get_by_role("navigation", name="Navigation principale")
    nav.get_by_role("link", name="Demandes d'accès").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Demandes d'accès des personnes")
    table = page.get_by_role("table")
    expect(table).to_contain_text(refs["access"])
    # No name on the page: the reference and the deadline are enough.
    expect(page.locator("main")).not_to_contain_text("Peeters")
    persona.axe("demandes d'accès")
    persona.screenshot("dpo-access-requests")

    table.get_by_role("link", name=f"Prolonger le délai de {refs['access']}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Prolonger le délai de la demande d'accès {refs['access']}"
    )
    # Spaces pass the browser's "required", not the server.
    page.get_by_label("Motif de la prolongation").fill("   ")
    page.get_by_role("button", name="Prolonger le délai").click()
    expect(page.get_by_role("alert")).to_be_visible()
    persona.axe("prolongation (motif manquant)")
    page.get_by_label("Motif de la prolongation").fill("Nombreux dossiers à rassembler.")
    page.get_by_role("button", name="Prolonger le délai").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Demandes d'accès des personnes")
    expect(page.locator("main .messages")).to_contain_text(refs["access"])
    expect(page.get_by_role("table")).to_contain_text("prolongé")

    nav.get_by_role("link", name="Conservation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Conservation des données des demandes"
    )
    persona.axe("conservation")
    page.get_by_role("link", name="Poser un gel juridique").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Poser un gel juridique")
    persona.axe("gel juridique")
    page.get_by_label("Référence de la demande").fill(refs["closed"])
    page.get_by_label("Motif du gel").fill("Recours introduit devant le tribunal du travail.")
    page.get_by_role("button", name="Poser le gel").click()
    expect(page.locator("main .messages")).to_contain_text(refs["closed"])
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Conservation des données des demandes"
    )
    persona.axe("conservation, un gel posé")
    persona.screenshot("dpo-retention")
