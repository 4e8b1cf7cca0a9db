"""The auditor's workspace: the audit trail, read-only.

Only users holding the auditor role get in; every other signed-in user gets
a 404, so nobody learns that the pages exist. Events carry ids and codes
only: a request is shown by its reference, an actor by their username, and
no request content is ever read here. The only POST is "Vérifier
maintenant", which runs the verification and records its outcome next to
the checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Min, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from . import log, objects, paging, vocabulary
from .models import AuditEvent

# The requests are the objects the workspace looks up by reference; the app
# that owns them registers how (audit.objects).
REQUEST_OBJECT = "disclosure_request"
AUDITOR_ROLE = "auditor"
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
EXPORT_FORMATS = {
    "jsonl": ("application/x-ndjson; charset=utf-8", "jsonl"),
    "csv": ("text/csv; charset=utf-8", "csv"),
}

View = Callable[..., HttpResponseBase]


def auditor_only(view: View) -> View:
    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # The user model's role check (accounts.User.has_role), reached through
        # the configured model so that the trail imports no other app.
        has_role = getattr(request.user, "has_role", None)
        if has_role is None or not has_role(AUDITOR_ROLE):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


class PeriodForm(forms.Form):
    du = forms.DateField(
        required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    au = forms.DateField(
        required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("du"), data.get("au")
        if start and end and start > end:
            raise forms.ValidationError(gettext("The start date is after the end date."))
        return data


class TimelineFilter(PeriodForm):
    acteur = forms.CharField(required=False, max_length=150, label=_("Actor (username)"))
    action = forms.CharField(required=False, max_length=64, label=_("Action"))
    reference = forms.CharField(required=False, max_length=32, label=_("Request reference"))

    field_order = ["acteur", "action", "reference", "du", "au"]


class UserActivityForm(PeriodForm):
    utilisateur = forms.CharField(max_length=150, label=_("User (username)"))

    field_order = ["utilisateur", "du", "au"]


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _in_period(events: QuerySet[AuditEvent], data: dict[str, Any]) -> QuerySet[AuditEvent]:
    if data.get("du"):
        events = events.filter(occurred_at__gte=_day_start(data["du"]))
    if data.get("au"):
        events = events.filter(occurred_at__lt=_day_start(data["au"] + timedelta(days=1)))
    return events


def _request_events(events: QuerySet[AuditEvent], reference: str) -> QuerySet[AuditEvent]:
    """Events about the request with this reference (by id; by reference if gone)."""
    pk = objects.id_for_reference(REQUEST_OBJECT, reference)
    if pk is not None:
        return events.filter(object_type=REQUEST_OBJECT, object_id=str(pk))
    return events.filter(object_type=REQUEST_OBJECT, details__reference=reference)


def _page(
    request: HttpRequest, events: QuerySet[AuditEvent], *, filtered: bool
) -> paging.EventPage:
    """The page the URL names: `avant`/`apres` hold the seq of the event the
    page continues from (older/newer); a bad one gives the first page."""
    size_text = request.GET.get("taille", "")
    size = int(size_text) if size_text.isascii() and size_text.isdigit() else DEFAULT_PAGE_SIZE
    if size not in PAGE_SIZES:
        size = DEFAULT_PAGE_SIZE
    older_than = paging.parse_cursor(request.GET.get("avant"))
    newer_than = None if older_than else paging.parse_cursor(request.GET.get("apres"))
    return paging.page(
        events, size=size, older_than=older_than, newer_than=newer_than, filtered=filtered
    )


def _rows(page: paging.EventPage) -> list[dict[str, Any]]:
    """What the tables show: ids and codes only, requests by reference."""
    events = page.events
    missing = {
        e.object_id
        for e in events
        if e.object_type == REQUEST_OBJECT
        and e.object_id.isdigit()
        and not (isinstance(e.details, dict) and e.details.get("reference"))
    }
    references = objects.references_for_ids(REQUEST_OBJECT, [int(pk) for pk in missing])
    rows = []
    for event in events:
        details = (
            event.details if isinstance(event.details, dict) else {gettext("value"): event.details}
        )
        reference = ""
        if event.object_type == REQUEST_OBJECT:
            reference = str(details.get("reference") or "") or references.get(
                int(event.object_id) if event.object_id.isdigit() else -1, ""
            )
        rows.append(
            {
                "seq": event.seq,
                "occurred_at": event.occurred_at,
                "actor": event.actor.username if event.actor else "",
                "action": event.action,
                "action_label": vocabulary.action_label(event.action),
                "object_type": event.object_type,
                "object_label": vocabulary.object_type_label(event.object_type),
                "object_id": event.object_id,
                "reference": reference,
                "from_state": vocabulary.state_label(event.from_state),
                "to_state": vocabulary.state_label(event.to_state),
                "details": vocabulary.detail_rows(
                    {k: v for k, v in sorted(details.items()) if k != "reference"}
                ),
            }
        )
    return rows


def _listing(
    request: HttpRequest, events: QuerySet[AuditEvent], *, filtered: bool = True
) -> dict[str, Any]:
    page = _page(request, events, filtered=filtered)
    return {
        "page": page,
        "rows": _rows(page),
        "page_size": page.size,
        "page_sizes": PAGE_SIZES,
        "count_cap": formats.number_format(paging.COUNT_CAP, force_grouping=True),
    }


def _action_choices(chosen: str) -> list[tuple[str, str]]:
    """Every action some app labelled (audit.vocabulary), by label.

    Not the actions recorded: finding those is a scan of the whole trail on
    every view. An action nobody labelled is a bug the page test catches
    (tests/browser/test_every_page.py); should one be in the trail anyway,
    its code typed in the URL still filters, and is offered as it is.
    """
    labels = {code: str(label) for code, label in vocabulary.action_codes().items()}
    if chosen and chosen not in labels:
        labels[chosen] = chosen
    return sorted(labels.items(), key=lambda a: (a[1].casefold(), a[0]))


@require_GET
@auditor_only
def timeline(request: HttpRequest) -> HttpResponse:
    # Only the filters' fields bind the form: the cursor and the page size
    # alone leave it unbound, i.e. the whole trail.
    filters = {k: v for k, v in request.GET.items() if k in TimelineFilter.base_fields and v}
    form = TimelineFilter(request.GET if filters else None)
    events = AuditEvent.objects.all()
    if form.is_valid():
        data = form.cleaned_data
        if data["acteur"]:
            # By id: the events' index starts with the actor.
            actor = (
                get_user_model()
                .objects.filter(username=data["acteur"])
                .values_list("pk", flat=True)
                .first()
            )
            events = events.filter(actor_id=actor) if actor is not None else events.none()
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["reference"]:
            events = _request_events(events, data["reference"])
        events = _in_period(events, data)
    elif form.is_bound:
        events = events.none()
    chosen = str(form["action"].value() or "")
    context = {
        "form": form,
        "actions": _action_choices(chosen),
        **_listing(request, events, filtered=form.is_bound),
    }
    return render(request, "audit/timeline.html", context)


@require_GET
@auditor_only
def request_trail(request: HttpRequest, reference: str) -> HttpResponse:
    events = _request_events(AuditEvent.objects.all(), reference)
    context = {"reference": reference, **_listing(request, events)}
    return render(request, "audit/request_trail.html", context)


@require_GET
@auditor_only
def request_access(request: HttpRequest, reference: str) -> HttpResponse:
    about = _request_events(AuditEvent.objects.all(), reference)
    reads = about.filter(action__startswith="read_")
    summary = (
        reads.values("actor__username")
        .annotate(count=Count("seq"), first=Min("occurred_at"), last=Max("occurred_at"))
        .order_by("actor__username")
    )
    refused = about.filter(action="refused", details__attempted__startswith="read_").count()
    context = {
        "reference": reference,
        "summary": list(summary),
        "refused": refused,
        **_listing(request, reads),
    }
    return render(request, "audit/request_access.html", context)


@require_GET
@auditor_only
def user_activity(request: HttpRequest) -> HttpResponse:
    form = UserActivityForm(request.GET or None)
    subject = None
    events = AuditEvent.objects.none()
    if form.is_valid():
        data = form.cleaned_data
        subject = (
            get_user_model()
            .objects.filter(username=data["utilisateur"])
            .only("pk", "username")
            .first()
        )
        if subject is not None:
            events = _in_period(AuditEvent.objects.filter(actor=subject), data)
    context = {"form": form, "subject": subject, **_listing(request, events)}
    return render(request, "audit/user_activity.html", context)


@require_http_methods(["GET", "POST"])
@auditor_only
def verification(request: HttpRequest) -> HttpResponse:
    directory = log.checkpoint_directory()
    if request.method == "POST":
        report = log.verify_database(
            checkpoint_dir=directory,
            workers=1,
            checkpoint_required_after=log.checkpoint_required_after(),
        )
        log.record_audit_verification(
            actor_id=request.user.pk,
            ok=report.ok,
            events=report.events,
            first_broken_seq=report.finding.seq if report.finding else None,
        )
        try:
            log.record_verification(
                report,
                by=gettext("%(username)s (Verify now)")
                % {"username": request.user.get_username()},
            )
        except OSError:
            messages.warning(request, gettext("The result could not be recorded."))
        if report.ok:
            messages.success(
                request,
                gettext("Verification passed: %(summary)s.")
                % {
                    "summary": gettext(
                        "%(events)s events and %(checkpoints)s signed checkpoints verified"
                    )
                    % {"events": report.events, "checkpoints": report.checkpoints}
                },
            )
        elif report.unanchored is not None and report.finding is None:
            messages.error(
                request,
                gettext(
                    "Verification failed: the chain holds %(events)s events and no checkpoint "
                    "signed by a trusted key was found. A chain this long cannot be trusted "
                    "against a rewrite by someone with database access."
                )
                % {"events": max(report.events, report.head_seq)},
            )
        else:
            messages.error(request, gettext("The verification found a problem: see below."))
        return redirect("audit:verification")
    checkpoints, problems = log.read_checkpoints(directory)
    latest = max(checkpoints, key=lambda c: (c.seq, c.created_at), default=None)
    head_seq, _ = log.current_head()
    context = {
        "status": log.last_verification(directory),
        "checkpoint_count": len(checkpoints),
        "latest": latest,
        "checkpoint_problems": problems,
        "head_seq": head_seq,
        "checkpoint_required_after": log.checkpoint_required_after(),
        "missing_checkpoint": not checkpoints and head_seq > log.checkpoint_required_after(),
    }
    return render(request, "audit/verification.html", context)


@require_GET
@auditor_only
def export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    if fmt not in EXPORT_FORMATS:
        raise Http404
    content_type, extension = EXPORT_FORMATS[fmt]
    upto = log.export_head()
    count = AuditEvent.objects.filter(seq__lte=upto).count()
    # Recorded before the download starts: a stream cannot be audited after.
    log.record_audit_export(actor_id=request.user.pk, fmt=fmt, events=count)
    response = StreamingHttpResponse(log.export_lines(fmt, upto), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="huisclos-audit-{upto}.{extension}"'
    return response
