"""The catalogue pages and its JSON API: open to every staff member only."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse
from django.utils.html import escape
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from legal_basis import api_urls
from legal_basis.models import LegalBasis
from tests.conftest import CANARY_NAME, CANARY_NISS, inline_scripts

ROLES = ["secretariat", "president", "referent", "dg", "auditor"]

pytestmark = pytest.mark.django_db


def list_url() -> str:
    return reverse("legal_basis:list")


def detail_url(code: str = "cp-458", version: int = 1) -> str:
    return reverse("legal_basis:detail", args=[code, version])


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


def test_list_shows_every_current_basis_with_its_sources(client, president):
    client.force_login(president)

    html = client.get(list_url()).content.decode()

    bases = list(LegalBasis.objects.current())
    assert len(bases) >= 27
    for basis in bases:
        assert basis.get_absolute_url() in html
        assert f'id="{basis.code}"' in html
        for source in basis.sources:
            assert f'href="{escape(source["url"])}" rel="noopener noreferrer"' in html


def test_list_shows_verification_tags_and_validity(client, referent):
    client.force_login(referent)

    html = client.get(list_url()).content.decode()

    for tag in ["[F]", "[I]", "[K]", "[V]"]:
        assert tag in html
    assert "Contient des éléments à vérifier [V]" in html
    assert "Depuis le 1 septembre 2017" in html  # cic-46bis1
    assert "Jusqu'au 7 avril 2026" in html  # cp-458
    assert "Plus en vigueur sous cette référence" in html
    assert "nouvelle référence à vérifier" in html


def test_detail_shows_every_field(client, dg):
    client.force_login(dg)
    basis = LegalBasis.objects.current().get(code="cic-46bis1")

    html = client.get(detail_url("cic-46bis1")).content.decode()

    for entry in [*basis.checklist, *basis.facts]:
        assert f"[{entry['tag']}]</span> {escape(entry['text'])}" in html
    for text in [
        basis.title_fr,
        basis.title_nl,
        basis.citation,
        basis.get_effect_display(),
        basis.who_may_answer,
        basis.reply_paragraph_accepted,
        basis.reply_paragraph_refused,
        basis.notes,
        "Procureur du Roi / parquet",
        "Santé",
        "Dates de contact",
        "Depuis le 1 septembre 2017",
    ]:
        assert escape(text) in html


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
    old = LegalBasis.objects.get(code="consent", version=1)
    LegalBasis.objects.filter(pk=old.pk).update(is_current=False)
    LegalBasis.objects.create(
        code="consent", version=2, title_fr="Accord (v2)", citation="X", effect="permits"
    )
    client.force_login(referent)

    old_page = client.get(detail_url("consent", 1))
    list_page = client.get(list_url()).content.decode()

    assert old_page.status_code == 200
    assert "n'est plus la version en cours" in old_page.content.decode()
    assert detail_url("consent", 2) in old_page.content.decode()
    assert detail_url("consent", 2) in list_page
    assert detail_url("consent", 1) not in list_page
    assert client.get(api_detail_url("consent")).json()["version"] == 2


def test_unknown_basis_is_404(client, referent):
    client.force_login(referent)

    assert client.get(detail_url("cp-458", 99)).status_code == 404
    assert client.get(detail_url("no-such-basis")).status_code == 404
    assert client.get(api_detail_url("no-such-basis")).status_code == 404


def test_list_queries_do_not_grow_with_the_catalogue(client, president):
    client.force_login(president)
    client.get(list_url())  # warm the session and the user's roles

    with CaptureQueriesContext(connection) as before:
        client.get(list_url())
    for i in range(5):
        LegalBasis.objects.create(
            code=f"extra-{i}",
            title_fr="Extra",
            citation="X",
            effect="permits",
            sources=[{"label": "S", "url": "https://example.org"}],
        )
    with CaptureQueriesContext(connection) as after:
        client.get(list_url())

    assert len(after.captured_queries) == len(before.captured_queries)


def test_api_lists_current_bases_with_sources_validity_checklist_and_facts(client, secretariat):
    client.force_login(secretariat)

    data = client.get(api_list_url()).json()

    assert data["count"] == LegalBasis.objects.current().count()
    by_code = {row["code"]: row for row in data["results"]}
    cp458 = by_code["cp-458"]
    assert cp458["sources"][0]["url"].startswith("https://")
    assert cp458["in_force_until"] == "2026-04-07"
    assert cp458["replaced_by_code"] == "new-cp-2024"
    assert cp458["has_facts_to_verify"] is True
    assert cp458["checklist"][0]["tag"] in {"F", "I", "K", "V"}
    assert {"text", "tag"} == set(cp458["facts"][0])
    assert by_code["ji-search-seizure"]["requester_kinds"] == ["investigating_judge"]


def test_api_detail(client, auditor):
    client.force_login(auditor)

    data = client.get(api_detail_url("cic-46bis1")).json()

    assert data["code"] == "cic-46bis1"
    assert data["excluded_data_categories"] == ["health"]
    assert data["in_force_from"] == "2017-09-01"
    assert data["is_in_force_today"] is True
    assert data["effect"] == "obliges"


def test_api_list_queries_do_not_grow_with_the_catalogue(client, president):
    client.force_login(president)
    client.get(api_list_url())

    with CaptureQueriesContext(connection) as before:
        client.get(api_list_url())
    LegalBasis.objects.create(code="extra", title_fr="Extra", citation="X", effect="permits")
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
