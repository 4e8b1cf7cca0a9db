"""Keyset pages of the audit trail, most recent first.

At millions of events, numbered pages cost what the pages skip (OFFSET) and
an exact count of everything on every view. Here a page starts after a
cursor: the number (seq) of the last event shown, which is a code, not
personal data, and can go in the URL. The page reads `size + 1` events from
an index, whatever its depth.

The order is (occurred_at, seq), newest first. Events are appended under one
lock, each stamped when appended, so this is the chain's order; should a
server clock ever step back, a page still lists every event exactly once, in
the order of their dates. The order is the one the indexes of
audit.models.AuditEvent hold after each filter's equality (action, actor,
object): every filter, with or without a period, is one index range read.

Counts: the whole trail's is the number of its newest event (the chain is
numbered from 1 without gaps; the verification checks it). A filtered count
stops at COUNT_CAP: beyond it the page says "more than".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, Q, QuerySet

from .models import AuditEvent

COUNT_CAP = 10_000
# A cursor is a seq: a positive bigint. Anything else starts from the top.
MAX_SEQ = 2**63 - 1


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    size: int
    # Cursors of the neighbouring pages (None: there is none).
    newer: int | None
    older: int | None
    # True on the first (most recent) page.
    first: bool
    count: int
    # True when the filtered events are more than `count` (== COUNT_CAP).
    count_capped: bool


def parse_cursor(value: str | None) -> int | None:
    """A seq from the URL, or None for anything that is not one."""
    if not value or not value.isascii() or not value.isdigit():
        return None
    seq = int(value)
    return seq if 0 < seq <= MAX_SEQ else None


def _older(moment: datetime, seq: int, *, inclusive: bool = False) -> Q:
    """Events before (moment, seq) in the order, or at it when `inclusive`."""
    at = Q(occurred_at=moment, seq__lte=seq) if inclusive else Q(occurred_at=moment, seq__lt=seq)
    # The redundant bound on occurred_at alone is what the index range uses.
    return Q(occurred_at__lte=moment) & (Q(occurred_at__lt=moment) | at)


def _newer(moment: datetime, seq: int, *, inclusive: bool = False) -> Q:
    at = Q(occurred_at=moment, seq__gte=seq) if inclusive else Q(occurred_at=moment, seq__gt=seq)
    return Q(occurred_at__gte=moment) & (Q(occurred_at__gt=moment) | at)


def _count(events: QuerySet[AuditEvent], filtered: bool) -> tuple[int, bool]:
    if not filtered:
        newest = AuditEvent.objects.aggregate(newest=Max("seq"))["newest"]
        return newest or 0, False
    # COUNT(*) over at most COUNT_CAP + 1 rows of the filter's index.
    counted = events.order_by()[: COUNT_CAP + 1].count()
    if counted > COUNT_CAP:
        return COUNT_CAP, True
    return counted, False


def page(
    events: QuerySet[AuditEvent],
    *,
    size: int,
    older_than: int | None = None,
    newer_than: int | None = None,
    filtered: bool = True,
) -> EventPage:
    """The page of `events` after a cursor: older than `older_than` (next
    pages) or newer than `newer_than` (back); the most recent without one.
    `filtered=False` says `events` is the whole trail (its count is free).
    A cursor naming no event gives the most recent page."""
    cursor = older_than or newer_than
    moment = None
    if cursor is not None:
        moment = (
            AuditEvent.objects.filter(seq=cursor).values_list("occurred_at", flat=True).first()
        )
    ordered = events.select_related("actor")
    newest_first = ordered.order_by("-occurred_at", "-seq")
    shown: list[AuditEvent] = []
    newer = older = None
    first = False
    if moment is not None and cursor is not None and newer_than is not None:
        found = list(
            ordered.filter(_newer(moment, cursor)).order_by("occurred_at", "seq")[: size + 1]
        )
        shown = found[:size][::-1]
        newer = shown[0].seq if len(found) > size else None
        # The next page continues from the last event shown: whatever lies
        # at or before the cursor is after it.
        older = shown[-1].seq if shown else cursor
        if not events.filter(_older(moment, cursor, inclusive=True)).exists():
            older = None
        # Back at the top with a short page (the size changed, say): the
        # most recent page, full, instead.
        first = newer is None and len(shown) == size
        if newer is None and len(shown) < size:
            moment = None
    elif moment is not None and cursor is not None:
        found = list(newest_first.filter(_older(moment, cursor))[: size + 1])
        shown = found[:size]
        older = shown[-1].seq if len(found) > size else None
        # Whatever lies at or after the cursor is on the previous page, which
        # ends with the first event shown here.
        newer = shown[0].seq if shown else cursor
        if not events.filter(_newer(moment, cursor, inclusive=True)).exists():
            newer = None
    if moment is None:
        found = list(newest_first[: size + 1])
        shown = found[:size]
        older = shown[-1].seq if len(found) > size else None
        newer = None
        first = True
    count, capped = _count(events, filtered)
    return EventPage(
        events=shown,
        size=size,
        newer=newer,
        older=older,
        first=first,
        count=count,
        count_capped=capped,
    )
