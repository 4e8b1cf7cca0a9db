"""Issue 16: the statistics page in a real browser, for the DPO and the Président.

The requests are seeded with the ORM in their end states (as in
tests/dpo/test_statistics.py, whose data set is taken three times): the page,
its charts and its tables are what is tested here, not the procedure.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import persona as world_persona
from tests.dpo.test_statistics import IN_PERIOD, OUTSIDE, make_request

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dpo_person(people):
    user = world_persona("dpo")
    user.first_name, user.last_name = "Claire", "Dewit"
    user.save(update_fields=["first_name", "last_name"])
    return user


@pytest.fixture
def seeded_year(people, dpo_person):
    users = {
        "secretariat": people["secretariat"],
        "referent": people["referent"],
        "dg": people["dg"],
    }
    for _ in range(3):
        for seed in IN_PERIOD:
            make_request(seed, users)
    for seed in OUTSIDE:
        make_request(seed, users)


def _show_2025(page) -> None:
    page.goto("/statistiques/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Statistiques des demandes")
    page.locator("#id_du").fill("2025-01-01")
    page.locator("#id_au").fill("2025-12-31")
    page.get_by_role("button", name="Afficher les chiffres").click()
    expect(page.locator(".stats-period")).to_have_text(
        "Demandes reçues du 01/01/2025 au 31/12/2025."
    )


def test_the_dpo_reads_the_figures_of_a_year(ui, people, dpo_person, seeded_year):
    dpo = ui.as_(dpo_person)
    page = dpo.page
    _show_2025(page)

    # The charts are images named by their title, each followed by its table.
    charts = page.get_by_role("img", name=re.compile(r"^Graphique : "))
    expect(charts).to_have_count(3)
    kinds = page.get_by_role("table", name="Demandes par type de demandeur")
    expect(kinds.get_by_role("row", name=re.compile(r"^Police"))).to_contain_text("36")
    expect(kinds.get_by_role("row", name=re.compile(r"^Toutes les demandes"))).to_contain_text(
        "66"
    )
    outcomes = page.get_by_role("table", name="Demandes par issue")
    expect(outcomes.get_by_role("row", name=re.compile(r"^Irrecevable"))).to_contain_text("< 5")
    expect(page.locator("dl.stats-facts")).to_contain_text("12,5 jours")
    dpo.axe("dpo-statistics")
    dpo.screenshot("dpo-statistics")

    # The CSV of the same period.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Exporter les chiffres (CSV)").click()
    body = download_info.value.path().read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    assert "Tableau;Catégorie;Code;Chiffre" in body.decode("utf-8-sig")

    # A wrong period: a French error on the form, no figures.
    page.locator("#id_du").fill("2025-12-31")
    page.locator("#id_au").fill("2025-01-01")
    page.get_by_role("button", name="Afficher les chiffres").click()
    expect(page.get_by_role("alert")).to_contain_text("La date de début suit la date de fin")
    expect(page.get_by_role("img", name=re.compile(r"^Graphique : "))).to_have_count(0)
    dpo.axe("dpo-statistics-error")


def test_the_president_opens_the_page_and_the_secretariat_may_not(ui, people, seeded_year):
    president = ui.as_(people["president"])
    _show_2025(president.page)
    expect(
        president.page.get_by_role("heading", name="Rapport annuel pour le Conseil")
    ).to_be_visible()
    president.axe("dpo-statistics-president")

    secretariat = ui.as_(people["secretariat"])
    response = secretariat.page.goto("/statistiques/")
    assert response is not None
    assert response.status == 403
