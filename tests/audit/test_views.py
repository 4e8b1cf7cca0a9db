"""The auditor's workspace: access, filters, no personal data, query counts."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit import log, paging
from audit.models import AuditEvent
from tests.conftest import PASSWORD, inline_scripts

CANARIES = [
    "CANARYNOM",
    "CANARYPRENOM",
    "CANARYINFO",
    "CANARYRUE",
    "CANARYJUGE",
    "CANARYITEM",
    "CANARYMOTIF",
    "85010100115",  # CANARY_NISS
]
OTHER_ROLES = ["secretariat", "president", "dg", "referent", "other_referent", "outsider"]


@pytest.fixture
def auditor_client(client, personas, checkpoint_dir):
    client.login(username="auditor", password=PASSWORD)
    return client


@pytest.fixture
def requests_made(flow):
    """Two requests moved through the procedure by the services (which audit)."""
    first = flow.in_review()
    second = flow.received(requester_reference="JI/2026/999")
    return first, second


def pages(reference: str) -> list[str]:
    return [
        reverse("audit:timeline"),
        reverse("audit:timeline") + "?reference=" + reference,
        reverse("audit:request", args=[reference]),
        reverse("audit:request_access", args=[reference]),
        reverse("audit:user_activity") + "?utilisateur=secretariat",
        reverse("audit:verification"),
    ]


@pytest.mark.django_db
def test_pages_for_the_auditor_and_404_for_everyone_else(client, personas, checkpoint_dir):
    urls = [
        *pages("SP-2026-0001"),
        reverse("audit:export", args=["jsonl"]),
        reverse("audit:export", args=["csv"]),
    ]
    for role in OTHER_ROLES:
        client.login(username=personas[role].username, password=PASSWORD)
        for url in urls:
            assert client.get(url).status_code == 404, (role, url)
        assert client.post(reverse("audit:verification")).status_code == 404, role
        client.logout()
    # Anonymous visitors are sent to the login page.
    response = client.get(reverse("audit:timeline"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    client.login(username="auditor", password=PASSWORD)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
    assert client.get(reverse("audit:export", args=["xml"])).status_code == 404
    # No other write endpoint: a POST to a read page is refused.
    assert client.post(reverse("audit:timeline")).status_code == 405


@pytest.mark.django_db
def test_no_personal_data_and_no_inline_code(auditor_client, requests_made):
    first, _ = requests_made
    texts = []
    for url in pages(first.reference):
        response = auditor_client.get(url)
        assert response.status_code == 200
        texts.append(response.content.decode())
    for fmt in ("jsonl", "csv"):
        response = auditor_client.get(reverse("audit:export", args=[fmt]))
        texts.append(b"".join(response.streaming_content).decode())
    assert first.reference in texts[0]
    for text in texts:
        for canary in CANARIES:
            assert canary not in text
    for text in texts[:-2]:
        assert inline_scripts(text) == []
        assert "style=" not in text
        assert "<style" not in text


@pytest.mark.django_db
def test_filters(auditor_client, requests_made, personas):
    first, second = requests_made
    url = reverse("audit:timeline")

    by_reference = auditor_client.get(url, {"reference": first.reference})
    rows = by_reference.context["rows"]
    assert rows
    assert {row["reference"] for row in rows} == {first.reference}
    assert all(row["object_id"] == str(first.pk) for row in rows)

    by_actor = auditor_client.get(url, {"acteur": "referent"})
    assert by_actor.context["rows"]
    assert {row["actor"] for row in by_actor.context["rows"]} == {"referent"}

    by_action = auditor_client.get(url, {"action": "register_request"})
    assert {row["action"] for row in by_action.context["rows"]} == {"register_request"}
    assert {row["reference"] for row in by_action.context["rows"]} == {
        first.reference,
        second.reference,
    }

    today = timezone.localdate()
    in_period = auditor_client.get(url, {"du": today.isoformat(), "au": today.isoformat()})
    assert in_period.context["page"].count == AuditEvent.objects.count()
    assert not in_period.context["page"].count_capped
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert auditor_client.get(url, {"du": tomorrow}).context["rows"] == []
    yesterday = (today - timedelta(days=1)).isoformat()
    assert auditor_client.get(url, {"au": yesterday}).context["rows"] == []
    assert auditor_client.get(url, {"du": tomorrow, "au": yesterday}).context["rows"] == []

    trail = auditor_client.get(reverse("audit:request", args=[first.reference]))
    actions = [row["action"] for row in trail.context["rows"]]
    assert "register_request" in actions
    assert "submit_opinion" in actions
    assert {row["reference"] for row in trail.context["rows"]} == {first.reference}

    activity = auditor_client.get(
        reverse("audit:user_activity"),
        {"utilisateur": "president", "du": today.isoformat(), "au": today.isoformat()},
    )
    assert activity.context["subject"] == personas["president"]
    assert activity.context["rows"]
    assert {row["actor"] for row in activity.context["rows"]} == {"president"}
    unknown = auditor_client.get(reverse("audit:user_activity"), {"utilisateur": "nobody"})
    assert unknown.context["subject"] is None
    assert "Aucun utilisateur" in unknown.content.decode()


@pytest.mark.django_db
def test_who_accessed_a_request(auditor_client, requests_made, personas):
    first, _ = requests_made
    log.append(
        actor_id=personas["president"].pk,
        action="read_request",
        object_type="disclosure_request",
        object_id=first.pk,
        details={"reference": first.reference, "content": True},
    )
    log.append(
        actor_id=personas["outsider"].pk,
        action="refused",
        object_type="disclosure_request",
        object_id=first.pk,
        details={"attempted": "read_request", "cause": "not_found_or_denied"},
    )
    response = auditor_client.get(reverse("audit:request_access", args=[first.reference]))
    rows = response.context["rows"]
    assert rows
    assert all(row["action"].startswith("read_") for row in rows)
    summary = {s["actor__username"]: s["count"] for s in response.context["summary"]}
    assert summary["president"] >= 1
    assert response.context["refused"] == 1
    # The refused read shows the request by its reference, looked up by id.
    trail = auditor_client.get(reverse("audit:request", args=[first.reference]))
    refused = [row for row in trail.context["rows"] if row["action"] == "refused"]
    assert refused[0]["reference"] == first.reference


@pytest.mark.django_db
def test_query_count_does_not_grow_with_page_size(auditor_client, personas):
    users = list(personas.values())
    for i in range(120):
        log.append(
            actor_id=users[i % len(users)].pk,
            action="read_request",
            object_type="disclosure_request",
            object_id=1000 + i,  # no such request: references looked up in one query
            details={"content": False},
        )
    newest = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)[0]
    views: list[dict[str, str | int]] = [
        {},
        {"avant": newest - 3},
        {"apres": 5},
        {"action": "read_request"},
        {"acteur": "president", "avant": newest - 3},
        {"du": timezone.localdate().isoformat(), "apres": 5},
    ]
    for params in views:
        counts = []
        for size in (25, 100):
            with CaptureQueriesContext(connection) as queries:
                response = auditor_client.get(
                    reverse("audit:timeline"), {**params, "taille": size}
                )
            assert response.status_code == 200
            if "acteur" not in params:
                assert len(response.context["rows"]) == size, params
            counts.append(len(queries))
        assert counts[0] == counts[1], params


def _links(response) -> dict[str, dict[str, str]]:
    """The pagination's previous/next links, as query dicts, by rel."""
    html = response.content.decode()
    found = {}
    for href, rel in re.findall(r'<a href="([^"]*)" rel="(prev|next)"', html):
        found[rel] = dict(parse_qsl(urlsplit(unescape(href)).query))
    return found


def _walk(client, params: dict[str, str], rel: str, start: dict[str, str] | None = None):
    """Follow `rel` links from a page; the seqs of each page, in page order."""
    pages = []
    query = {**params, **(start or {})}
    while True:
        response = client.get(reverse("audit:timeline"), query)
        assert response.status_code == 200
        pages.append([row["seq"] for row in response.context["rows"]])
        link = _links(response).get(rel)
        if link is None:
            return pages, response
        query = link
        assert len(pages) < 100


@pytest.mark.django_db
def test_keyset_pages_list_every_event_once_forwards_and_back(auditor_client, personas):
    users = list(personas.values())
    for i in range(80):  # 80 events, 27 logins: pages of 25 and a short last one
        log.append(
            actor_id=users[i % 2].pk,
            action="read_request" if i % 3 else "login",
            object_type="session",
        )
    everything = list(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True))
    logins = list(
        AuditEvent.objects.filter(action="login").order_by("-seq").values_list("seq", flat=True)
    )
    for params, expected in (
        ({"taille": "25"}, everything),
        ({"action": "login", "taille": "25"}, logins),
    ):
        forwards, last = _walk(auditor_client, params, "next")
        assert [seq for page in forwards for seq in page] == expected
        assert all(len(page) == 25 for page in forwards[:-1])
        assert len(forwards) == -(-len(expected) // 25)
        # And back from the last page to the first, through "Previous page".
        back_start = _links(last).get("prev")
        assert back_start is not None
        backwards, first = _walk(auditor_client, params, "prev", start=back_start)
        assert [seq for page in reversed(backwards) for seq in page] == expected[
            : len(expected) - len(forwards[-1])
        ]
        assert first.context["page"].first
        assert [row["seq"] for row in first.context["rows"]] == forwards[0]
    # The timeline's count is the chain's length, exact, at no cost.
    response = auditor_client.get(reverse("audit:timeline"))
    assert response.context["page"].count == len(everything)
    assert f"{len(everything)} événements" in response.content.decode()


@pytest.mark.django_db
def test_filtered_count_is_capped(auditor_client, personas, monkeypatch):
    for _ in range(12):
        log.append(actor_id=personas["president"].pk, action="login", object_type="session")
    monkeypatch.setattr(paging, "COUNT_CAP", 10)
    response = auditor_client.get(reverse("audit:timeline"), {"action": "login"})
    assert response.context["page"].count_capped
    assert "Plus de 10 événements" in response.content.decode()
    response = auditor_client.get(reverse("audit:timeline"), {"acteur": "president"})
    assert response.context["page"].count_capped
    # Few events: exact.
    log.append(actor_id=personas["dg"].pk, action="logout", object_type="session")
    response = auditor_client.get(reverse("audit:timeline"), {"action": "logout"})
    assert response.context["page"].count == 1
    assert not response.context["page"].count_capped


@pytest.mark.django_db
def test_pages_count_and_choose_actions_without_scanning_the_trail(auditor_client, requests_made):
    first, _ = requests_made
    newest = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)[0]
    urls = [
        *pages(first.reference)[:-1],
        reverse("audit:timeline") + f"?avant={newest}",
        reverse("audit:timeline") + "?action=register_request&apres=1",
        reverse("audit:timeline") + "?acteur=secretariat&du=2026-01-01",
    ]
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert auditor_client.get(url).status_code == 200
        for query in queries:
            sql = query["sql"].upper()
            assert "DISTINCT" not in sql, (url, sql)
            assert "OFFSET" not in sql, (url, sql)
            if "COUNT(" in sql and "REQUESTS_APP_AUDITEVENT" in sql:
                # Counts of one request's events (the access summary) use
                # its index; any other count stops after COUNT_CAP rows.
                assert "LIMIT" in sql or '"OBJECT_ID" =' in sql, (url, sql)


@pytest.mark.django_db
def test_every_labelled_action_is_offered(auditor_client):
    from audit import vocabulary

    response = auditor_client.get(reverse("audit:timeline"))
    offered = dict(response.context["actions"])
    assert set(offered) == set(vocabulary.action_codes())
    assert offered["register_request"] == vocabulary.action_label("register_request")
    # A code nobody labelled, typed in the URL, still filters and is shown.
    response = auditor_client.get(reverse("audit:timeline"), {"action": "no_such_code"})
    assert response.status_code == 200
    assert dict(response.context["actions"])["no_such_code"] == "no_such_code"
    assert response.context["rows"] == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "avant=abc",
        "avant=-5",
        "avant=0",
        "apres=1.5",
        "avant=99999999999999999999999999",
        "apres=9223372036854775807",
        "avant=%D9%A3",  # an Arabic-Indic digit: isdigit() but not a seq
        "avant=12&apres=3",
        "taille=abc",
        "taille=%D9%A3",
        "taille=100000",
        "page=7",
    ],
)
def test_bad_cursor_gives_a_page_not_an_error(auditor_client, requests_made, query):
    newest = list(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True))
    response = auditor_client.get(reverse("audit:timeline") + "?" + query)
    assert response.status_code == 200
    rows = [row["seq"] for row in response.context["rows"]]
    if query == "avant=12&apres=3":
        assert rows == [seq for seq in newest if seq < 12][:50]
    else:
        assert rows == newest[:50]
    for url in (reverse("audit:request", args=[requests_made[0].reference]),):
        assert auditor_client.get(url + "?" + query).status_code == 200


@pytest.mark.django_db
def test_verify_now_and_status(auditor_client, requests_made, checkpoint_dir):
    page = auditor_client.get(reverse("audit:verification")).content.decode()
    assert "Aucune vérification enregistrée" in page
    response = auditor_client.post(reverse("audit:verification"), follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Vérification réussie" in page
    assert "Intègre" in page
    status = json.loads((checkpoint_dir / log.STATUS_FILE).read_text())
    assert status["ok"] is True
    assert status["by"].startswith("auditor")
    # The run itself is the last event of the trail.
    run = AuditEvent.objects.order_by("-seq").first()
    assert run is not None
    assert run.action == "verify_audit"
    assert run.details == {"ok": True, "events": run.seq - 1, "first_broken_seq": None}
    assert status["events"] == run.seq - 1


@pytest.mark.django_db
def test_exports_download_and_are_audited(auditor_client, requests_made, personas):
    before = AuditEvent.objects.count()
    response = auditor_client.get(reverse("audit:export", args=["jsonl"]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == before
    event = AuditEvent.objects.get(seq=before + 1)
    assert event.action == "export_audit"
    assert event.actor_id == personas["auditor"].pk
    assert event.details == {"format": "jsonl", "events": before}

    response = auditor_client.get(reverse("audit:export", args=["csv"]))
    assert response["Content-Type"].startswith("text/csv")
    rows = b"".join(response.streaming_content).decode().splitlines()
    assert rows[0].startswith("seq,occurred_at,actor_id")
    assert len(rows) == before + 2  # header, the events and the first export
    assert AuditEvent.objects.get(seq=before + 2).details == {
        "format": "csv",
        "events": before + 1,
    }
