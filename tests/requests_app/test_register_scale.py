"""Issue 15: the register at 100,000 requests.

The indexes the register relies on, the plans PostgreSQL picks at a
realistic size, keyset pagination (every row once, in every order, both
ways, with ties), the accent- and case-insensitive person search, the
capped count, and the SQLite fallback of the demo.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, unquote

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEvent
from requests_app import queries
from requests_app.inputs import PersonData
from requests_app.models import (
    NO_DUE_DATE,
    ConcernedPerson,
    DisclosureRequest,
    search_key,
)
from tests.conftest import CANARY_NAME

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
REGISTER = reverse("requests_app:register")
TEXT_SEARCH_COLUMNS = (
    "reference",
    "requester_name",
    "requester_organisation",
    "requester_reference",
)
SORT_INDEXES = {
    "reference": "disclosure_request_number_per_year",
    "received_on": "request_register_received",
    "due_on": "request_register_due",
    "state": "request_register_state",
    "requester": "request_register_requester",
}


def person(last_name: str, first_names: str = "Marie", national_number: str = "") -> PersonData:
    return PersonData(
        last_name=last_name,
        first_names=first_names,
        birth_date=date(1990, 5, 17),
        national_number=national_number,
    )


def references(page: queries.RegisterPage[queries.ListRow]) -> list[str]:
    return [row.reference for row in page.object_list]


# ---------------------------------------------------------------------------
# The search key


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Dupré", "dupre"),
        ("  DUPRÉ   Marie-Élodie ", "dupre marie-elodie"),
        ("Müller", "muller"),
        ("Straße", "strasse"),
        ("Nguyễn Thị", "nguyen thi"),
        ("Öztürk\tİlkay", "ozturk ilkay"),
        ("Çelik", "celik"),
        ("ﬁliot", "filiot"),  # a ligature (NFKD)
        ("", ""),
    ],
)
def test_search_key_drops_case_accents_and_extra_spaces(text, key):
    assert search_key(text) == key


def test_every_way_of_writing_persons_fills_the_search_name(flow):
    disclosure_request = flow.received(persons=[person("Dupré", "Élodie")])
    registered = disclosure_request.persons.get()  # intake: bulk_create
    assert registered.search_name == "dupre elodie"

    registered.last_name = "Lefèvre"
    registered.save(update_fields=["last_name"])
    registered.refresh_from_db()
    assert registered.search_name == "lefevre elodie"

    made = ConcernedPerson.objects.create(request=disclosure_request, last_name="ÇELİK")
    assert ConcernedPerson.objects.get(pk=made.pk).search_name == "celik"


def test_the_migration_fills_the_search_name_of_existing_persons(flow):
    disclosure_request = flow.received(persons=[person("Dupré", "Élodie")])
    ConcernedPerson.objects.filter(request=disclosure_request).update(search_name="")
    migration = importlib.import_module("requests_app.migrations.0007_register_at_scale")

    with connection.schema_editor() as editor:
        migration.fill_search_names(apps, editor)

    assert disclosure_request.persons.get().search_name == "dupre elodie"


# ---------------------------------------------------------------------------
# Person search


def test_a_person_is_found_whatever_the_accents_and_case(flow, personas):
    dupre = flow.received(persons=[person("Dupré", "Élodie", "90051700156")])
    flow.received(persons=[person("Duprez", "Jean")])
    flow.received(persons=[person("Martin", "Dupré")])  # the first name matches too
    president = personas["president"]
    order = queries.register_sort(queries.DEFAULT_SORT)

    def found(text: str) -> list[str]:
        return references(queries.register_page(president, {"person": text}, order))

    assert found("dupre elodie") == [dupre.reference]
    assert found("ÉLODIE DUPRÉ") == [dupre.reference]  # every word, in any order
    assert found("DUPRE") == found("dupré") == found("Dupre")
    assert dupre.reference in found("DUPRE")
    assert len(found("dupre")) == 3  # Dupré, Duprez and the first name
    assert found("90.05.17-001.56") == [dupre.reference]
    assert found("dupr elodi") == [dupre.reference]  # parts of words
    assert found("dupres") == []


def test_a_person_search_through_the_page(client, flow, personas):
    dupre = flow.received(persons=[person("Dupré")])
    flow.received(persons=[person("Lambert")])
    client.force_login(personas["president"])

    response = client.post(REGISTER, {"person": "DUPRE", "sort": "-reference"}, follow=True)

    assert references(response.context["page"]) == [dupre.reference]
    assert "DUPRE" not in unquote(response.redirect_chain[-1][0]).upper()


# ---------------------------------------------------------------------------
# Keyset pagination


@pytest.fixture
def tied(flow):
    """Eight requests with ties in every sortable column, one without a due date."""
    made = []
    for i in range(8):
        make = flow.assigned if i % 3 == 0 else flow.received
        made.append(
            make(
                requester_name="Juge Égal" if i % 2 else "Juge Autre",
                received_on=date(2026, 10, 5) + timedelta(days=i // 3),
                requester_deadline=date(2026, 12, 1) if i % 4 else date(2026, 11, 20),
            )
        )
    # A request recorded before due dates were worked out at intake has none
    # (the column allows it): it sorts after every date.
    DisclosureRequest.objects.filter(pk=made[5].pk).update(due_on=None)
    return made


SORT_KEYS = {
    "reference": lambda dr: (dr.year, dr.number),
    "received_on": lambda dr: (dr.received_on, dr.year, dr.number),
    "due_on": lambda dr: (dr.due_on or NO_DUE_DATE, dr.year, dr.number),
    "state": lambda dr: (dr.state, dr.year, dr.number),
    "requester": lambda dr: (dr.requester_name, dr.year, dr.number),
}


@pytest.mark.parametrize("page_size", [1, 3])
@pytest.mark.parametrize("sort", [*SORT_KEYS, *(f"-{key}" for key in SORT_KEYS)])
def test_keyset_pages_list_every_row_once_both_ways(monkeypatch, personas, tied, sort, page_size):
    monkeypatch.setattr(queries, "PAGE_SIZE", page_size)
    rows = sorted(DisclosureRequest.objects.all(), key=SORT_KEYS[sort.removeprefix("-")])
    expected = [dr.reference for dr in (rows[::-1] if sort.startswith("-") else rows)]
    user = personas["secretariat"]
    order = queries.register_sort(sort)

    page = queries.register_page(user, None, order)
    assert page.is_first
    assert page.before is None
    forwards = references(page)
    while page.after is not None:
        page = queries.register_page(user, None, order, after=page.after)
        assert page.before is not None
        forwards += references(page)
    assert forwards == expected

    backwards = references(page)
    while page.before is not None:
        page = queries.register_page(user, None, order, before=page.before)
        backwards = references(page) + backwards
    assert page.is_first
    assert backwards == expected


def test_a_cursor_that_names_no_visible_row_gives_the_first_page(flow, personas):
    mine = flow.assigned()
    other = flow.received()
    referent = personas["referent"]
    order = queries.register_sort("reference")

    page = queries.register_page(referent, None, order, after=other.pk)  # not theirs

    assert page.is_first
    assert references(page) == [mine.reference]
    assert queries.register_page(referent, None, order, after=10**12).is_first


def test_the_pages_link_by_pk_only(client, flow, personas, monkeypatch):
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    made = [flow.received(requester_name=f"Juge CANARY{i}") for i in range(5)]
    client.force_login(personas["president"])
    url = client.post(REGISTER, {"person": CANARY_NAME, "sort": "requester"})["Location"]

    first = client.get(url)
    html = first.content.decode()
    links = re.findall(r'href="(\?[^"]*)"', html)
    for link in links:
        query = dict(parse_qsl(link.removeprefix("?").replace("&amp;", "&")))
        assert set(query) <= {"sort", "search", "after", "before"}
        assert all(query.get(k, "0").isdigit() for k in ("after", "before"))
        assert "CANARY" not in unquote(link)
    next_link = next(link for link in links if "after=" in link).replace("&amp;", "&")
    second = client.get(REGISTER + next_link)
    assert references(second.context["page"]) == [made[2].reference, made[3].reference]
    html = second.content.decode()
    for link in ("Première page", "Page précédente", "Page suivante"):
        assert link in html
    previous = re.search(r'href="(\?[^"]*before=[^"]*)"', html)
    assert previous is not None
    back = client.get(REGISTER + previous.group(1).replace("&amp;", "&"))
    assert references(back.context["page"]) == [made[0].reference, made[1].reference]
    assert "5 demandes" in html


def test_the_api_lists_the_register_by_keyset_too(flow, personas, monkeypatch):
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    made = [flow.received() for _ in range(3)]
    api = APIClient()
    api.force_authenticate(personas["secretariat"])

    first = api.get(reverse("api:request-list")).json()

    assert [entry["id"] for entry in first["results"]] == [made[2].pk, made[1].pk]
    assert (first["count"], first["count_is_exact"], first["previous"]) == (3, True, None)
    assert first["next"].endswith(f"?after={made[1].pk}")
    second = api.get(first["next"]).json()
    assert [entry["id"] for entry in second["results"]] == [made[0].pk]
    assert second["next"] is None
    assert second["previous"].endswith(f"?before={made[0].pk}")
    back = api.get(second["previous"]).json()
    assert [entry["id"] for entry in back["results"]] == [made[2].pk, made[1].pk]


def test_a_deep_page_makes_as_many_queries_for_50_rows_as_for_1(client, flow, personas):
    client.force_login(personas["president"])
    first = flow.received()
    flow.received()
    url = REGISTER + f"?sort=reference&after={first.pk}"
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        response = client.get(url)
    assert len(response.context["page"].object_list) == 1
    for _ in range(50):
        flow.received()

    client.get(url)
    with CaptureQueriesContext(connection) as fifty:
        response = client.get(url)

    assert len(response.context["page"].object_list) == 50
    assert response.context["page"].after is not None
    assert len(fifty) == len(one)


def test_beyond_the_limit_the_count_says_more_than(client, flow, personas, monkeypatch):
    monkeypatch.setattr(queries, "COUNT_LIMIT", 2)
    for _ in range(3):
        flow.received()  # each about CANARY_NAME
    client.force_login(personas["dg"])
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

    response = client.post(REGISTER, {"person": CANARY_NAME}, follow=True)

    assert "Plus de 2 demandes" in response.content.decode()
    event = AuditEvent.objects.get(seq__gt=before, action="search_content")
    assert event.details == {"results_over": 2}
    flow.received(persons=[person("Lambert")])
    response = client.post(REGISTER, {"person": "lambert"}, follow=True)
    assert "1 demande" in response.content.decode()
    assert AuditEvent.objects.filter(action="search_content").latest("seq").details == {
        "results": 1
    }


# ---------------------------------------------------------------------------
# Indexes and plans (PostgreSQL)


def index_definitions(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


def test_the_indexes_the_register_relies_on():
    requests = index_definitions("requests_app_disclosurerequest")
    persons = index_definitions("requests_app_concernedperson")

    assert "USING btree (year, number)" in requests[SORT_INDEXES["reference"]]
    assert "(received_on, year, number)" in requests[SORT_INDEXES["received_on"]]
    assert (
        "(COALESCE(due_on, '9999-12-31'::date), year, number)"
        in (requests[SORT_INDEXES["due_on"]])
    )
    assert "(state, year, number)" in requests[SORT_INDEXES["state"]]
    assert "(requester_name, year, number)" in requests[SORT_INDEXES["requester"]]
    assert "USING gin (search_name gin_trgm_ops)" in persons["person_search_name_trgm"]
    for column in TEXT_SEARCH_COLUMNS:
        assert (
            f"USING gin (upper(({column})::text) gin_trgm_ops)"
            in (requests[f"request_{column}_trgm"])
        )
    assert "USING btree (national_number)" in persons["person_national_number"]


REQUESTS = 50_000


@pytest.fixture
def register_at_scale(personas):
    """50,000 requests and about 75,000 persons, inserted in SQL (the services
    would take minutes), then analysed: the planner sees a realistic table.
    Most requests are closed, 2 % wait for a referent. The names are plain
    ASCII, so lower() is their search key; one request in 10,000 is about a
    "Dupre"."""
    registrar = personas["secretariat"].pk
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO requests_app_disclosurerequest (
                reference, year, number, received_on, channel, requester_kind,
                requester_name, requester_organisation, requester_address,
                requester_reference, requester_function, requester_civility,
                cited_provision, documents, information_requested, scan,
                scan_content_type, scan_sha256, inadmissibility_reasons, state,
                dispatch_channel, registered_mail_number, due_on, registered_by_id,
                created_at, withdrawal_reason, annulment_reason)
            SELECT 'T-' || g, 1990 + g / 5000, 1 + g %% 5000,
                date '1990-01-01' + g / 14, 'post', 'police',
                'Inspecteur ' || (g * 7919) %% 3001, '', '', '', '', '',
                'Art. 46', '[]', 'Adresse', 'scans/t', 'application/pdf', '', '[]',
                CASE WHEN g %% 50 = 0 THEN 'awaiting_assignment'
                     ELSE (ARRAY['closed', 'received', 'signed'])[1 + g %% 3] END,
                '', '', date '1990-02-01' + (g * 37) %% 12000, %s, now(), '', ''
            FROM generate_series(0, %s - 1) AS g
            """,
            [registrar, REQUESTS],
        )
        cursor.execute(
            """
            INSERT INTO requests_app_concernedperson (
                request_id, last_name, first_names, birth_date, national_number,
                cpas_file_number, search_name)
            SELECT r.id, p.last_name, 'Jean', NULL,
                CASE WHEN k = 1 THEN lpad((r.id * 7919 % 99999999999)::text, 11, '0')
                     ELSE '' END,
                '', lower(p.last_name || ' Jean')
            FROM requests_app_disclosurerequest AS r
            CROSS JOIN LATERAL generate_series(1, 1 + (r.id % 2)::int) AS k
            CROSS JOIN LATERAL (SELECT CASE WHEN r.id % 10000 = 7 THEN 'Dupre'
                                ELSE 'Nom' || (r.id * 31 + k) % 40000 END AS last_name) AS p
            WHERE r.reference LIKE 'T-%'
            """
        )
        # What autovacuum does to a GIN index after a bulk insert (VACUUM
        # cannot run inside the test's transaction): move the pending entries
        # into the index proper, which the planner then costs as it is.
        for index in ("person_search_name", *(f"request_{c}" for c in TEXT_SEARCH_COLUMNS)):
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [f"{index}_trgm"])
        cursor.execute("ANALYZE requests_app_disclosurerequest")
        cursor.execute("ANALYZE requests_app_concernedperson")
    assert DisclosureRequest.objects.count() >= REQUESTS


def plans(run) -> list[tuple[str, str]]:
    """Each SELECT that `run()` sends on the requests table, with its plan."""
    with CaptureQueriesContext(connection) as captured:
        run()
    found = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.startswith("SELECT") or "requests_app_disclosurerequest" not in sql:
                continue
            cursor.execute("EXPLAIN " + sql)
            found.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
    return found


def rows_plan(run) -> str:
    """The plan of the query that reads a page's rows."""
    return next(plan for sql, plan in plans(run) if '"reference" AS "reference"' in sql)


def test_the_plans_at_a_realistic_size(personas, register_at_scale, subtests):
    """One table of 50,000 requests for every plan (it takes seconds to build)."""
    president, secretariat = personas["president"], personas["secretariat"]
    newest_first = queries.register_sort(queries.DEFAULT_SORT)

    # The person search: the trigram index on the search key, the national
    # number's own index, never a scan of the persons.
    number = ConcernedPerson.objects.exclude(national_number="").values_list(
        "national_number", flat=True
    )[0]
    for text, index in [
        ("DUPRÉ", "person_search_name_trgm"),
        ("dupre jean", "person_search_name_trgm"),
        (f"{number[:6]}-{number[6:9]}.{number[9:]}", "person_national_number"),
    ]:
        with subtests.test(person=text):

            def run(text: str = text) -> queries.RegisterPage[queries.ListRow]:
                return queries.register_page(president, {"person": text}, newest_first)

            assert run().object_list
            found = plans(run)
            assert found
            for _sql, plan in found:
                assert index in plan, plan
                assert "Seq Scan on requests_app_concernedperson" not in plan, plan

    # The text search (reference, requester): a trigram index per column.
    with subtests.test(q="inspecteur 1234"):
        found = plans(
            lambda: queries.register_page(secretariat, {"q": "inspecteur 1234"}, newest_first)
        )
        assert found
        for _sql, plan in found:
            assert "request_requester_name_trgm" in plan, plan
            assert "Seq Scan on requests_app_disclosurerequest" not in plan, plan

    # Every sort, both ways, on the first page and half-way down: its index,
    # read from the cursor on, and no sort of the rows.
    for key, index in SORT_INDEXES.items():
        for sort in (key, f"-{key}"):
            order = queries.register_sort(sort)
            ordered = DisclosureRequest.objects.order_by(*order.order_by())
            deep = ordered.values_list("pk", flat=True)[REQUESTS // 2]
            for cursor in (None, deep):
                with subtests.test(sort=sort, after=cursor):
                    plan = rows_plan(
                        lambda order=order, cursor=cursor: queries.register_page(
                            secretariat, None, order, after=cursor
                        )
                    )
                    scan = "Index Scan Backward" if sort.startswith("-") else "Index Scan"
                    assert f"{scan} using {index} " in plan, plan
                    assert "Sort" not in plan, plan

    # The state filter (2 % of the requests): the rows and the capped count
    # both read the state index.
    with subtests.test(state="awaiting_assignment"):
        found = plans(
            lambda: queries.register_page(
                secretariat, {"state": "awaiting_assignment"}, newest_first
            )
        )
        assert len(found) == 2
        for _sql, plan in found:
            assert SORT_INDEXES["state"] in plan, plan
            assert "Seq Scan" not in plan, plan


# ---------------------------------------------------------------------------
# SQLite (the demo)

SQLITE_SCRIPT = """
import json
from datetime import date
from django.db import connection
from accounts.models import User
from django.contrib.auth.models import Group
from requests_app import queries
from requests_app.models import ConcernedPerson, DisclosureRequest

user = User.objects.create(username="p")
user.groups.add(Group.objects.get(name="president"))
for i, name in enumerate(["Dupré", "Lambert", "DUPRE", "Martin"]):
    dr = DisclosureRequest.objects.create(
        reference=f"SP-{i}", year=2026, number=i + 1, received_on=date(2026, 1, 1),
        channel="oral", requester_kind="police", requester_name="Juge",
        information_requested="x", registered_by=user,
        due_on=None if i == 1 else date(2026, 2, i + 1),
    )
    ConcernedPerson.objects.create(request=dr, last_name=name, national_number=f"{i:011d}")
order = queries.register_sort("due_on")
queries.PAGE_SIZE = 1
seen, page = [], queries.register_page(user, None, order)
seen += [r.reference for r in page.object_list]
while page.after:
    page = queries.register_page(user, None, order, after=page.after)
    seen += [r.reference for r in page.object_list]
queries.PAGE_SIZE = 50
found = queries.register_page(user, {"person": "dupre"}, queries.register_sort("reference"))
number = queries.register_page(user, {"person": "00000000003"}, order)
with connection.cursor() as cursor:
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    indexes = [row[0] for row in cursor.fetchall()]
print(json.dumps({
    "due": seen, "dupre": [r.reference for r in found.object_list],
    "number": [r.reference for r in number.object_list], "indexes": indexes,
}))
"""


def test_the_demo_on_sqlite_migrates_searches_and_pages(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "DJANGO_DEBUG": "true",
    }

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        return done.stdout.decode()

    manage("migrate", "--no-input", "-v", "0")
    result = json.loads(manage("shell", "-c", SQLITE_SCRIPT).strip().splitlines()[-1])
    assert result["due"] == ["SP-0", "SP-2", "SP-3", "SP-1"]  # no due date last
    assert result["dupre"] == ["SP-0", "SP-2"]
    assert result["number"] == ["SP-3"]
    assert "person_search_name_trgm" not in result["indexes"]
    assert "request_register_due" in result["indexes"]
