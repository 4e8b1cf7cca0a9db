"""Due dates in Belgian working days.

Non-working days are Saturdays, Sundays, the Belgian public holidays of the
`holidays` library, and the days the administrator lists in PublicHoliday
(local holidays, closures).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from functools import lru_cache

import holidays

from .models import DefaultDeadline, PublicHoliday

# When an administrator has set no default for a requester kind.
FALLBACK_WORKING_DAYS = 15


@lru_cache(maxsize=32)
def _national_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("BE", years=year))


def non_working_days(start: date, end: date) -> set[date]:
    days = {
        d
        for year in range(start.year, end.year + 1)
        for d in _national_holidays(year)
        if start <= d <= end
    }
    days |= set(
        PublicHoliday.objects.filter(day__gte=start, day__lte=end).values_list("day", flat=True)
    )
    return days


def is_working_day(day: date, closed: set[date]) -> bool:
    return day.weekday() < 5 and day not in closed


def add_working_days(start: date, count: int) -> date:
    """The `count`-th working day after `start` (start itself not counted)."""
    # Generous window: count working days never span more than twice as
    # many calendar days plus a fortnight of holidays.
    closed = non_working_days(start, start + timedelta(days=count * 2 + 21))
    day = start
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day, closed):
            remaining -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (negative if end < start)."""
    if end < start:
        return -working_days_between(end, start)
    closed = non_working_days(start, end)
    return sum(
        1
        for offset in range(1, (end - start).days + 1)
        if is_working_day(start + timedelta(days=offset), closed)
    )


def due_date(requester_kind: str, received_on: date, requester_deadline: date | None) -> date:
    """The requester's deadline if they set one, else the default for their kind."""
    if requester_deadline is not None:
        return requester_deadline
    default = (
        DefaultDeadline.objects.filter(requester_kind=requester_kind)
        .values_list("working_days", flat=True)
        .first()
    )
    return add_working_days(received_on, default or FALLBACK_WORKING_DAYS)


# --------------------------------------------------------------------------
# Access requests of the person concerned (the GDPR's deadline): calendar months,
# not working days.

# The answer is due one month after receipt ...
ACCESS_MONTHS = 1
# ... and the controller may extend that once, by two further months, with a reason.
ACCESS_EXTENSION_MONTHS = 2


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later, clamped to the month's
    end: 31 January + 1 month is 28 (or 29) February."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def access_due_date(received_on: date) -> date:
    """When the reply to an access request is due: one month after receipt."""
    return add_months(received_on, ACCESS_MONTHS)


def extended_access_due_date(received_on: date) -> date:
    """The due date once extended: two further months, counted from receipt
    (three months in all), so that a clamped first month does not shorten them."""
    return add_months(received_on, ACCESS_MONTHS + ACCESS_EXTENSION_MONTHS)
