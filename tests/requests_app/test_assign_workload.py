"""The assignment page shows each referent's open requests and nearest due date."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from requests_app import services
from tests.conftest import make_user, reread


def rows(html: str) -> dict[str, tuple[str, str]]:
    table = html.split('id="workload-title"', 1)[1].split("</table>", 1)[0]
    found = {}
    for row in re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", table, re.S):
        name, count, due = (re.sub(r"<[^>]+>", "", cell).strip() for cell in row)
        found[name] = (count, due)
    return found


def test_the_page_lists_each_referents_open_requests_and_nearest_due_date(client, flow, personas):
    today = timezone.localdate()
    referent, other = personas["referent"], personas["other_referent"]
    late = flow.received(requester_deadline=today - timedelta(days=30))
    services.assign_referent(late, actor=personas["president"], referent=referent)
    in_review = flow.in_review()  # a second open request of the referent
    late_due, other_due = reread(late).due_on, reread(in_review).due_on
    assert late_due is not None
    assert other_due is not None
    assert late_due < other_due
    closed = flow.closed()  # not counted: closed
    assert reread(closed).referent_id == referent.pk
    waiting = flow.received()

    client.force_login(personas["president"])
    html = client.get(reverse("requests_app:assign", args=[waiting.pk])).content.decode()

    found = rows(html)
    name = referent.get_full_name() or referent.username
    other_name = other.get_full_name() or other.username
    assert found[name][0] == "2"
    assert found[name][1].startswith(f"{late_due:%d/%m/%Y}")
    assert "en retard" in found[name][1]
    assert found[other_name] == ("0", "—")


def test_the_workload_is_one_query_whatever_the_number_of_referents(client, flow, personas):
    waiting = flow.received()
    client.force_login(personas["president"])
    url = reverse("requests_app:assign", args=[waiting.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(5):
        make_user(f"extra-referent-{i}", Role.REFERENT)
    with CaptureQueriesContext(connection) as many:
        html = client.get(url).content.decode()

    assert len(many.captured_queries) == len(few.captured_queries)
    assert len(rows(html)) >= 7
