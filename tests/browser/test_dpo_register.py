"""The DPO's register of disclosures in a real browser: the DPO signs in,
searches a person, sees the rows; axe-core and a screenshot of the page."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from requests_app.inputs import PersonData
from tests.conftest import Flow
from tests.conftest import persona as world_persona
from tests.dpo.test_register import MARIE, NAMESAKE, SECRET_BASIS, _dispatched

from .conftest import Browsing, in_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _seed(people) -> dict[str, str]:
    flow = Flow(people)
    judge = _dispatched(
        flow,
        persons=[MARIE],
        items=[("identification", "ji-search-seizure"), ("address", "ji-search-seizure")],
        requester_name="Juge Claire Dupont",
        requester_organisation="Tribunal de première instance de Namur",
    )
    mediator = _dispatched(
        flow,
        persons=[PersonData(last_name="DUPRE", first_names="Marie", birth_date=MARIE.birth_date)],
        items=[("aid", "cj-1675-8")],
        requester_kind="debt_mediator",
        requester_name="Maître Leroy",
        requester_organisation="Cabinet Leroy",
        cited_provision="Règlement collectif de dettes",
        documents=[],
    )
    other = _dispatched(flow, persons=[NAMESAKE], items=[("health", "ji-search-seizure")])
    secret = _dispatched(
        flow,
        persons=[MARIE],
        items=[("household", SECRET_BASIS)],
        requester_kind="public_prosecutor",
        requester_name="Procureur du Roi",
        requester_organisation="Parquet de Namur",
        cited_provision="Réquisition",
        documents=["prosecutor_decision"],
    )
    dpo = world_persona("dpo")
    dpo.first_name, dpo.last_name = "Nadia", "Peeters"
    dpo.save(update_fields=["first_name", "last_name"])
    return {
        "judge": judge.reference,
        "mediator": mediator.reference,
        "other": other.reference,
        "secret": secret.reference,
    }


def test_the_dpo_searches_the_register_of_disclosures(ui: Browsing, people):
    refs = in_thread(lambda: _seed(people))
    dpo = in_thread(lambda: world_persona("dpo"))

    persona = ui.as_(dpo)
    page = persona.page
    page.goto("/protection-des-donnees/registre/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Registre des communications")
    persona.axe("registre des communications (vide)")

    # A mistyped national number: a French error, no search.
    page.get_by_label("Numéro de registre national").fill("80051712300")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Registre des communications")
    expect(page.get_by_text("registre national est invalide")).to_be_visible()
    persona.axe("registre des communications (erreur)")

    page.get_by_label("Numéro de registre national").fill("")
    page.get_by_label(re.compile(r"^Nom\W*$")).fill("dupre")
    page.get_by_label("Date de naissance").fill(date(1980, 5, 17).isoformat())
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("heading", level=2, name="Communications trouvées")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("2 communications – 2 demandes")
    table = page.get_by_role("table")
    expect(table.get_by_role("cell", name=refs["judge"], exact=True)).to_be_visible()
    expect(table.get_by_role("cell", name=refs["mediator"], exact=True)).to_be_visible()
    expect(table.get_by_role("cell", name=refs["other"], exact=True)).to_have_count(0)
    expect(table.get_by_role("cell", name=refs["secret"], exact=True)).to_have_count(0)
    expect(table).to_contain_text("Juge d'instruction")
    expect(table).to_contain_text("Aides octroyées et montants")
    # The criteria are in no address the browser keeps.
    history = page.evaluate("() => [location.href, document.referrer]")
    assert "search=" in history[0]
    assert not [url for url in history if re.search("dupr|1980|800517", url, re.I)]
    persona.axe("registre des communications (résultats)")
    persona.screenshot("dpo-register")

    with page.expect_download() as download:
        page.get_by_role("button", name="Exporter en CSV (Excel)").click()
    assert download.value.suggested_filename.endswith(".csv")
    assert "dupr" not in download.value.suggested_filename.lower()

    page.goto("/protection-des-donnees/registre-des-traitements/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Registre des activités de traitement"
    )
    persona.axe("registre des activités de traitement")
    persona.screenshot("dpo-processing-record")
