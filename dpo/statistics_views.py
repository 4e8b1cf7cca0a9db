"""The statistics pages: the figures of a period, their CSV, the annual report.

For the Président, the DG and the DPO (`dpo.access.may_view_statistics`);
any other signed-in user gets 403. The period travels in the address (GET):
dates are not personal data, and the figures are aggregates protected from
small numbers (dpo/statistics.py). A bad period re-renders the page with a
French error and status 400, never a server error. Reading figures writes
nothing, and no audit event: they name no request and no person.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Min
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import formats, timezone
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from accounts.models import User
from letters import rendering
from letters.models import DEFAULT_NAME, Letterhead
from letters.rendering import ASSET_PREFIX, LetterFetcher, LetterRenderingError
from requests_app.models import DisclosureRequest

from . import access, charts
from .statistics import Period, Statistics, Table, compute
from .statistics_forms import AnnualReportForm, PeriodForm, default_period, earliest_year

REPORT_CSS_URL = f"{ASSET_PREFIX}statistics-report.css"
REPORT_CSS_PATH = Path(settings.BASE_DIR) / "static" / "css" / "statistics-report.css"

View = Callable[..., HttpResponse]


def statistics_reader(view: View) -> View:
    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not isinstance(user, User) or not access.may_view_statistics(user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return formats.number_format(round(value, 1), decimal_pos=1)


def _day(value: Any) -> str:
    return formats.date_format(value, "SHORT_DATE_FORMAT")


def _period_query(period: Period) -> str:
    return urlencode({"du": period.start.isoformat(), "au": period.end.isoformat()})


def _annual_form(data: Any = None) -> AnnualReportForm:
    today = timezone.localdate()
    first = DisclosureRequest.objects.aggregate(first=Min("received_on"))["first"]
    return AnnualReportForm(data, first_year=earliest_year(first, today), today=today)


def _chosen_period(request: HttpRequest) -> tuple[PeriodForm, Period | None]:
    """The form and the period it gives (None when the input is wrong)."""
    if "du" in request.GET or "au" in request.GET:
        form = PeriodForm(request.GET)
        return form, form.period if form.is_valid() else None
    period = default_period()
    initial = {"du": period.start, "au": period.end}
    return PeriodForm(initial=initial), period


def _context(stats: Statistics) -> dict[str, Any]:
    chart_tables = [stats.by_kind, stats.by_outcome, stats.timing.deadline]
    return {
        "stats": stats,
        "charts": {
            table.key: charts.bar_chart(
                table, chart_id=f"chart-{table.key}", skip_zeros=table is stats.by_kind
            )
            for table in chart_tables
            if not table.withheld and not stats.withheld
        },
        "median": _number(stats.timing.median),
        "p90": _number(stats.timing.p90),
        "period_start": _day(stats.period.start),
        "period_end": _day(stats.period.end),
    }


def _page(
    request: HttpRequest,
    form: PeriodForm,
    period: Period | None,
    *,
    report_form: AnnualReportForm | None = None,
    status: int = 200,
    report_failed: bool = False,
) -> HttpResponse:
    context: dict[str, Any] = {
        "form": form,
        "report_form": report_form or _annual_form(),
        "report_failed": report_failed,
    }
    if period is not None:
        context |= _context(compute(period))
        context["period_query"] = _period_query(period)
    return render(request, "dpo/statistics.html", context, status=status)


@require_GET
@statistics_reader
def index(request: HttpRequest) -> HttpResponse:
    form, period = _chosen_period(request)
    return _page(request, form, period, status=200 if period is not None else 400)


# ---------------------------------------------------------------------------
# CSV


def csv_rows(stats: Statistics) -> list[list[str]]:
    """The figures as the page shows them, one line each: table, category,
    catalogue code (bases only), figure. Hidden cells say "< 5" or "masked"."""
    rows: list[list[str]] = [
        [gettext("Table"), gettext("Category"), gettext("Code"), gettext("Figure")],
        [gettext("Period"), gettext("From"), "", _day(stats.period.start)],
        [gettext("Period"), gettext("To"), "", _day(stats.period.end)],
    ]
    if stats.withheld:
        rows.append([gettext("All requests"), "", "", stats.total.shown])
        rows.append([gettext("Note"), withheld_notice(), "", ""])
        return rows

    def table_rows(table: Table) -> None:
        if table.withheld:
            rows.append([table.title, table_withheld_notice(), "", ""])
        else:
            for cell in table.cells:
                code = cell.key if table.has_codes else ""
                rows.append([table.title, cell.label, code, cell.shown])
        if table.total is not None:
            rows.append([table.title, table.total.label, "", table.total.shown])

    table_rows(stats.by_kind)
    table_rows(stats.by_outcome)
    timing_title = gettext("Time to answer (calendar days)")
    rows.append([timing_title, stats.timing.answered.label, "", stats.timing.answered.shown])
    rows.append([timing_title, gettext("Median"), "", _number(stats.timing.median) or "—"])
    rows.append([timing_title, gettext("90th percentile"), "", _number(stats.timing.p90) or "—"])
    table_rows(stats.timing.deadline)
    rows.append([gettext("Overdue"), stats.overdue.label, "", stats.overdue.shown])
    for cell in stats.overrides:
        rows.append([gettext("Overrides"), cell.label, "", cell.shown])
    table_rows(stats.invoked)
    table_rows(stats.retained)
    return rows


def withheld_notice() -> str:
    return gettext(
        "Fewer than 5 requests in this period: no figure is published, so that no one "
        "can be recognised. Choose a longer period."
    )


def table_withheld_notice() -> str:
    return gettext(
        "Withheld: too few requests to publish this breakdown without anyone being recognisable."
    )


@require_GET
@statistics_reader
def export_csv(request: HttpRequest) -> HttpResponse:
    form, period = _chosen_period(request)
    if period is None:
        return _page(request, form, None, status=400)
    stats = compute(period)
    out = io.StringIO()
    # A BOM so that spreadsheet software reads UTF-8; ";" as Belgian
    # spreadsheets expect with the decimal comma.
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerows(csv_rows(stats))
    response = HttpResponse(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
    name = f"statistiques-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------------------
# The annual report (PDF)


def report_html(stats: Statistics, year: int) -> str:
    centre = (
        Letterhead.objects.filter(pk=Letterhead.SINGLETON_ID)
        .values_list("name", flat=True)
        .first()
    )
    context = _context(stats) | {
        "year": year,
        "centre": centre or DEFAULT_NAME,
        "printed_on": _day(timezone.localdate()),
    }
    return render_to_string("dpo/statistics_report.html", context)


def report_fetcher() -> LetterFetcher:
    """The locked fetcher, with the report's own style sheet besides the bundled assets."""
    return LetterFetcher({REPORT_CSS_URL: (REPORT_CSS_PATH.read_bytes(), "text/css")})


@require_GET
@statistics_reader
def annual_report(request: HttpRequest) -> HttpResponse:
    report_form = _annual_form(request.GET)
    if not report_form.is_valid():
        period = default_period()
        form = PeriodForm(initial={"du": period.start, "au": period.end})
        return _page(request, form, period, report_form=report_form, status=400)
    period = report_form.period
    year = period.start.year
    html = report_html(compute(period), year)
    # Generic metadata: the title names the report and its year, nothing else.
    title = gettext("Annual report %(year)s") % {"year": year}
    try:
        # Looked up at each call: the tests' stand-in replaces it on the module.
        pdf = rendering.render_html(html, reference=title, fetcher=report_fetcher())
    except LetterRenderingError:
        form = PeriodForm(initial={"du": period.start, "au": period.end})
        return _page(
            request, form, period, report_form=report_form, status=503, report_failed=True
        )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="rapport-annuel-{year}.pdf"'
    response["Cache-Control"] = "no-store"
    return response
