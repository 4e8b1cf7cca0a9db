"""The period of the statistics, chosen in a GET form (dates are not personal
data), and the year of the annual report. Bad input is a French error on the
form, never a server error."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .statistics import Period

# A period spans three years at most: enough to compare years, and every
# figure stays one aggregate over at most some 40,000 requests.
MAX_SPAN_DAYS = 3 * 366
# Nothing was registered before the CPAS used the application; a year typed
# with a digit missing ("0202") is an error, not a query over centuries.
EARLIEST = date(2000, 1, 1)


def default_period(today: date | None = None) -> Period:
    """The current year up to today."""
    today = today or timezone.localdate()
    return Period(date(today.year, 1, 1), today)


class PeriodForm(forms.Form):
    du = forms.DateField(
        label=_("From"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
    )
    au = forms.DateField(
        label=_("To"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
    )

    def __init__(self, *args: Any, today: date | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()

    def _check_day(self, name: str) -> date | None:
        day: date | None = self.cleaned_data.get(name)
        if day is None:
            return None
        if day < EARLIEST:
            raise forms.ValidationError(
                gettext("Choose a date on or after %(day)s.")
                % {"day": date_format(EARLIEST, "SHORT_DATE_FORMAT")},
                code="too_early",
            )
        if day > self.today:
            raise forms.ValidationError(
                gettext("Choose a date that is not in the future."), code="future"
            )
        return day

    def clean_du(self) -> date | None:
        return self._check_day("du")

    def clean_au(self) -> date | None:
        return self._check_day("au")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("du"), data.get("au")
        if start and end:
            if start > end:
                raise forms.ValidationError(
                    gettext("The start date is after the end date."), code="order"
                )
            if (end - start).days + 1 > MAX_SPAN_DAYS:
                raise forms.ValidationError(
                    gettext("Choose a period of three years at most."), code="span"
                )
        return data

    @property
    def period(self) -> Period:
        return Period(self.cleaned_data["du"], self.cleaned_data["au"])


def earliest_year(first_received: date | None, today: date) -> int:
    if first_received is None:
        return today.year
    return max(first_received.year, EARLIEST.year)


class AnnualReportForm(forms.Form):
    annee = forms.TypedChoiceField(label=_("Year"), coerce=int, choices=())

    def __init__(
        self, *args: Any, first_year: int, today: date | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()
        years = range(self.today.year, min(first_year, self.today.year) - 1, -1)
        field = self.fields["annee"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(year, str(year)) for year in years]

    @property
    def period(self) -> Period:
        """The calendar year, up to today for the current one."""
        year: int = self.cleaned_data["annee"]
        end = min(date(year, 12, 31), self.today)
        return Period(date(year, 1, 1), end)
