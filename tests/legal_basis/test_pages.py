"""The catalogue pages and its JSON API: open to every staff member only."""

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse
from django.utils import timezone
from django.utils.html import escape
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from legal_basis import api_urls
from legal_basis.models import (
    BasisRole,
    Feature,
    LegalBasis,
    LegalBasisRelease,
    RequesterKind,
    SupportingDocument,
)
from legal_basis.releases import release_in_force
from tests.conftest import CANARY_NAME, CANARY_NISS, inline_scripts

ROLES = ["secretariat", "president", "referent", "dg", "auditor"]

pytestmark = pytest.mark.django_db


def list_url() -> str:
    return reverse("legal_basis:list")


def detail_url(code: str = "cp-458", version: int | None = None) -> str:
    if version is None:
        version = in_force(code).version
    return reverse("legal_basis:detail", args=[code, version])


def in_force(code: str) -> LegalBasis:
    return LegalBasis.objects.in_force_on(timezone.localdate()).get(code=code)


def card(code: str, **fields: Any) -> LegalBasis:
    """A catalogue row made in the test, outside any release."""
    latest = LegalBasis.objects.filter(code=code).order_by("-version").first()
    defaults: dict[str, Any] = {
        "version": latest.version + 1 if latest else 1,
        "title_fr": f"Fiche {code}",
        "citation": "Référence interne",
        "role": BasisRole.REQUEST_BASIS,
        "effect": "permits",
    }
    return LegalBasis.objects.create(code=code, **{**defaults, **fields})


def api_list_url() -> str:
    return reverse("api:legal-basis-list")


def api_detail_url(code: str = "cic-46bis1") -> str:
    return reverse("api:legal-basis-detail", args=[code])


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_catalogue(client, request, role):
    client.force_login(request.getfixturevalue(role))

    assert client.get(list_url()).status_code == 200
    assert client.get(detail_url()).status_code == 200
    assert client.get(api_list_url()).status_code == 200
    assert client.get(api_detail_url()).status_code == 200


@pytest.mark.parametrize(
    "url", [list_url, detail_url, api_list_url, api_detail_url], ids=lambda f: f.__name__
)
def test_outsider_gets_404(client, outsider, url):
    client.force_login(outsider)

    assert client.get(url()).status_code == 404


@pytest.mark.parametrize("url", [list_url, detail_url], ids=lambda f: f.__name__)
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("url", [api_list_url, api_detail_url], ids=lambda f: f.__name__)
def test_anonymous_api_call_is_refused(client, url):
    response = client.get(url())

    assert response.status_code in (401, 403)
    assert "detail" in response.json()


def test_list_shows_every_period_of_every_current_basis_with_its_sources(client, president):
    client.force_login(president)

    html = client.get(list_url()).content.decode()

    bases = list(LegalBasis.objects.current())
    assert len(bases) >= 40
    assert LegalBasis.objects.current().filter(code="cp-458").count() == 2
    for basis in bases:
        assert basis.get_absolute_url() in html
        assert f'id="{basis.code}-v{basis.version}"' in html
        assert html.count(f'id="{basis.code}"') == 1
        for source in basis.sources:
            assert f'href="{escape(source["url"])}" rel="noopener noreferrer"' in html
    periods = LegalBasis.objects.current().filter(code="cp-458")
    old, new = periods.get(in_force_from=None), periods.get(in_force_from__isnull=False)
    # Ordered by code, then by the start of the period (none first).
    assert html.index(f'id="cp-458-v{old.version}"') < html.index(f'id="cp-458-v{new.version}"')
    assert html.index('id="cp-458-v') < html.index('id="cp-458bis-v')


def test_list_shows_role_and_letter_citation(client, dg):
    client.force_login(dg)
    secrecy = in_force("cp-458")
    context = in_force("gdpr")
    assert secrecy.letter_citation
    assert not context.letter_citation

    html = client.get(list_url()).content.decode()

    row = re.search(rf'<tr id="cp-458-v{secrecy.version}">.*?</tr>', html, re.S)
    assert row is not None
    assert f"Citation dans les lettres :</span> {escape(secrecy.letter_citation)}" in row[0]
    assert escape(secrecy.get_role_display()) in row[0]
    row = re.search(rf'<tr id="gdpr-v{context.version}">.*?</tr>', html, re.S)
    assert row is not None
    assert "Jamais citée dans une lettre" in row[0]
    assert escape(str(BasisRole.REQUEST_BASIS.label)) in html


def test_list_shows_the_release_in_force_and_its_notes(client, dg):
    client.force_login(dg)
    release = release_in_force()
    assert release is not None
    assert release.notes
    earlier = LegalBasisRelease.objects.exclude(pk=release.pk)
    assert earlier.exists()

    html = client.get(list_url()).content.decode()

    assert f"Publication en vigueur : {escape(release.label)}" in html
    assert escape(release.publisher) in html
    first_paragraph = release.notes.split("\n")[0]
    assert f"<p>{escape(first_paragraph)}" in html
    for older in earlier:
        assert escape(older.label) in html
    assert "fixtures/legal_basis.json" not in html
    # Staff read who changes the catalogue; the command is for the administrator's guide.
    assert "que l&#x27;administrateur applique" in html or "que l'administrateur applique" in html
    assert "import_legal_bases" not in html


def test_list_says_how_to_fill_an_empty_catalogue(client, dg):
    LegalBasis.objects.update(is_current=False)
    client.force_login(dg)

    html = client.get(list_url()).content.decode()

    assert "Le catalogue est vide : l" in html
    assert "doit appliquer un fichier de publication" in html
    assert "fixtures/legal_basis.json" not in html


def test_sources_say_whether_they_are_official_and_secondary_ones_show_their_note(
    client, referent
):
    client.force_login(referent)
    basis = in_force("cp-458")
    official = next(s for s in basis.sources if s["official"])
    secondary = next(s for s in basis.sources if not s["official"])

    for url in [list_url(), detail_url("cp-458")]:
        html = client.get(url).content.decode()
        assert (
            f'{escape(official["label"])}</a> <span class="tag">Source officielle</span>' in html
        )
        assert (
            f'{escape(secondary["label"])}</a> <span class="tag tag-contested">Source secondaire'
            f'</span><br><span class="help">{escape(secondary["note"])}</span>'
        ) in html


def test_list_shows_verification_tags_and_validity(client, referent):
    client.force_login(referent)
    today_458 = in_force("cp-458")

    html = client.get(list_url()).content.decode()

    for tag in ["[F]", "[I]", "[K]", "[V]"]:
        assert tag in html
    assert "Contient des éléments à vérifier [V]" in html
    assert "Depuis le 1 septembre 2017" in html  # cic-46bis1
    assert "Jusqu'au 7 avril 2026" in html  # cp-458, old Penal Code
    assert "Depuis le 8 avril 2026" in html  # cp-458, Penal Code of 2024
    assert "En vigueur aujourd'hui" in html
    assert "Plus en vigueur" in html
    # The ended period points to the same code's period in force today.
    old = LegalBasis.objects.current().get(code="cp-458", in_force_until__isnull=False)
    row = re.search(rf'<tr id="cp-458-v{old.version}">.*?</tr>', html, re.S)
    assert row is not None
    assert "Version en vigueur aujourd'hui :" in row[0]
    assert f'href="{today_458.get_absolute_url()}"' in row[0]


def test_ended_basis_replaced_under_another_code_points_to_it(client, referent):
    yesterday = timezone.localdate() - timedelta(days=1)
    card(
        "old-rule",
        in_force_until=yesterday,
        replaced_by_code="consent",
        replacement_to_verify=True,
    )
    client.force_login(referent)

    html = client.get(list_url()).content.decode()

    row = re.search(r'<tr id="old-rule-v1">.*?</tr>', html, re.S)
    assert row is not None
    assert "Plus en vigueur sous cette référence" in row[0]
    assert "nouvelle référence à vérifier" in row[0]
    assert f'href="{in_force("consent").get_absolute_url()}"' in row[0]


def test_detail_shows_every_field(client, dg):
    client.force_login(dg)
    basis = in_force("cic-46bis1")

    html = client.get(detail_url("cic-46bis1")).content.decode()

    for entry in [*basis.checklist, *basis.facts]:
        assert f"[{entry['tag']}]</span> {escape(entry['text'])}" in html
    assert basis.release is not None
    for text in [
        basis.title_fr,
        basis.title_nl,
        basis.citation,
        basis.letter_citation,
        basis.get_role_display(),
        basis.get_effect_display(),
        str(Feature.ADMINISTRATIVE_ONLY.label),
        str(SupportingDocument.PROSECUTOR_DECISION.label),
        basis.who_may_answer,
        basis.reply_paragraph_accepted,
        basis.reply_paragraph_refused,
        basis.route_paragraph,
        basis.notes,
        "Procureur du Roi / parquet",
        "Santé",
        "Depuis le 1 septembre 2017",
        f"Publication {basis.release.label}, publiée le",
        "Citation dans les lettres",
        "Aucun délai fixé par la loi",
    ]:
        assert escape(text) in html, text
    route = html[html.index('id="route-title"') : html.index('id="sources-title"')]
    for kind in basis.route_requester_kinds:
        assert escape(str(RequesterKind(kind).label)) in route


def test_detail_shows_the_statutory_deadline(client, dg):
    client.force_login(dg)
    basis = in_force("cj-tiers-saisi")
    assert basis.statutory_deadline_days == 15

    html = client.get(detail_url("cj-tiers-saisi")).content.decode()

    assert "15 jours à compter de la réception de la demande" in html


def test_detail_lists_every_version_with_period_release_and_state(client, dg):
    client.force_login(dg)
    versions = list(LegalBasis.objects.filter(code="cp-458").select_related("release"))
    superseded = [v for v in versions if not v.is_current]
    assert superseded
    assert len(versions) - len(superseded) == 2
    today = in_force("cp-458")

    html = client.get(detail_url("cp-458")).content.decode()

    table = html[html.index('id="versions-title"') :]
    for version in versions:
        if version != today:
            assert f'href="{version.get_absolute_url()}"' in table
        assert version.release is not None
        assert f"<td>{escape(version.release.label)}</td>" in table
    assert f"Version {today.version} (affichée)" in table
    assert table.count("Remplacée") == len(superseded)
    assert table.count("En cours") == 2
    assert "Jusqu'au 7 avril 2026" in table
    assert "Depuis le 8 avril 2026" in table


def test_pages_have_no_inline_script_or_style(client, referent):
    client.force_login(referent)

    for url in [list_url(), detail_url("cp-458ter")]:
        html = client.get(url).content.decode()
        assert inline_scripts(html) == []
        assert "style=" not in html


def test_pages_show_no_personal_data(client, flow, personas):
    flow.in_review()
    client.force_login(personas["president"])

    for url in [list_url(), detail_url("ji-search-seizure"), api_list_url()]:
        content = client.get(url).content.decode()
        assert CANARY_NAME not in content
        assert CANARY_NISS not in content
        assert "CANARY" not in content


def test_older_version_stays_reachable(client, referent):
    old = in_force("consent")
    LegalBasis.objects.filter(pk=old.pk).update(is_current=False)
    new = card("consent", title_fr="Accord (nouvelle version)")
    client.force_login(referent)

    old_page = client.get(detail_url("consent", old.version)).content.decode()
    list_page = client.get(list_url()).content.decode()

    assert "n'est plus la version en cours" in old_page
    assert "Version remplacée" in old_page
    assert f'href="{new.get_absolute_url()}"' in old_page
    assert new.get_absolute_url() in list_page
    assert old.get_absolute_url() not in list_page
    assert client.get(api_detail_url("consent")).json()["version"] == new.version


def test_unknown_basis_is_404(client, referent):
    client.force_login(referent)

    assert client.get(detail_url("cp-458", 99)).status_code == 404
    assert client.get(detail_url("no-such-basis", 1)).status_code == 404
    assert client.get(api_detail_url("no-such-basis")).status_code == 404


def test_list_queries_do_not_grow_with_the_catalogue(client, president):
    client.force_login(president)
    client.get(list_url())  # warm the session and the user's roles

    with CaptureQueriesContext(connection) as before:
        client.get(list_url())
    for i in range(5):
        for start, end in [(None, date(2026, 4, 7)), (date(2026, 4, 8), None)]:
            card(
                f"extra-{i}",
                in_force_from=start,
                in_force_until=end,
                replaced_by_code="consent",
                sources=[{"label": "S", "url": "https://example.org", "official": True}],
            )
    with CaptureQueriesContext(connection) as after:
        client.get(list_url())

    assert len(after.captured_queries) == len(before.captured_queries)


# ---------------------------------------------------------------------------
# The secrecy rule printed on the summary


def _banner(html: str) -> str:
    found = re.search(r'<p class="confidential">(.*?)</p>', html, re.S)
    assert found is not None
    return found[1]


def test_summary_banner_cites_the_secrecy_rule_in_force_today(client, flow, personas):
    dr = flow.in_review()
    client.force_login(personas["dg"])

    html = client.get(reverse("requests_app:summary", args=[dr.pk])).content.decode()

    citations = [b.letter_citation for b in in_force_secrecy_rules(timezone.localdate())]
    assert len(citations) >= 2
    assert _banner(html) == escape(
        f"Confidentiel : couvert par le secret professionnel ({' ; '.join(citations)}). "
        "Ne pas transmettre."
    )


def in_force_secrecy_rules(day: date) -> list[LegalBasis]:
    return LegalBasis.objects.with_feature(Feature.SECRECY_RULE, day)


def test_summary_banner_uses_the_period_in_force_on_the_day(client, flow, personas, monkeypatch):
    dr = flow.in_review()
    # Only the test's own rule, in two periods, is the secrecy rule.
    for basis in LegalBasis.objects.current():
        if Feature.SECRECY_RULE in basis.features:
            basis.features = [f for f in basis.features if f != Feature.SECRECY_RULE]
            basis.save(update_fields=["features"])
    switch = date(2031, 3, 1)
    features = [Feature.SECRECY_RULE.value]
    card(
        "secrecy",
        features=features,
        in_force_until=switch - timedelta(days=1),
        letter_citation="Règle du secret, ancienne numérotation",
    )
    card(
        "secrecy",
        features=features,
        in_force_from=switch,
        letter_citation="Règle du secret, nouvelle numérotation",
    )
    real_localdate = timezone.localdate
    client.force_login(personas["dg"])
    url = reverse("requests_app:summary", args=[dr.pk])
    banners = {}
    for day in [switch - timedelta(days=1), switch]:

        def localdate(value=None, timezone=None, day=day):
            return day if value is None else real_localdate(value, timezone)

        monkeypatch.setattr("django.utils.timezone.localdate", localdate)
        banners[day] = _banner(client.get(url).content.decode())

    assert banners == {
        switch - timedelta(days=1): escape(
            "Confidentiel : couvert par le secret professionnel "
            "(Règle du secret, ancienne numérotation). Ne pas transmettre."
        ),
        switch: escape(
            "Confidentiel : couvert par le secret professionnel "
            "(Règle du secret, nouvelle numérotation). Ne pas transmettre."
        ),
    }


def test_summary_banner_without_secrecy_rule_names_no_statute(client, flow, personas):
    dr = flow.in_review()
    LegalBasis.objects.update(features=[])
    client.force_login(personas["dg"])

    html = client.get(reverse("requests_app:summary", args=[dr.pk])).content.decode()

    assert (
        _banner(html) == "Confidentiel : couvert par le secret professionnel. Ne pas transmettre."
    )


def test_pages_print_no_hard_coded_statute_number():
    root = Path(__file__).resolve().parents[2] / "templates"
    for name in [
        "requests_app/summary.html",
        *[f"legal_basis/{p.name}" for p in (root / "legal_basis").glob("*.html")],
    ]:
        text = (root / name).read_text(encoding="utf-8")
        assert not re.search(r"\b(?:art(?:icle)?s?\.?\s*\d|458|36 and 50)", text), name


def test_api_lists_current_bases_with_sources_validity_checklist_and_facts(client, secretariat):
    client.force_login(secretariat)

    data = client.get(api_list_url()).json()

    assert data["count"] == LegalBasis.objects.current().count()
    by_period = {(row["code"], row["in_force_from"]): row for row in data["results"]}
    old_458, new_458 = by_period[("cp-458", None)], by_period[("cp-458", "2026-04-08")]
    assert old_458["sources"][0]["url"].startswith("https://")
    assert old_458["in_force_until"] == "2026-04-07"
    assert new_458["in_force_until"] is None
    assert new_458["letter_citation"] == in_force("cp-458").letter_citation
    assert new_458["has_facts_to_verify"] is True
    assert new_458["checklist"][0]["tag"] in {"F", "I", "K", "V"}
    assert {"text", "tag"} == set(new_458["facts"][0])
    assert by_period[("ji-search-seizure", None)]["requester_kinds"] == (
        in_force("ji-search-seizure").requester_kinds
    )


def test_api_detail(client, auditor):
    client.force_login(auditor)

    data = client.get(api_detail_url("cic-46bis1")).json()

    assert data["code"] == "cic-46bis1"
    assert data["version"] == in_force("cic-46bis1").version
    assert "health" in data["excluded_data_categories"]
    assert data["in_force_from"] == "2017-09-01"
    assert data["is_in_force_today"] is True
    assert data["effect"] == "obliges"


def test_api_list_queries_do_not_grow_with_the_catalogue(client, president):
    client.force_login(president)
    client.get(api_list_url())

    with CaptureQueriesContext(connection) as before:
        client.get(api_list_url())
    card("extra", in_force_until=date(2029, 12, 31))
    card("extra", in_force_from=date(2030, 1, 1))
    with CaptureQueriesContext(connection) as after:
        client.get(api_list_url())

    assert len(after.captured_queries) == len(before.captured_queries)


def test_api_schema_generates_without_warnings():
    GENERATOR_STATS.reset()

    schema = SchemaGenerator(patterns=[path("api/", include(api_urls))]).get_schema(
        request=None, public=True
    )

    assert not GENERATOR_STATS
    assert set(schema["paths"]) == {"/api/legal-bases/", "/api/legal-bases/{code}/"}
    assert "LegalBasis" in schema["components"]["schemas"]
