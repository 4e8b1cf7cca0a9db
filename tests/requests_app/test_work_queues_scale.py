"""The work queues at scale (issue 15): the queues ask a transition's
permission once per (state, referent) class of requests, and load the letters
only of the requests whose letter may be signed or sent. These tests hold the
assumptions that makes safe, and pin the indexes the DG's home relies on."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from requests_app import services
from requests_app.models import SIGNING_STATES, DisclosureRequest
from requests_app.permissions import visible_requests
from requests_app.queries import PERMISSION_FIELDS, WORK_QUEUES, work_queues
from tests.conftest import fresh_otp
from tests.requests_app.test_acknowledgement import acknowledged, dispatch, sign_both
from tests.requests_app.test_work_queues import seed

__all__ = ["acknowledged"]  # a fixture, used by name


def fresh(user: User) -> User:
    # The role cache lives on the instance, as it does per web request.
    return User.objects.get(pk=user.pk)


def test_a_transition_permission_reads_only_the_state_and_the_referent(flow, personas, acting_dg):
    """The queues apply one decision to every request of a (state, referent)
    class: a permission that read anything else of the request (a deferred
    field here) would make a query, and the shortcut would be wrong."""
    seed(flow, personas, acting_dg)
    people = [*personas.values(), acting_dg]
    checked = 0
    for queue in WORK_QUEUES:
        if queue.rule is not None or any(s in SIGNING_STATES for s in queue.states):
            continue  # asked of each request, with its letters loaded
        for user in people:
            user = fresh(user)
            user.roles_on()  # the roles are the user's, read once per request
            for dr in DisclosureRequest.objects.filter(state__in=queue.states).only(
                *PERMISSION_FIELDS
            ):
                for name in queue.transitions:
                    with CaptureQueriesContext(connection) as captured:
                        dr.is_step_of(name, user)
                    assert not captured.captured_queries, (queue.key, name, user.username)
                    checked += 1
    assert checked > 0


def test_the_class_shortcut_decides_as_each_request_would(flow, personas, acting_dg, acknowledged):
    """Every person's queues equal the rules asked of each request in full,
    acknowledgements of receipt at every step included."""
    seed(flow, personas, acting_dg)
    for _ in range(2):  # several requests per class
        flow.received()
        flow.assigned()
        flow.in_review()
        flow.awaiting_signatures()
        flow.partially_signed()
        # Acknowledgements: unsigned, signed once, signed twice, sent.
        once = flow.received()
        services.sign_acknowledgement(once, actor=personas["dg"], otp=fresh_otp(personas["dg"]))
        sign_both(flow.received(), personas)
        dispatch(sign_both(flow.received(), personas), personas)
    for user in [*personas.values(), acting_dg]:
        user = fresh(user)
        fast = {queue.key: [dr.pk for dr in rows] for queue, rows in work_queues(user)}
        everything = list(
            visible_requests(user)
            .prefetch_related("replies__signatures")
            .order_by("due_on", "received_on", "number", "pk")
        )
        slow = {}
        for queue in WORK_QUEUES:
            members = []
            for dr in everything:
                if dr.state not in queue.states:
                    continue
                if queue.rule is not None:
                    taken = queue.rule(dr, user)
                else:
                    taken = any(dr.is_step_of(name, user) for name in queue.transitions)
                if taken:
                    members.append(dr.pk)
            slow[queue.key] = members
        assert fast == slow, user.username


def test_the_home_page_limit_keeps_the_first_rows_by_due_date(flow, personas):
    for _ in range(3):
        flow.received()
    president = fresh(personas["president"])
    full = dict(work_queues(president))
    limited = dict(work_queues(president, limit=2))
    for queue, rows in full.items():
        assert [dr.pk for dr in limited[queue]] == [dr.pk for dr in rows][:2]
    assert any(len(rows) > 2 for rows in full.values())


@pytest.mark.parametrize(
    ("table", "name", "columns"),
    [
        # With what the DG's list reads of them: found from the index alone.
        ("requests_app_opinion", "opinion_override", "(request_id, number)"),
        ("requests_app_review", "review_override", "(request_id, opinion_id)"),
    ],
)
def test_the_overrides_have_their_partial_index(db, table, name, columns):
    if connection.vendor != "postgresql":
        pytest.skip("the index definition is read from PostgreSQL's catalogue")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname = %s",
            [table, name],
        )
        row = cursor.fetchone()
    assert row is not None, name
    assert columns in row[0]
    assert "WHERE" in row[0]
    assert "override_reason" in row[0]


def test_the_home_page_shows_the_first_rows_and_the_queues_full_count(
    client, flow, personas, monkeypatch
):
    from django.urls import reverse

    from requests_app import queries

    monkeypatch.setattr(queries, "HOME_ROWS", 2)
    waiting = [flow.received() for _ in range(3)]
    client.force_login(personas["president"])
    response = client.get(reverse("requests_app:home"))
    assert response.status_code == 200
    assign = next(s for s in response.context["sections"] if s.key == "assign")
    by_due = sorted(waiting, key=lambda dr: (dr.due_on, dr.received_on, dr.number, dr.pk))
    assert [dr.pk for dr in assign.rows] == [dr.pk for dr in by_due[:2]]
    assert (assign.count, assign.more) == (3, True)
    html = response.content.decode()
    assert "(3)" in html
    assert "Seules les 2 premières" in html


def test_a_referents_open_requests_have_their_index(db):
    """The assignment page counts each referent's open requests among every
    request they ever held (queries.referent_workload)."""
    if connection.vendor != "postgresql":
        pytest.skip("the index definition is read from PostgreSQL's catalogue")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'request_referent_state'"
        )
        row = cursor.fetchone()
    assert row is not None
    assert "(referent_id, state)" in row[0]
