"""The retention report for the DPO and the Director general: the schedule,
what is due for removal (references and dates), the legal holds and the past
runs; and the pages that place and lift a hold.

Others signed in get 403. The report shows no personal data: references,
outcomes and dates. The holds' reasons are shown to those who may hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import User
from audit.models import AuditEvent
from requests_app.errors import ActionRefused

from . import retention
from .access import may_hold, may_view_retention
from .models import LegalHold
from .retention_forms import LiftHoldForm, PlaceHoldForm

# The report lists this many due requests, oldest first, and counts them all.
DUE_SHOWN = 200
RUNS_SHOWN = 20
LIFTED_SHOWN = 20


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


@dataclass(frozen=True)
class RunRow:
    occurred_at: datetime
    by: str
    requests: int
    persons: int
    scans: int
    letters: int
    held: int


def _due(today: date) -> tuple[list[retention.Due], int]:
    due = retention.due_requests(today)
    return due[:DUE_SHOWN], len(due)


def _runs() -> list[RunRow]:
    events = (
        AuditEvent.objects.filter(action="retention_run")
        .select_related("actor")
        .order_by("-seq")[:RUNS_SHOWN]
    )
    rows = []
    for event in events:
        details: dict[str, Any] = event.details or {}
        actor = event.actor
        rows.append(
            RunRow(
                occurred_at=event.occurred_at,
                by=(actor.get_full_name() or actor.username) if actor else gettext("scheduled"),
                requests=int(details.get("requests", 0)),
                persons=int(details.get("persons", 0)),
                scans=int(details.get("scans", 0)),
                letters=int(details.get("letters", 0)),
                held=int(details.get("held", 0)),
            )
        )
    return rows


@login_required
@require_GET
def report(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not may_view_retention(user):
        raise PermissionDenied
    today = timezone.localdate()
    due, due_count = _due(today)
    holds = LegalHold.objects.select_related("request", "placed_by", "lifted_by")
    return render(
        request,
        "dpo/retention.html",
        {
            "schedule": retention.schedule(),
            "due": due,
            "due_count": due_count,
            "due_shown": DUE_SHOWN,
            "active_holds": list(holds.active().order_by("-placed_at")),
            "lifted_holds": list(
                holds.filter(lifted_at__isnull=False).order_by("-lifted_at")[:LIFTED_SHOWN]
            ),
            "runs": _runs(),
            "may_hold": may_hold(user),
            "today": today,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def place_hold(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not may_hold(user):
        raise PermissionDenied
    posted = request.method == "POST"
    form = PlaceHoldForm(request.POST if posted else None)
    status = 400 if posted else 200
    if posted and form.is_valid():
        disclosure_request = form.cleaned_data["reference"]
        try:
            retention.place_hold(
                disclosure_request, actor=user, reason=form.cleaned_data["reason"]
            )
        except ActionRefused as refusal:
            messages.error(request, refusal.message)
            status = refusal.http_status
        else:
            messages.success(
                request,
                gettext("Request %(reference)s is held: the retention schedule skips it.")
                % {"reference": disclosure_request.reference},
            )
            return redirect("retention:report")
    return render(request, "dpo/retention_hold.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def lift_hold(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    if not may_hold(user):
        raise PermissionDenied
    hold = get_object_or_404(LegalHold.objects.select_related("request", "placed_by"), pk=pk)
    posted = request.method == "POST"
    form = LiftHoldForm(request.POST if posted else None)
    status = 400 if posted else 200
    if hold.lifted_at is not None and not posted:
        messages.info(request, gettext("This hold has already been lifted."))
        return redirect("retention:report")
    if posted and form.is_valid():
        try:
            retention.lift_hold(hold, actor=user, reason=form.cleaned_data["reason"])
        except ActionRefused as refusal:
            messages.error(request, refusal.message)
            status = refusal.http_status
        else:
            messages.success(
                request,
                gettext("The hold on %(reference)s is lifted.")
                % {"reference": hold.request.reference},
            )
            return redirect("retention:report")
    return render(request, "dpo/retention_lift.html", {"form": form, "hold": hold}, status=status)
