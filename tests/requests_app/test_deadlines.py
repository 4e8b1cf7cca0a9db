"""Working-day deadline arithmetic against a table (T-WF-3)."""

from __future__ import annotations

from datetime import date

import pytest

from requests_app.deadlines import add_working_days, due_date, working_days_between
from requests_app.models import DefaultDeadline, PublicHoliday


@pytest.mark.parametrize(
    ("start", "count", "expected", "why"),
    [
        (date(2026, 11, 16), 1, date(2026, 11, 17), "plain weekday"),
        (date(2026, 11, 6), 1, date(2026, 11, 9), "Friday to Monday over a weekend"),
        (date(2026, 11, 7), 1, date(2026, 11, 9), "from a Saturday"),
        (date(2026, 11, 10), 1, date(2026, 11, 12), "11 November (Armistice) skipped"),
        (date(2026, 11, 10), 3, date(2026, 11, 16), "holiday then weekend"),
        (date(2026, 12, 24), 1, date(2026, 12, 28), "Christmas on a Friday"),
        (date(2026, 4, 3), 1, date(2026, 4, 7), "Easter Monday"),
        (date(2026, 5, 13), 1, date(2026, 5, 15), "Ascension Thursday"),
        (date(2026, 5, 22), 1, date(2026, 5, 26), "Whit Monday"),
        (date(2026, 7, 20), 1, date(2026, 7, 22), "21 July national day"),
        (date(2026, 12, 31), 1, date(2027, 1, 4), "New Year's Day, then a weekend"),
        (date(2026, 10, 28), 10, date(2026, 11, 12), "ten days across 11 November"),
        (date(2026, 11, 16), 0, date(2026, 11, 16), "zero days"),
    ],
)
def test_add_working_days(db, start, count, expected, why):
    assert add_working_days(start, count) == expected, why


def test_administrator_closure_day_is_skipped(db):
    PublicHoliday.objects.create(day=date(2026, 11, 12), name="Fermeture du CPAS")

    assert add_working_days(date(2026, 11, 10), 1) == date(2026, 11, 13)


def test_default_deadline_never_lands_on_a_holiday(db):
    DefaultDeadline.objects.create(requester_kind="police", working_days=2)

    # 9 Nov + 2 working days would be 11 Nov, a public holiday.
    assert due_date("police", date(2026, 11, 9), None) == date(2026, 11, 12)


def test_requester_deadline_wins_even_on_a_holiday(db):
    assert due_date("police", date(2026, 11, 2), date(2026, 11, 11)) == date(2026, 11, 11)


def test_fallback_when_no_default_is_set(db):
    assert due_date("landlord", date(2026, 11, 2), None) == add_working_days(date(2026, 11, 2), 15)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 11, 9), date(2026, 11, 13), 3),  # Tue, Thu, Fri (11th is a holiday)
        (date(2026, 11, 13), date(2026, 11, 9), -3),
        (date(2026, 11, 9), date(2026, 11, 9), 0),
    ],
)
def test_working_days_between(db, start, end, expected):
    assert working_days_between(start, end) == expected


def test_intake_sets_the_due_date(flow):
    DefaultDeadline.objects.create(requester_kind="investigating_judge", working_days=5)

    dr = flow.received(received_on=date(2026, 11, 6))

    assert dr.due_on == date(2026, 11, 16)
