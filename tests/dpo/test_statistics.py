"""Issue 16: the figures for the Council and the DPO (dpo/statistics.py).

The seeded data set is built with the ORM, not through the services: what is
tested is the counting of requests in known end states (their outcome, dates,
bases and overrides), not the procedure that leads there, and those states
lie months apart (a backlog from the year before, a reply sent after the
period). `requests_app.queries.with_outcome` reads the same rows the services
write (the current reply, its deciding opinion or review). One test takes
requests through the real procedure (`Flow`) to tie the two together.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import count
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import User
from dpo import statistics
from dpo.charts import bar_chart
from dpo.statistics import SMALL_LABEL, Period, protect_partition
from dpo.statistics_forms import MAX_SPAN_DAYS
from legal_basis.models import LegalBasis
from requests_app.models import (
    Channel,
    DisclosureRequest,
    Opinion,
    Proposal,
    Reply,
    ReplyKind,
    RequestKind,
    Review,
    State,
)
from tests.conftest import CANARY_NAME

MASKED = "masqué"
YEAR = Period(date(2025, 1, 1), date(2025, 12, 31))


# ---------------------------------------------------------------------------
# Primary and complementary suppression, alone


@pytest.mark.parametrize(
    ("counts", "expected", "publishable"),
    [
        # Nothing small: everything shown, zeros too.
        ([12, 0, 7], ["", "", ""], True),
        ([0, 0, 0], ["", "", ""], True),
        # One small cell next to a total: the smallest other cell is masked.
        ([12, 7, 3], ["", "masked", "small"], True),
        # Masked 5 with a hidden 1 would give 1 and 5 back (6 = 1 + 5): a
        # second cell is masked.
        ([1, 5, 9, 20], ["small", "masked", "masked", ""], True),
        # Two small cells whose sum leaves each of them open: nothing more.
        ([20, 2, 3], ["", "small", "small"], True),
        # Two 1s (sum 2) or two 4s (sum 8) tell their values: mask more.
        ([20, 1, 1], ["masked", "small", "small"], True),
        ([20, 4, 4, 30], ["masked", "small", "small", ""], True),
        # Nothing left to mask: the table cannot be published.
        ([1, 5], ["small", "masked"], False),
        ([4, 4], ["small", "small"], False),
        ([3], ["small"], False),
    ],
)
def test_small_counts_and_the_counts_that_would_give_them_back(counts, expected, publishable):
    assert protect_partition(counts) == (expected, publishable)


# ---------------------------------------------------------------------------
# The seeded data set


@dataclass(frozen=True)
class Seed:
    """One request of the data set, as the statistics see it."""

    kind: str
    received: date
    outcome: str  # a value of requests_app.queries.Outcome
    days: int | None = None  # reception to dispatch, when answered
    due: int | None = 21  # days after reception; None: no due date
    open_state: str = State.AWAITING_ASSIGNMENT
    invoked: tuple[str, ...] = ()  # codes of the opinion's bases
    retained: tuple[str, ...] = ()  # codes of the current answer's bases
    opinion_override: bool = False
    review_override: bool = False
    closed_on: date | None = None  # withdrawn or annulled on
    # Decided by an amending review (disclosed in part) instead of a
    # proposal to disclose in part.
    amended: bool = False
    # A person's own access request (GDPR art. 15), not a request to lift the secret.
    access: bool = False


D, P, PP = "investigating_judge", "police", "public_prosecutor"
POLICE, CONSENT, A46, SECRECY, GDPR = "police-request", "consent", "cic-46bis1", "cp-458", "gdpr"

IN_PERIOD = [
    # Disclosed (8): 5 police, 3 investigating judges; one past its due date (10 days).
    Seed(P, date(2025, 1, 6), "disclosed", 5, invoked=(POLICE,), retained=(POLICE,)),
    Seed(P, date(2025, 2, 3), "disclosed", 6, invoked=(POLICE, CONSENT),
         retained=(POLICE, CONSENT), opinion_override=True, review_override=True),
    Seed(P, date(2025, 3, 3), "disclosed", 7, invoked=(POLICE,), retained=(POLICE,),
         review_override=True),
    Seed(P, date(2025, 4, 7), "disclosed", 8, invoked=(POLICE,), retained=(POLICE,),
         review_override=True),
    Seed(P, date(2025, 5, 5), "disclosed", 9, invoked=(POLICE, CONSENT),
         retained=(POLICE, CONSENT), opinion_override=True),
    Seed(D, date(2025, 6, 2), "disclosed", 10, invoked=(POLICE,), retained=(POLICE,),
         review_override=True),
    Seed(D, date(2025, 7, 7), "disclosed", 11, due=10, invoked=(POLICE,), retained=(POLICE,),
         review_override=True),
    Seed(D, date(2025, 8, 4), "disclosed", 12, invoked=(POLICE,), retained=(POLICE,)),
    # Disclosed in part (2): one by proposal, one by an amending review; one late.
    Seed(D, date(2025, 9, 1), "disclosed_in_part", 13, invoked=(A46,), retained=(A46,)),
    Seed(D, date(2025, 9, 8), "disclosed_in_part", 14, due=10, invoked=(A46,), retained=(A46,),
         amended=True),
    # Refused (5): 3 police, 2 prosecutors; 25 and 40 days are late, and the
    # 40-day one left after the period (overdue on its last day).
    Seed(P, date(2025, 10, 6), "refused", 15, invoked=(POLICE,), retained=(SECRECY,)),
    Seed(P, date(2025, 10, 13), "refused", 16, invoked=(POLICE,), retained=(SECRECY,)),
    Seed(P, date(2025, 10, 20), "refused", 20, invoked=(POLICE,), retained=(SECRECY,)),
    Seed(PP, date(2025, 11, 3), "refused", 25, invoked=(POLICE,), retained=(SECRECY,)),
    Seed(PP, date(2025, 12, 1), "refused", 40, invoked=(POLICE,), retained=(SECRECY,)),
    # Inadmissible (1), without a due date.
    Seed(PP, date(2025, 11, 10), "inadmissible", 60, due=None),
    # Withdrawn (1) after the period, past due on its last day.
    Seed(P, date(2025, 11, 3), "withdrawn", invoked=(CONSENT,), closed_on=date(2026, 1, 5)),
    # Open (5): 3 police, 2 investigating judges; 3 overdue on 31 December.
    Seed(P, date(2025, 11, 3), "open"),
    Seed(P, date(2025, 12, 22), "open"),
    Seed(P, date(2025, 10, 1), "open", open_state=State.AWAITING_REVIEW, invoked=(POLICE,)),
    Seed(D, date(2025, 6, 2), "open", open_state=State.AWAITING_REVIEW, invoked=(POLICE,)),
    Seed(D, date(2025, 12, 15), "open", open_state=State.AWAITING_SIGNATURES, invoked=(GDPR,),
         retained=(GDPR,)),
]  # fmt: skip
OUTSIDE = [
    # Received the year before, still open: overdue on 31 December 2025 (the
    # backlog), counted nowhere else; its override is not the period's.
    Seed(P, date(2024, 11, 4), "open", open_state=State.AWAITING_REVIEW, invoked=(GDPR,),
         opinion_override=True),
    # Annulled after the period: a registration error, never overdue.
    Seed(P, date(2024, 10, 1), "annulled", closed_on=date(2026, 2, 2)),
    # A person's access request, received in the period and overdue on its
    # last day: not a request to lift the secret, counted nowhere.
    Seed("person_concerned", date(2025, 6, 2), "open", access=True,
         open_state=State.AWAITING_ACCESS_REPLY),
    # Received after the period.
    Seed(D, date(2026, 1, 5), "disclosed", 5, invoked=(POLICE,), retained=(POLICE,)),
    Seed(P, date(2026, 1, 6), "open"),
]  # fmt: skip

# The figures, cell by cell, as shown ("< 5", "masqué", a number).
EXPECTED_KIND = {P: "12", D: MASKED, PP: SMALL_LABEL}  # every other kind: "0"
EXPECTED_OUTCOME = {
    "disclosed": "8",
    "disclosed_in_part": SMALL_LABEL,
    "refused": "5",
    "inadmissible": SMALL_LABEL,
    "oral": "0",
    "withdrawn": SMALL_LABEL,
    "annulled": "0",
    "open": "5",
}
EXPECTED_DEADLINE = {"on_time": "11", "late": SMALL_LABEL, "no_due_date": SMALL_LABEL}
EXPECTED_INVOKED = [
    (POLICE, "15"),
    (CONSENT, SMALL_LABEL),
    (A46, SMALL_LABEL),
    (GDPR, SMALL_LABEL),
]
EXPECTED_RETAINED = [(POLICE, "8"), (SECRECY, "5"), (A46, SMALL_LABEL), (CONSENT, SMALL_LABEL)]
EXPECTED_OVERRIDES = {"requests": "6", "opinions": SMALL_LABEL, "reviews": "5"}
# Days to answer, sorted: 5..16, 20, 25, 40, 60. percentile_cont: the median
# between the 8th and 9th (12 and 13), the 90th percentile at 13.5 of 15
# (25 + 0.5 × 15).
EXPECTED_MEDIAN, EXPECTED_P90 = 12.5, 32.5


_numbers = count(1)


def _bases(codes: tuple[str, ...], old_police: LegalBasis | None = None) -> list[LegalBasis]:
    found = []
    for code in codes:
        if code == POLICE and old_police is not None:
            found.append(old_police)
        else:
            found.append(LegalBasis.objects.filter(code=code, is_current=True).earliest("pk"))
    return found


def _state(seed: Seed) -> str:
    return {
        "disclosed": State.CLOSED,
        "disclosed_in_part": State.DISPATCHED,
        "refused": State.CLOSED,
        "inadmissible": State.DISPATCHED,
        "withdrawn": State.WITHDRAWN,
        "annulled": State.ANNULLED,
        "oral": State.CLOSED_ORAL,
        "open": seed.open_state,
    }[seed.outcome]


def make_request(seed: Seed, users: dict[str, User], old_police: LegalBasis | None = None):
    """One request in its end state, straight into the tables (see the docstring)."""
    number = next(_numbers)
    state = _state(seed)
    dispatched = seed.received + timedelta(days=seed.days) if seed.days is not None else None
    closed_at = None
    if seed.closed_on is not None:
        closed_at = timezone.make_aware(datetime.combine(seed.closed_on, time(10)))
    dr = DisclosureRequest.objects.create(
        reference=f"ST-{number}",
        year=seed.received.year,
        number=900_000 + number,
        received_on=seed.received,
        channel=Channel.ORAL if seed.outcome == "oral" else Channel.POST,
        scan="" if seed.outcome == "oral" else "scans/statistics-test",
        requester_kind=seed.kind,
        requester_name=f"Demandeur {CANARY_NAME}",
        information_requested="CANARYINFO",
        registered_by=users["secretariat"],
        referent=users["referent"] if seed.invoked else None,
        state=state,
        due_on=seed.received + timedelta(days=seed.due) if seed.due is not None else None,
        dispatched_on=dispatched,
        closed_at=closed_at,
        withdrawal_reason="withdrawn_in_writing" if state == State.WITHDRAWN else "",
        annulment_reason="Doublon" if state == State.ANNULLED else "",
        **(
            {
                "kind": RequestKind.SUBJECT_ACCESS,
                "identity_verification": "id_card_at_desk",
                "identity_verified_by": users["secretariat"],
                "identity_verified_at": timezone.now(),
            }
            if seed.access
            else {}
        ),
    )
    opinion = None
    if seed.invoked:
        proposal = {
            "disclosed_in_part": Proposal.DISCLOSE if seed.amended else Proposal.DISCLOSE_IN_PART,
            "refused": Proposal.REFUSE,
        }.get(seed.outcome, Proposal.DISCLOSE)
        opinion = Opinion.objects.create(
            request=dr,
            number=1,
            author=users["referent"],
            proposal=proposal,
            reasoning="Motivation",
            override_reason="Dérogation motivée" if seed.opinion_override else "",
        )
        opinion.legal_bases.set(_bases(seed.invoked, old_police))
    review = None
    if opinion is not None and (
        seed.review_override or seed.amended or seed.outcome in ("disclosed", "refused")
    ):
        review = Review.objects.create(
            request=dr,
            opinion=opinion,
            reviewer=users["dg"],
            outcome=(
                Review.Outcome.AMENDED
                if seed.amended
                else Review.Outcome.REFUSED
                if seed.outcome == "refused"
                else Review.Outcome.APPROVED
            ),
            override_reason="Approuvé malgré l'avertissement" if seed.review_override else "",
        )
    kind = {
        "disclosed": ReplyKind.DISCLOSURE,
        "disclosed_in_part": ReplyKind.DISCLOSURE,
        "refused": ReplyKind.REFUSAL,
        "inadmissible": ReplyKind.INADMISSIBILITY,
    }.get(seed.outcome)
    if seed.retained and kind is None:  # a decided reply not sent yet
        kind = ReplyKind.DISCLOSURE
    if kind is not None:
        reply = Reply.objects.create(
            request=dr,
            kind=kind,
            body="Corps",
            decided_by_review=review,
            decided_by_opinion=opinion if review is None and kind != "inadmissibility" else None,
        )
        reply.legal_bases.set(_bases(seed.retained))
    return dr


@pytest.fixture
def seeded(personas):
    """The data set, with what must never count: a superseded reply and an
    acknowledgement (their bases), and an old version of a basis."""
    current = LegalBasis.objects.filter(code=POLICE, is_current=True).earliest("pk")
    old_police = LegalBasis.objects.create(
        code=POLICE,
        version=current.version + 50,
        is_current=False,
        title_fr="Ancien intitulé de la base",
        citation="ancienne",
        role=current.role,
        effect=current.effect,
    )
    requests = [
        make_request(seed, personas, old_police if index == 0 else None)
        for index, seed in enumerate(IN_PERIOD)
    ]
    for seed in OUTSIDE:
        make_request(seed, personas)
    refused = requests[10]
    superseded = Reply.objects.create(
        request=refused,
        kind=ReplyKind.DISCLOSURE,
        body="Remplacée",
        decided_by_opinion=refused.opinions.get(),
        superseded_at=timezone.now(),
    )
    superseded.legal_bases.set(_bases(("necessity",)))
    acknowledgement = Reply.objects.create(
        request=refused, kind=ReplyKind.ACKNOWLEDGEMENT, body="Accusé"
    )
    acknowledgement.legal_bases.set(_bases(("lo-cpas-36",)))
    return requests


def shown(table) -> dict[str, str]:
    return {cell.key: cell.shown for cell in table.cells}


def test_the_figures_of_the_seeded_year_cell_by_cell(seeded):
    stats = statistics.compute(YEAR)

    assert not stats.withheld
    assert (stats.total.count, stats.total.shown) == (22, "22")
    assert shown(stats.by_kind) == {
        value: EXPECTED_KIND.get(value, "0") for value in shown(stats.by_kind)
    }
    assert len(stats.by_kind.cells) == 21  # every kind, zeros included
    assert stats.by_kind.total is not None
    assert stats.by_kind.total.shown == "22"
    assert shown(stats.by_outcome) == EXPECTED_OUTCOME
    assert stats.by_outcome.total is not None
    assert stats.by_outcome.total.shown == "22"
    assert not stats.by_kind.withheld
    assert not stats.by_outcome.withheld

    timing = stats.timing
    assert (timing.answered.count, timing.answered.shown) == (16, "16")
    assert timing.median == pytest.approx(EXPECTED_MEDIAN)
    assert timing.p90 == pytest.approx(EXPECTED_P90)
    assert shown(timing.deadline) == EXPECTED_DEADLINE
    assert timing.deadline.total is not None
    assert timing.deadline.total.shown == "16"

    assert (stats.overdue.count, stats.overdue.shown) == (6, "6")
    assert {c.key: c.shown for c in stats.overrides} == EXPECTED_OVERRIDES

    assert [(c.key, c.shown) for c in stats.invoked.cells] == EXPECTED_INVOKED
    assert [(c.key, c.shown) for c in stats.retained.cells] == EXPECTED_RETAINED
    assert stats.invoked.total is None
    assert stats.retained.total is None


def test_a_basis_is_counted_by_code_and_labelled_with_its_current_title(seeded):
    stats = statistics.compute(YEAR)

    police = next(c for c in stats.invoked.cells if c.key == POLICE)
    current = LegalBasis.objects.filter(code=POLICE, is_current=True).get()
    # The first request cited the old version: one row for the code, 15 requests.
    assert police.count == 15
    assert police.label == current.title_fr
    assert "Ancien intitulé" not in {c.label for c in stats.invoked.cells}


def test_the_true_counts_behind_the_hidden_cells(seeded):
    """The protection hides what the data set holds, no more: the counts kept
    behind each hidden cell are the real ones."""
    stats = statistics.compute(YEAR)

    kinds = {c.key: c.count for c in stats.by_kind.cells}
    assert (kinds[P], kinds[D], kinds[PP]) == (12, 7, 3)
    outcomes = {c.key: c.count for c in stats.by_outcome.cells}
    assert (outcomes["disclosed_in_part"], outcomes["inadmissible"], outcomes["withdrawn"]) == (
        2,
        1,
        1,
    )
    assert {c.key: c.count for c in stats.timing.deadline.cells} == {
        "on_time": 11,
        "late": 4,
        "no_due_date": 1,
    }
    assert {c.key: c.count for c in stats.overrides} == {
        "requests": 6,
        "opinions": 2,
        "reviews": 5,
    }


def test_the_period_bounds_are_inclusive_and_the_overdue_count_is_of_its_last_day(seeded):
    # 1 January 2026 alone: nothing received.
    stats = statistics.compute(Period(date(2026, 1, 1), date(2026, 1, 1)))
    assert stats.total.count == 0
    assert not stats.withheld  # zero requests: zeros, nothing to protect
    # On 1 January 2026 the refusal of 1 December (sent 10 January) is still
    # open and overdue, as are the withdrawn one (5 January), the three open
    # ones and the backlog of 2024: 6, as on 31 December.
    assert stats.overdue.count == 6
    # The last day of the period counts: 22 December's request is in.
    december = statistics.compute(Period(date(2025, 12, 22), date(2025, 12, 22)))
    assert december.total.count == 1
    # On 15 January 2026 the refusal is sent and the withdrawal done, but the
    # open requests of 22 and 15 December are now past due (12 and 5
    # January); those received in January 2026 are not due yet.
    january = statistics.compute(Period(date(2026, 1, 1), date(2026, 1, 15)))
    assert january.overdue.count == 6


def test_a_period_of_fewer_than_five_requests_publishes_no_figure(client, seeded, dpo):
    # 1 to 15 December: three requests (1, 15 December, and 22 is outside).
    period = Period(date(2025, 12, 1), date(2025, 12, 15))
    stats = statistics.compute(period)
    assert stats.total.count == 2
    assert stats.withheld
    assert stats.total.shown == SMALL_LABEL

    client.force_login(dpo)
    page = client.get(reverse("statistics:index"), {"du": "2025-12-01", "au": "2025-12-15"})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Moins de 5 demandes" in text
    assert "<svg" not in text
    exported = client.get(reverse("statistics:csv"), {"du": "2025-12-01", "au": "2025-12-15"})
    body = exported.content.decode("utf-8-sig")
    assert "Moins de 5 demandes" in body
    assert ";2\r\n" not in body


def test_the_statistics_are_a_fixed_number_of_queries(personas, seeded):
    with CaptureQueriesContext(connection) as few:
        statistics.compute(YEAR)
    for seed in IN_PERIOD:
        make_request(seed, personas)
    with CaptureQueriesContext(connection) as twice:
        doubled = statistics.compute(YEAR)
    assert doubled.total.count == 44
    assert len(twice) == len(few) <= 12


def test_the_figures_follow_the_procedure_as_the_services_run_it(flow):
    """Requests taken through the real services: the outcomes, the retained
    basis and the time to answer read what the services wrote."""
    closed = flow.closed()
    flow.withdrawn()
    flow.closed_oral()
    flow.in_review()
    today = timezone.localdate()
    stats = statistics.compute(Period(date(today.year, 1, 1), today))

    outcomes = {c.key: c.count for c in stats.by_outcome.cells}
    assert outcomes == {
        "disclosed": 1,
        "disclosed_in_part": 0,
        "refused": 0,
        "inadmissible": 0,
        "oral": 1,
        "withdrawn": 1,
        "annulled": 0,
        "open": 1,
    }
    assert {c.key: c.count for c in stats.retained.cells} == {"ji-search-seizure": 1}
    assert {c.key: c.count for c in stats.invoked.cells} == {"ji-search-seizure": 2}
    assert stats.timing.answered.count == 1
    assert stats.timing.median is None  # fewer than 5 answers
    days = (closed.dispatched_on - closed.received_on).days
    on_time = "on_time" if closed.dispatched_on <= closed.due_on else "late"
    assert {c.key: c.count for c in stats.timing.deadline.cells}[on_time] == 1
    assert days >= 0


# ---------------------------------------------------------------------------
# Access and the period


@pytest.mark.parametrize("name", ["president", "dg", "dpo"])
def test_the_president_the_dg_and_the_dpo_see_the_figures(client, seeded, personas, name):
    client.force_login(personas[name])
    page = client.get(reverse("statistics:index"), {"du": "2025-01-01", "au": "2025-12-31"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Statistiques des demandes" in text
    assert "&lt; 5" in text
    assert MASKED in text
    # No request and no person is ever named.
    assert CANARY_NAME not in text
    assert "CANARYINFO" not in text
    assert "ST-1" not in text


@pytest.mark.parametrize("name", ["secretariat", "referent", "auditor", "outsider"])
@pytest.mark.parametrize(
    "route", ["statistics:index", "statistics:csv", "statistics:annual_report"]
)
def test_everyone_else_gets_403(client, personas, name, route):
    client.force_login(personas[name])
    assert client.get(reverse(route), {"du": "2025-01-01", "au": "2025-12-31"}).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("statistics:index"))
    assert response.status_code == 302
    assert "/connexion/" in response["Location"]


def test_only_get_is_allowed(client, dpo):
    client.force_login(dpo)
    assert client.post(reverse("statistics:index")).status_code == 405


def test_the_default_period_is_the_current_year_to_date(client, dpo):
    client.force_login(dpo)
    today = timezone.localdate()
    page = client.get(reverse("statistics:index"))
    assert page.status_code == 200
    assert f'value="{today.year}-01-01"' in page.content.decode()
    assert f'value="{today.isoformat()}"' in page.content.decode()


def _today_plus(days: int) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("du", "au", "error"),
    [
        ("2025-02-31", "2025-12-31", "Saisissez une date valide"),
        ("n'importe quoi", "2025-12-31", "Saisissez une date valide"),
        ("99999-01-01", "2025-12-31", "Saisissez une date valide"),
        ("", "2025-12-31", "Ce champ est obligatoire"),
        ("2025-12-31", "2025-01-01", "La date de début suit la date de fin"),
        ("2020-01-01", "2025-12-31", "trois ans au plus"),
        ("1999-12-31", "2000-01-31", "Choisissez une date à partir du"),
        ("2025-01-01", "tomorrow", "Saisissez une date valide"),
    ],
)
def test_a_bad_period_is_a_french_error_not_a_server_error(client, dpo, du, au, error):
    client.force_login(dpo)
    for route in ("statistics:index", "statistics:csv"):
        response = client.get(reverse(route), {"du": du, "au": au})
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        assert error in response.content.decode(), response.content.decode()
        assert "<svg" not in response.content.decode()


def test_the_end_of_the_period_cannot_be_in_the_future(client, dpo):
    client.force_login(dpo)
    response = client.get(
        reverse("statistics:index"), {"du": _today_plus(-3), "au": _today_plus(1)}
    )
    assert response.status_code == 400
    assert "pas dans le futur" in response.content.decode()


def test_the_longest_period_allowed(client, dpo):
    client.force_login(dpo)
    end = date(2025, 12, 31)
    longest = end - timedelta(days=MAX_SPAN_DAYS - 1)
    ok = client.get(reverse("statistics:index"), {"du": longest.isoformat(), "au": "2025-12-31"})
    assert ok.status_code == 200
    too_long = (longest - timedelta(days=1)).isoformat()
    refused = client.get(reverse("statistics:index"), {"du": too_long, "au": "2025-12-31"})
    assert refused.status_code == 400


# ---------------------------------------------------------------------------
# The charts


def test_the_charts_are_accessible_svg_without_style_or_script_and_hide_small_bars(seeded):
    stats = statistics.compute(YEAR)
    svg = str(bar_chart(stats.by_kind, chart_id="chart-kind"))

    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert 'role="img"' in svg
    assert 'aria-labelledby="chart-kind-title"' in svg
    assert '<title id="chart-kind-title">' in svg
    assert "style=" not in svg
    assert "<script" not in svg
    assert "<style" not in svg
    # A bar for each shown non-zero count only: police (12). The masked and
    # the "< 5" cells have none (a length would tell the number).
    assert svg.count("<rect") == 1
    assert ">&lt; 5</text>" in svg
    assert f">{MASKED}</text>" in svg
    # Neither hidden number appears as a label.
    values = re.findall(r'class="chart-value[^"]*"[^>]*>([^<]*)<', svg)
    assert "7" not in values
    assert "3" not in values
    assert values.count("0") == 18


def test_the_page_shows_each_chart_with_its_table(client, seeded, dpo):
    client.force_login(dpo)
    text = client.get(
        reverse("statistics:index"), {"du": "2025-01-01", "au": "2025-12-31"}
    ).content.decode()
    assert text.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"') == 3
    assert text.count('<table class="list stats-table">') == 6
    assert "style=" not in text
    assert 'href="/static/css/statistics.css"' in text


# ---------------------------------------------------------------------------
# CSV and PDF


def test_the_csv_export(client, seeded, president):
    client.force_login(president)
    response = client.get(reverse("statistics:csv"), {"du": "2025-01-01", "au": "2025-12-31"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Tableau", "Catégorie", "Code", "Chiffre"]
    figures = {(row[0], row[1]): row[3] for row in rows[1:]}
    kinds = "Demandes par type de demandeur"
    assert figures[(kinds, "Police")] == "12"
    assert figures[(kinds, "Juge d'instruction")] == MASKED
    assert figures[(kinds, "Toutes les demandes")] == "22"
    assert figures[("Demandes par issue", "Communiqué en partie")] == SMALL_LABEL
    assert figures[("Demandes par issue", "Irrecevable")] == SMALL_LABEL
    assert figures[("Délai de réponse (jours calendrier)", "Médiane")] == "12,5"
    assert figures[("Délai de réponse (jours calendrier)", "90e percentile")] == "32,5"
    retained = [
        row for row in rows if row[0] == "Bases légales retenues dans les réponses envoyées"
    ]
    assert [(row[2], row[3]) for row in retained] == EXPECTED_RETAINED
    body = response.content.decode("utf-8-sig")
    assert CANARY_NAME not in body
    assert "CANARYINFO" not in body


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.real_letters
def test_the_annual_report_pdf(client, seeded, dg, tmp_path):
    client.force_login(dg)
    response = client.get(reverse("statistics:annual_report"), {"annee": "2025"})
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/pdf"
    pdf = response.content
    (tmp_path / "report.pdf").write_bytes(pdf)
    Path("/tmp/h3_report.pdf").write_bytes(pdf)  # to look at
    text = _pdf_text(pdf)
    assert "2025" in text
    assert "< 5" in text
    assert MASKED in text
    assert "Toutes les demandes" in text
    assert "22" in text
    assert CANARY_NAME not in text
    assert "CANARYINFO" not in text
    metadata = PdfReader(io.BytesIO(pdf)).metadata
    assert metadata is not None
    assert metadata.title == "Rapport annuel 2025"
    assert CANARY_NAME not in str(dict(metadata))


@pytest.mark.parametrize("year", ["1999", "abc", "", str(timezone.localdate().year + 1)])
def test_a_bad_year_for_the_report_is_a_french_error(client, dpo, year):
    client.force_login(dpo)
    response = client.get(reverse("statistics:annual_report"), {"annee": year})
    assert response.status_code == 400
    assert "Choisissez une des années proposées" in response.content.decode()
