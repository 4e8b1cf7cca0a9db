"""The DPO's register of disclosures: what it lists about a person, who may
search and export it, what the trail records, and the PDF and CSV exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from audit.models import AuditEvent
from dpo import queries
from dpo.queries import PersonCriteria
from legal_basis.models import Feature
from requests_app import services
from requests_app.inputs import ItemData, PersonData
from requests_app.models import DisclosureRequest
from tests.conftest import answer_all, basis, fresh_otp

pytestmark = pytest.mark.django_db

REGISTER = "dpo:register"
EXPORT = "dpo:register_export"
# The catalogue's card of the art. 46bis/1 CIC requisition (feature
# "administrative_only"): its disclosures are secret from the person.
SECRET_BASIS = "cic-46bis1"
OUT = Path("/tmp/h2_register")
SUMS_OWED = "Sommes dues par le centre à la personne (déclaration de tiers saisi)"


def niss(birth: str, serial: str) -> str:
    """A valid national number for someone born before 2000 (yymmdd)."""
    base = int(birth + serial)
    return f"{birth}{serial}{97 - base % 97:02d}"


MARIE = PersonData(
    last_name="Dupré",
    first_names="Marie",
    birth_date=date(1980, 5, 17),
    national_number=niss("800517", "123"),
)
# The same name and first name, born another day: another person.
NAMESAKE = PersonData(
    last_name="Dupré",
    first_names="Marie",
    birth_date=date(1975, 2, 3),
    national_number=niss("750203", "456"),
)


def _dispatched(flow, *, persons, items, sign=True, dispatch=True, **overrides):
    """A request about `persons`, its reply disclosing `items` ((category,
    basis code) pairs), taken through the procedure by the personas."""
    p = flow.p
    dr = flow.assigned(persons=persons, **overrides)
    bases = list({code: basis(code) for _category, code in items}.values())
    by_code = {b.code: b for b in bases}
    services.submit_opinion(
        dr,
        actor=p["referent"],
        legal_bases=bases,
        proposal="disclose",
        reasoning="Motivation",
        items=[
            ItemData(f"Élément {category}", category, "Nécessaire", legal_basis=by_code[code])
            for category, code in items
        ],
        checklist=answer_all(bases),
        override_reason="Dérogation motivée pour le test",
    )
    services.approve(dr, actor=p["dg"], override_reason="Dérogation motivée pour le test")
    if sign:
        services.sign_reply(dr, actor=p["dg"], otp=fresh_otp(p["dg"]))
        services.sign_reply(dr, actor=p["president"], otp=fresh_otp(p["president"]))
    if dispatch:
        services.record_dispatch(
            dr,
            actor=p["secretariat"],
            dispatched_on=timezone.localdate(),
            channel="registered_post",
            registered_mail_number="RR123456789BE",
        )
    return DisclosureRequest.objects.get(pk=dr.pk)


@pytest.fixture
def world(flow):
    """Three dispatched disclosures about Marie (different categories and
    recipients), one about her namesake, one about her not yet dispatched,
    and one about her on the basis secret from the person."""
    judge = _dispatched(
        flow,
        persons=[MARIE],
        items=[("identification", "ji-search-seizure"), ("address", "ji-search-seizure")],
        requester_organisation="Tribunal de première instance de Namur",
    )
    bailiff = _dispatched(
        flow,
        persons=[
            PersonData(
                last_name="DUPRE",
                first_names="marie",
                birth_date=MARIE.birth_date,
                national_number=MARIE.national_number,
            )
        ],
        items=[("sums_owed", "cj-tiers-saisi")],
        requester_kind="bailiff",
        requester_name="Maître Huissier",
        requester_organisation='=HYPERLINK("http://evil.example")',
        cited_provision="Saisie-arrêt exécution",
        documents=["garnishment_served"],
    )
    mediator = _dispatched(
        flow,
        persons=[
            PersonData(
                last_name="  dupré ", first_names="Marie Louise", birth_date=MARIE.birth_date
            )
        ],
        items=[("aid", "cj-1675-8"), ("identification", "cj-1675-8")],
        requester_kind="debt_mediator",
        requester_name="Médiateur",
        requester_organisation="",
        cited_provision="Règlement collectif de dettes",
        documents=[],
    )
    namesake = _dispatched(flow, persons=[NAMESAKE], items=[("health", "ji-search-seizure")])
    pending = _dispatched(
        flow, persons=[MARIE], items=[("contact_dates", "ji-search-seizure")], dispatch=False
    )
    secret = _dispatched(
        flow,
        persons=[MARIE],
        items=[("household", SECRET_BASIS)],
        requester_kind="public_prosecutor",
        requester_name="Procureur du Roi",
        requester_organisation="Parquet de Namur",
        cited_provision="Réquisition terrorisme",
        documents=["prosecutor_decision"],
    )
    return {
        "judge": judge,
        "bailiff": bailiff,
        "mediator": mediator,
        "namesake": namesake,
        "pending": pending,
        "secret": secret,
    }


def test_the_world_is_as_described(world):
    assert basis(SECRET_BASIS).has_feature(Feature.ADMINISTRATIVE_ONLY)
    for key in ("judge", "bailiff", "mediator", "namesake", "secret"):
        assert world[key].state == "dispatched", key
    assert world["pending"].state == "signed"


def _categories(register):
    return {(row.reference, category) for row in register.rows for category in row.categories}


def test_register_lists_exactly_the_disclosed_categories_by_national_number(world):
    found = queries.disclosure_register(PersonCriteria(national_number=MARIE.national_number))

    assert _categories(found) == {
        (world["judge"].reference, "Identification"),
        (world["judge"].reference, "Adresse"),
        (
            world["bailiff"].reference,
            "Sommes dues par le centre à la personne (déclaration de tiers saisi)",
        ),
    }
    # The mediator's request named no national number: not found this way.
    assert found.request_count == 2
    judge = next(row for row in found.rows if row.reference == world["judge"].reference)
    assert judge.requester_kind_label == "Juge d'instruction"
    assert judge.organisation == "Tribunal de première instance de Namur"
    assert judge.basis_title == basis("ji-search-seizure").title_fr
    assert judge.basis_citation == basis("ji-search-seizure").citation
    assert judge.dispatched_on == timezone.localdate()
    references = {row.reference for row in found.rows}
    assert world["secret"].reference not in references
    assert world["pending"].reference not in references
    assert world["namesake"].reference not in references


def test_search_by_name_and_birth_date_ignores_case_and_accents(world):
    for written in ("DUPRE", "dupré", "  Dupre  "):
        found = queries.disclosure_register(
            PersonCriteria(last_name=written, birth_date=MARIE.birth_date)
        )
        assert {row.reference for row in found.rows} == {
            world["judge"].reference,
            world["bailiff"].reference,
            world["mediator"].reference,
        }, written
        labels = {c for row in found.rows for c in row.categories}
        assert labels == {
            "Identification",
            "Adresse",
            "Aides octroyées et montants",
            SUMS_OWED,
        }
        # Three ways her name was written, one birth date.
        assert {p.first_names for p in found.persons} == {"Marie", "marie", "Marie Louise"}
    none = queries.disclosure_register(
        PersonCriteria(last_name="Dupré", birth_date=date(1980, 5, 18))
    )
    assert none.rows == []
    assert none.persons == []


def _search(client, **fields):
    data = {"national_number": "", "last_name": "", "birth_date": "", **fields}
    return client.post(reverse(REGISTER), data)


def test_the_dpo_searches_by_national_number_and_the_trail_keeps_no_criteria(world, client, dpo):
    client.force_login(dpo)
    posted = _search(client, national_number=MARIE.national_number)

    assert posted.status_code == 302
    location = posted["Location"]
    query = parse_qs(urlsplit(location).query)
    assert set(query) == {"search"}
    assert MARIE.national_number not in location
    page = client.get(location)
    html = page.content.decode()
    assert page.status_code == 200
    assert world["judge"].reference in html
    assert world["bailiff"].reference in html
    assert world["secret"].reference not in html
    assert world["pending"].reference not in html
    assert "2 communications – 2 demandes" in html
    assert "Juge d&#x27;instruction" in html or "Juge d'instruction" in html

    event = AuditEvent.objects.filter(action="search_disclosures").get()
    assert event.actor_id == dpo.pk
    assert event.object_type == "disclosure_register"
    assert event.details == {"searched_by": "national_number", "results": 2, "requests": 2}
    trail = json.dumps(list(AuditEvent.objects.values("details", "object_id")))
    for personal in (MARIE.national_number, "Dupr", "1980"):
        assert personal not in trail


def test_the_dpo_searches_by_name_and_birth_date(world, client, dpo):
    client.force_login(dpo)
    page = client.get(_search(client, last_name="dupre", birth_date="1980-05-17")["Location"])

    html = page.content.decode()
    assert world["mediator"].reference in html
    assert "Marie Louise" in html
    event = AuditEvent.objects.filter(action="search_disclosures").get()
    assert event.details == {"searched_by": "name_birth_date", "results": 3, "requests": 3}


def test_an_empty_result_says_so(client, dpo):
    client.force_login(dpo)
    page = client.get(_search(client, national_number=NAMESAKE.national_number)["Location"])

    html = page.content.decode()
    assert "Aucune communication trouvée" in html
    assert "Aucune communication" in html
    assert "enregistrée" in html
    assert AuditEvent.objects.get(action="search_disclosures").details["results"] == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"national_number": "85010100116"}, "registre national est invalide"),
        ({"national_number": "1234"}, "doit compter 11 chiffres"),
        ({}, "ou un nom et une date de naissance"),
        ({"last_name": "Dupré"}, "Indiquez la date de naissance avec le nom"),
        ({"last_name": "\u0301", "birth_date": "1980-05-17"}, "Écrivez le nom en lettres"),
        ({"last_name": "Dupré", "birth_date": "2999-01-01"}, "dans le futur"),
        ({"birth_date": "1980-05-17"}, "Indiquez le nom avec la date de naissance"),
        (
            {"national_number": MARIE.national_number, "last_name": "Dupré"},
            "pas les deux à la fois",
        ),
    ],
)
def test_bad_criteria_get_a_french_error_and_no_search(client, dpo, fields, message):
    client.force_login(dpo)
    response = _search(client, **fields)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AuditEvent.objects.filter(action="search_disclosures").exists()
    assert "dpo_disclosure_searches" not in client.session


def test_criteria_in_the_address_are_refused_and_an_unknown_key_expired(client, dpo):
    client.force_login(dpo)
    in_url = client.get(reverse(REGISTER), {"national_number": MARIE.national_number})
    assert in_url.status_code == 400
    assert "adresse de la page" in in_url.content.decode()

    unknown = client.get(reverse(REGISTER), {"search": "not-a-kept-key"})
    assert unknown.status_code == 400
    assert "plus disponible" in unknown.content.decode()
    assert not AuditEvent.objects.filter(action="search_disclosures").exists()


def test_a_kept_search_expires(client, dpo, monkeypatch):
    client.force_login(dpo)
    location = _search(client, national_number=MARIE.national_number)["Location"]
    # As if SEARCH_SECONDS had gone by since the search.
    monkeypatch.setattr("dpo.views.SEARCH_SECONDS", -1)

    assert client.get(location).status_code == 400
    assert not AuditEvent.objects.filter(action="search_disclosures").exists()


@pytest.mark.parametrize(
    "who", ["secretariat", "president", "dg", "referent", "auditor", "outsider"]
)
def test_only_the_dpo_may_search_or_export(client, personas, who):
    client.force_login(personas[who])

    assert client.get(reverse(REGISTER)).status_code == 403
    searched = _search(client, national_number=MARIE.national_number)
    assert searched.status_code == 403
    exported = client.post(reverse(EXPORT), {"search": "x", "format": "csv"})
    assert exported.status_code == 403
    assert "dpo_disclosure_searches" not in client.session
    refused = AuditEvent.objects.filter(action="refused", object_type="disclosure_register")
    assert sorted(e.details["attempted"] for e in refused) == [
        "export_disclosures",
        "search_disclosures",
    ]
    assert not AuditEvent.objects.filter(
        action__in=["search_disclosures", "export_disclosures"]
    ).exists()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for response in (
        client.get(reverse(REGISTER)),
        client.post(reverse(EXPORT), {"search": "x", "format": "csv"}),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def _kept_key(client, **fields):
    location = _search(client, **fields)["Location"]
    return parse_qs(urlsplit(location).query)["search"][0]


def test_csv_export_for_belgian_excel(world, client, dpo):
    client.force_login(dpo)
    key = _kept_key(client, national_number=MARIE.national_number)
    response = client.post(reverse(EXPORT), {"search": key, "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert ".csv" in disposition
    assert "dupr" not in disposition.lower()
    assert MARIE.national_number not in disposition
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")
    OUT.mkdir(exist_ok=True)
    (OUT / "register.csv").write_bytes(raw)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == [
        "Date d'envoi",
        "Référence",
        "Type de destinataire",
        "Organisme destinataire",
        "Base légale",
        "Référence légale",
        "Catégories de données",
    ]
    body = {row[1]: row for row in rows[1:]}
    assert set(body) == {world["judge"].reference, world["bailiff"].reference}
    judge = body[world["judge"].reference]
    assert judge[0] == timezone.localdate().strftime("%d/%m/%Y")
    assert judge[2] == "Juge d'instruction"
    assert judge[6] == "Identification, Adresse"
    # A cell that a spreadsheet would run as a formula is neutralised.
    assert body[world["bailiff"].reference][3] == '\'=HYPERLINK("http://evil.example")'
    assert b"\r\n" in raw

    event = AuditEvent.objects.get(action="export_disclosures")
    assert event.details == {
        "format": "csv",
        "searched_by": "national_number",
        "results": 2,
        "requests": 2,
    }


def test_an_export_needs_a_kept_search(client, dpo):
    client.force_login(dpo)
    for data in ({"search": "unknown", "format": "csv"}, {"format": "pdf"}, {}):
        response = client.post(reverse(EXPORT), data)
        assert response.status_code == 400
    key = _kept_key(client, national_number=MARIE.national_number)
    assert client.post(reverse(EXPORT), {"search": key, "format": "xls"}).status_code == 400
    assert client.get(reverse(EXPORT)).status_code == 405
    assert not AuditEvent.objects.filter(action="export_disclosures").exists()


@pytest.mark.real_letters
def test_pdf_export_is_a_real_pdf_with_a_generic_title(world, client, dpo):
    client.force_login(dpo)
    key = _kept_key(client, last_name="Dupre", birth_date="1980-05-17")
    response = client.post(reverse(EXPORT), {"search": key, "format": "pdf"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "dupr" not in response["Content-Disposition"].lower()
    OUT.mkdir(exist_ok=True)
    (OUT / "register.pdf").write_bytes(response.content)
    reader = PdfReader(io.BytesIO(response.content))
    metadata: dict[str, object] = dict(reader.metadata or {})
    assert metadata.get("/Title") == "Registre des communications"
    for value in metadata.values():
        text = str(value)
        assert "Dupr" not in text
        assert "Marie" not in text
        assert "1980" not in text
    text = " ".join(page.extract_text() for page in reader.pages)
    assert world["judge"].reference in text
    assert world["mediator"].reference in text
    assert world["secret"].reference not in text
    assert "Marie Louise (né(e) le 17/05/1980)" in text
    event = AuditEvent.objects.get(action="export_disclosures")
    assert event.details == {
        "format": "pdf",
        "searched_by": "name_birth_date",
        "results": 3,
        "requests": 3,
    }


def test_the_trail_speaks_french_about_the_register():
    from audit import vocabulary

    assert vocabulary.action_label("search_disclosures") == "Registre des communications consulté"
    assert vocabulary.action_label("export_disclosures") == "Registre des communications exporté"
    assert vocabulary.object_type_label("disclosure_register") == "Registre des communications"
    assert vocabulary.key_label("searched_by") == "Recherche par"
    by_number = vocabulary.value_label("searched_by", "national_number")
    assert by_number == "numéro de registre national"
    assert vocabulary.value_label("searched_by", "name_birth_date") == "nom et date de naissance"
    assert vocabulary.value_label("format", "pdf") == "PDF"
