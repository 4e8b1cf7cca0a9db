"""Dates as the letters write them."""

from __future__ import annotations

from datetime import date

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

MONTHS = (
    _("January"),
    _("February"),
    _("March"),
    _("April"),
    _("May"),
    _("June"),
    _("July"),
    _("August"),
    _("September"),
    _("October"),
    _("November"),
    _("December"),
)


def french_date(day: date) -> str:
    """The letters' long date, in the active language: in French, "3 novembre
    2026" and "1er mai 2026"."""
    values = {"day": day.day, "month": MONTHS[day.month - 1], "year": day.year}
    if day.day == 1:
        # French writes the first of the month as an ordinal ("1er").
        return gettext("1st %(month)s %(year)s") % values
    return gettext("%(day)s %(month)s %(year)s") % values
