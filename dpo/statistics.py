"""The figures for the Council and the DPO: requests of a period, counted.

Every figure is computed by the database (GROUP BY, COUNT, percentiles): a
handful of queries whatever the number of requests in the period, and no
loop in Python over its requests. A request belongs to the period when it
was received in it (`received_on`, both ends included). Only requests to lift
the secret count: a person's own access request (GDPR art. 15) is not one.

- By requester kind: every kind of the vocabulary, zeros included.
- By outcome: `requests_app.queries.Outcome` as `with_outcome` computes it
  ("open": not answered yet, whatever is decided).
- Bases invoked: the catalogue codes the referents' opinions relied on
  (every opinion of the request, returned ones included); bases retained:
  the codes of the current answer (not superseded, not the
  acknowledgement) of the requests answered (reply dispatched). Versions of
  a rule share its code; each code is labelled with the title of its current
  catalogue version. A request counts once per code; one may cite several
  codes, so these tables have no total.
- Time to answer: calendar days from reception to the reply's dispatch, of
  the requests answered (dispatched or closed): median and 90th percentile
  (linear interpolation, as PostgreSQL's percentile_cont), and how many were
  answered on or before their due date, after it, or had none.
- Overdue at the end of the period: requests received on or before the last
  day that were, on that day, open and past their due date (as
  `requests_app.queries.overdue` says of today). A request counts when it is
  open now, or was answered, or withdrawn, after that day; annulled
  registrations were never requests and never count. This is the backlog on
  that day, whatever the day of reception.
- Overrides: opinions and reviews of the period's requests that go against a
  blocking flag or an unmet condition (a non-empty `override_reason`).

Protection of small numbers (`SMALL`): nobody may be recognised in these
figures, which go to the Council and into a PDF that leaves the office.

1. Primary suppression: a count from 1 to 4 is shown as "< 5", on the page,
   in the charts' labels (and no bar is drawn for it: its length would tell
   the number), in the CSV and in the PDF. A zero is shown as 0: it
   describes no one, and hiding it would only make the other hidden cells
   easier to bound.
2. Complementary suppression: in a table whose cells add up to a total the
   reader knows (the period's total, which the page shows, or the number of
   requests answered, which the outcome table gives when its cells are
   shown), one hidden cell could be recomputed as the total minus the cells
   shown. So further cells, smallest first, are masked ("masked", never
   "< 5": they are 5 or more), until no hidden cell has a single possible
   value: each hidden "< 5" lies in 1..4, each masked cell is 5 or more, and
   together they make the total minus the cells shown (`_recomputable`).
   The totals themselves always stay: they are what the Council asks first.
3. When even that cannot protect a table (all its non-zero cells hidden and
   still recomputable, e.g. 1 and 5 out of 6), the table is withheld whole:
   no cell, no chart. And a period of 1 to 4 requests publishes no figure at
   all: its total is itself a small number.
4. The median and the 90th percentile are shown only for 5 answers or more.
   The tables of bases have no total: only primary suppression applies.
"""

from __future__ import annotations

import statistics as pystats
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
)
from django.utils import timezone
from django.utils.translation import gettext

from legal_basis.models import LegalBasis, RequesterKind
from requests_app.models import (
    OPEN_STATES,
    DisclosureRequest,
    Opinion,
    Reply,
    ReplyKind,
    RequestKind,
    Review,
    State,
)
from requests_app.queries import ANSWERED_STATES, Outcome, with_outcome

# Counts below this are never shown as they are.
SMALL = 5
SMALL_LABEL = "< 5"


def masked_label() -> str:
    return gettext("masked")


# ---------------------------------------------------------------------------
# Protection of small numbers


@dataclass(frozen=True)
class Cell:
    """One figure of a table: its key and label, the count, and how it may be shown."""

    key: str
    label: str
    count: int  # the true count: never print it when `hidden`
    # "" shown as it is, "small" (1 to 4, "< 5"), "masked" (complementary)
    protection: str = ""

    @property
    def hidden(self) -> bool:
        return bool(self.protection)

    @property
    def shown(self) -> str:
        """What may be printed: the number, "< 5" or "masked"."""
        if self.protection == "small":
            return SMALL_LABEL
        if self.protection == "masked":
            return masked_label()
        return str(self.count)


def protect_count(count: int) -> str:
    """Primary suppression of a lone count: "" (shown) or "small"."""
    return "small" if 0 < count < SMALL else ""


def _recomputable(hidden_sum: int, small: int, masked: int) -> bool:
    """Whether a reader who knows the total could find a hidden cell's value.

    `small` cells lie in 1..4, `masked` ones are 5 or more, and together they
    make `hidden_sum`. With a masked cell (no upper bound) a value is fixed
    only when every cell sits at its lower bound; with "< 5" cells only, when
    there is one, or all are 1, or all are 4.
    """
    if small == 0 and masked == 0:
        return False
    if masked:
        return hidden_sum <= small + SMALL * masked
    return small == 1 or hidden_sum in (small, (SMALL - 1) * small)


def protect_partition(counts: Sequence[int]) -> tuple[list[str], bool]:
    """The protection of each count of a table whose total is known, and
    whether the table can be published at all (see the module's docstring).
    """
    protection = [protect_count(c) for c in counts]
    small = protection.count("small")
    if not small:
        return protection, True
    hidden_sum = sum(c for c, p in zip(counts, protection, strict=True) if p)
    masked = 0
    while _recomputable(hidden_sum, small, masked):
        candidates = [(c, i) for i, c in enumerate(counts) if c >= SMALL and not protection[i]]
        if not candidates:
            return protection, False
        count, index = min(candidates)
        protection[index] = "masked"
        hidden_sum += count
        masked += 1
    return protection, True


@dataclass(frozen=True)
class Table:
    """A table of figures: its cells, and its total when its cells add up to one."""

    key: str
    title: str
    heading: str  # the column heading of the categories
    cells: list[Cell]
    total: Cell | None = None
    # Withheld whole: no cell may be shown (protection could not hold).
    withheld: bool = False
    has_codes: bool = False  # the categories are catalogue codes (bases)

    @property
    def any_hidden(self) -> bool:
        return any(c.hidden for c in self.cells)


def partition_table(
    key: str,
    title: str,
    heading: str,
    rows: Iterable[tuple[str, str, int]],
    total_label: str,
) -> Table:
    """A table whose cells add up to its total, protected as a whole."""
    rows = list(rows)
    counts = [n for _key, _label, n in rows]
    protection, publishable = protect_partition(counts)
    cells = [Cell(k, label, n, p) for (k, label, n), p in zip(rows, protection, strict=True)]
    total = sum(counts)
    return Table(
        key=key,
        title=title,
        heading=heading,
        cells=cells,
        total=Cell("total", total_label, total, protect_count(total)),
        withheld=not publishable,
    )


def list_table(key: str, title: str, heading: str, rows: Iterable[tuple[str, str, int]]) -> Table:
    """A table without a total (a request may count in several rows)."""
    cells = [Cell(k, label, n, protect_count(n)) for k, label, n in rows]
    return Table(key=key, title=title, heading=heading, cells=cells, has_codes=True)


# ---------------------------------------------------------------------------
# SQL helpers


class PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must lie between 0 and 1")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


class DaysBetween(Func):
    """`later - earlier` for two date columns, in whole days (an integer)."""

    arg_joiner = " - "
    template = "(%(expressions)s)"
    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra,
        )


# ---------------------------------------------------------------------------
# The figures


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Timing:
    """Time to answer, in calendar days, of the requests answered."""

    answered: Cell
    median: float | None  # None when fewer than SMALL answers
    p90: float | None
    deadline: Table


@dataclass
class Statistics:
    period: Period
    computed_at: datetime
    total: Cell
    by_kind: Table
    by_outcome: Table
    invoked: Table
    retained: Table
    timing: Timing
    overdue: Cell
    overrides: list[Cell]
    # No figure at all (a period of 1 to 4 requests).
    withheld: bool = False


def lift_requests() -> QuerySet[DisclosureRequest]:
    """The requests to lift the secret: a person's own access request (GDPR
    art. 15) follows another path, with other outcomes, and is not counted."""
    return DisclosureRequest.objects.filter(kind=RequestKind.LIFT_SECRECY).order_by()


def period_requests(period: Period) -> QuerySet[DisclosureRequest]:
    return lift_requests().filter(received_on__gte=period.start, received_on__lte=period.end)


def _counts(queryset: QuerySet[Any], column: str) -> dict[str, int]:
    grouped = queryset.values(column).annotate(n=Count("pk"))
    return {row[column]: row["n"] for row in grouped}


def catalogue_titles() -> dict[str, str]:
    """Each code's title in its current catalogue version (the latest period's,
    then the highest version); a code with no current version keeps its last
    title. The catalogue holds hundreds of rows, not more."""
    titles: dict[str, tuple[tuple[bool, date, int], str]] = {}
    rows = LegalBasis.objects.values_list(
        "code", "is_current", "in_force_from", "version", "title_fr"
    )
    for code, is_current, in_force_from, version, title in rows:
        rank = (is_current, in_force_from or date.min, version)
        if code not in titles or rank > titles[code][0]:
            titles[code] = (rank, title)
    return {code: title for code, (_rank, title) in titles.items()}


def _basis_rows(counts: dict[str, int]) -> list[tuple[str, str, int]]:
    titles = catalogue_titles()
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [(code, titles.get(code, code), n) for code, n in ordered]


def invoked_bases(period: Period) -> dict[str, int]:
    """Per catalogue code, how many of the period's requests had an opinion relying on it."""
    through = Opinion.legal_bases.through.objects.filter(
        opinion__request__received_on__gte=period.start,
        opinion__request__received_on__lte=period.end,
        opinion__request__kind=RequestKind.LIFT_SECRECY,
    )
    grouped = (
        through.order_by()
        .values("legalbasis__code")
        .annotate(n=Count("opinion__request", distinct=True))
    )
    return {row["legalbasis__code"]: row["n"] for row in grouped}


def retained_bases(period: Period) -> dict[str, int]:
    """Per catalogue code, how many of the period's answered requests rest on it
    in their current answer."""
    through = Reply.legal_bases.through.objects.filter(
        reply__request__received_on__gte=period.start,
        reply__request__received_on__lte=period.end,
        reply__request__state__in=ANSWERED_STATES,
        reply__request__kind=RequestKind.LIFT_SECRECY,
        reply__superseded_at__isnull=True,
    ).exclude(reply__kind=ReplyKind.ACKNOWLEDGEMENT)
    grouped = (
        through.order_by()
        .values("legalbasis__code")
        .annotate(n=Count("reply__request", distinct=True))
    )
    return {row["legalbasis__code"]: row["n"] for row in grouped}


def _percentiles(answered: QuerySet[DisclosureRequest], count: int) -> tuple[float | None, ...]:
    if count < SMALL:
        return None, None
    days = DaysBetween(F("dispatched_on"), F("received_on"))
    if connection.vendor == "postgresql":
        found = answered.aggregate(median=PercentileCont(days, 0.5), p90=PercentileCont(days, 0.9))
        return found["median"], found["p90"]
    # Another database (the SQLite demo): the days only, a small list there.
    values = sorted(answered.annotate(days=days).values_list("days", flat=True))
    quantiles = pystats.quantiles(values, n=10, method="inclusive")
    return float(pystats.median(values)), quantiles[8]


def timing(period: Period) -> Timing:
    answered = period_requests(period).filter(
        state__in=ANSWERED_STATES, dispatched_on__isnull=False
    )
    found = answered.aggregate(
        n=Count("pk"),
        on_time=Count("pk", filter=Q(dispatched_on__lte=F("due_on"))),
        late=Count("pk", filter=Q(dispatched_on__gt=F("due_on"))),
        no_due=Count("pk", filter=Q(due_on__isnull=True)),
    )
    median, p90 = _percentiles(answered, found["n"])
    deadline = partition_table(
        "deadline",
        gettext("Answered against the deadline"),
        gettext("Answer"),
        [
            ("on_time", gettext("On or before the due date"), found["on_time"]),
            ("late", gettext("After the due date"), found["late"]),
            ("no_due_date", gettext("No due date"), found["no_due"]),
        ],
        gettext("Requests answered"),
    )
    return Timing(
        answered=Cell(
            "answered", gettext("Requests answered"), found["n"], protect_count(found["n"])
        ),
        median=median,
        p90=p90,
        deadline=deadline,
    )


def overdue_at(day: date) -> int:
    """Requests open and past their due date on `day` (see the module's docstring)."""
    open_on_day = (
        Q(state__in=[s.value for s in OPEN_STATES])
        | Q(state__in=ANSWERED_STATES, dispatched_on__gt=day)
        | Q(state=State.WITHDRAWN, closed_at__date__gt=day)
    )
    return lift_requests().filter(open_on_day, received_on__lte=day, due_on__lt=day).count()


def overrides(period: Period) -> list[Cell]:
    requests = period_requests(period)
    opinion_overrides = Opinion.objects.filter(request__in=requests).exclude(override_reason="")
    review_overrides = Review.objects.filter(request__in=requests).exclude(override_reason="")
    by_request = requests.filter(
        Q(pk__in=opinion_overrides.values("request"))
        | Q(pk__in=review_overrides.values("request"))
    ).count()
    rows = [
        ("requests", gettext("Requests with an override"), by_request),
        ("opinions", gettext("Opinions with an override (referent)"), opinion_overrides.count()),
        (
            "reviews",
            gettext("Reviews with an override (Director general)"),
            review_overrides.count(),
        ),
    ]
    return [Cell(k, label, n, protect_count(n)) for k, label, n in rows]


OUTCOME_ORDER = [
    Outcome.DISCLOSED,
    Outcome.DISCLOSED_IN_PART,
    Outcome.REFUSED,
    Outcome.INADMISSIBLE,
    Outcome.ORAL,
    Outcome.WITHDRAWN,
    Outcome.ANNULLED,
    Outcome.OPEN,
]


def compute(period: Period, *, now: datetime | None = None) -> Statistics:
    """Every figure of the period, protected (see the module's docstring)."""
    requests = period_requests(period)
    kinds = _counts(requests, "requester_kind")
    outcomes = _counts(with_outcome(requests), "outcome")
    total = sum(kinds.values())
    total_label = gettext("All requests")
    by_kind = partition_table(
        "requester_kind",
        gettext("Requests by requester kind"),
        gettext("Requester kind"),
        [(value, str(label), kinds.get(value, 0)) for value, label in RequesterKind.choices],
        total_label,
    )
    by_outcome = partition_table(
        "outcome",
        gettext("Requests by outcome"),
        gettext("Outcome"),
        [(o.value, str(o.label), outcomes.get(o.value, 0)) for o in OUTCOME_ORDER],
        total_label,
    )
    invoked = list_table(
        "invoked",
        gettext("Legal bases invoked in the opinions"),
        gettext("Legal basis"),
        _basis_rows(invoked_bases(period)),
    )
    retained = list_table(
        "retained",
        gettext("Legal bases retained in the replies sent"),
        gettext("Legal basis"),
        _basis_rows(retained_bases(period)),
    )
    overdue = overdue_at(period.end)
    return Statistics(
        period=period,
        computed_at=now or timezone.now(),
        total=Cell("total", total_label, total, protect_count(total)),
        by_kind=by_kind,
        by_outcome=by_outcome,
        invoked=invoked,
        retained=retained,
        timing=timing(period),
        overdue=Cell(
            "overdue", gettext("Open and overdue on the last day"), overdue, protect_count(overdue)
        ),
        overrides=overrides(period),
        withheld=0 < total < SMALL,
    )
