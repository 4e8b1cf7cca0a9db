"""The DPO's pages: the register of disclosures about a person (search,
results, PDF and CSV exports) and the description of this processing for the
register of processing activities.

The search criteria (a national number, a name and a birth date) never travel
in a URL: the form is posted, the criteria are kept in the session under a
random key for SEARCH_SECONDS at most, and the results' address carries only
that key; the exports are posted with it. A signed-in user without the right
gets a 403.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from letters.rendering import LetterRenderingError
from requests_app import deadlines
from requests_app import services as procedure
from requests_app.forms import ExtendDeadlineForm
from requests_app.models import DisclosureRequest, RequestKind

from . import access, queries, services
from .audit_vocabulary import EXPORT_ACTION, SEARCH_ACTION
from .forms import DisclosureSearchForm, ExportForm

SEARCHES = "dpo_disclosure_searches"
SEARCHES_AT = "dpo_disclosure_searches_at"
SEARCHES_KEPT = 5
SEARCH_SECONDS = queries.SEARCH_SECONDS
# What the register's address may carry: the kept search's key, nothing else.
ADDRESS = {"search"}


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _searcher(request: HttpRequest, attempted: str) -> User:
    """The signed-in DPO; a 403 for anyone else (recorded when they posted)."""
    user = _user(request)
    if not access.may_search_disclosures(user):
        if request.method == "POST":
            services.record_refused(user, attempted)
        raise PermissionDenied
    return user


def _keep_search(request: HttpRequest, criteria: queries.PersonCriteria) -> str:
    now = timezone.now().timestamp()
    kept_at: dict[str, float] = request.session.get(SEARCHES_AT, {})
    searches = {
        key: kept
        for key, kept in request.session.get(SEARCHES, {}).items()
        if now - kept_at.get(key, 0) <= SEARCH_SECONDS
    }
    key = secrets.token_urlsafe(12)
    searches[key] = criteria.as_session()
    for old in list(searches)[:-SEARCHES_KEPT]:
        del searches[old]
    request.session[SEARCHES] = searches
    request.session[SEARCHES_AT] = {k: kept_at.get(k, now) for k in searches}
    return key


def _kept_search(request: HttpRequest, key: str | None) -> queries.PersonCriteria | None:
    """The criteria kept under `key`, unless missing or too old."""
    kept_at = request.session.get(SEARCHES_AT, {}).get(key, 0) if key else 0
    if not key or timezone.now().timestamp() - kept_at > SEARCH_SECONDS:
        return None
    return queries.PersonCriteria.from_session(request.session.get(SEARCHES, {}).get(key))


def _initial(criteria: queries.PersonCriteria) -> dict[str, Any]:
    return {
        "national_number": criteria.national_number,
        "last_name": criteria.last_name,
        "birth_date": criteria.birth_date,
    }


def _page(
    request: HttpRequest,
    form: DisclosureSearchForm,
    *,
    found: queries.DisclosureRegister | None = None,
    key: str = "",
    error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "dpo/register.html",
        {
            "form": form,
            "found": found,
            "search_key": key,
            "search_error": error,
            "secret_bases": queries.secret_bases(),
            "search_minutes": SEARCH_SECONDS // 60,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    user = _searcher(request, SEARCH_ACTION)
    if request.method == "POST":
        form = DisclosureSearchForm(request.POST)
        if form.is_valid():
            key = _keep_search(request, form.criteria())
            return redirect(f"{reverse('dpo:register')}?{urlencode({'search': key})}")
        return _page(request, form, status=400)
    if set(request.GET) - ADDRESS:
        # Criteria in the address: refused without running the search.
        return _page(request, DisclosureSearchForm(), error="criteria_in_url", status=400)
    key = request.GET.get("search", "")
    if not key:
        return _page(request, DisclosureSearchForm())
    criteria = _kept_search(request, key)
    if criteria is None:
        return _page(request, DisclosureSearchForm(), error="expired", status=400)
    found = services.search_disclosures(user, criteria)
    return _page(request, DisclosureSearchForm(initial=_initial(criteria)), found=found, key=key)


@login_required
@require_POST
def register_export(request: HttpRequest) -> HttpResponse:
    user = _searcher(request, EXPORT_ACTION)
    form = ExportForm(request.POST)
    criteria = _kept_search(request, form.data.get("search")) if form.is_valid() else None
    if criteria is None:
        return _page(request, DisclosureSearchForm(), error="expired", status=400)
    try:
        exported = services.export_disclosures(user, criteria, form.cleaned_data["format"])
    except LetterRenderingError:
        found = services.search_disclosures(user, criteria)
        return _page(
            request,
            DisclosureSearchForm(initial=_initial(criteria)),
            found=found,
            key=form.cleaned_data["search"],
            error="pdf_failed",
            status=503,
        )
    response = HttpResponse(exported.content, content_type=exported.content_type)
    response["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def processing_record(request: HttpRequest) -> HttpResponse:
    if not access.may_view_processing_record(_user(request)):
        raise PermissionDenied
    return render(request, "dpo/processing_record.html", {"record": queries.processing_record()})


def _follower(request: HttpRequest) -> User:
    user = _user(request)
    if not access.may_follow_access_requests(user):
        raise PermissionDenied
    return user


@login_required
@require_GET
def access_requests(request: HttpRequest) -> HttpResponse:
    """The persons' own access requests still open, with their GDPR deadlines."""
    user = _follower(request)
    return render(
        request, "dpo/access_requests.html", {"rows": queries.open_access_requests(user)}
    )


@login_required
@require_http_methods(["GET", "POST"])
def extend_access(request: HttpRequest, pk: int) -> HttpResponse:
    """The DPO extends an access request's deadline by two months, once, with a
    reason (`services.extend_access_deadline` checks and records it)."""
    user = _follower(request)
    disclosure_request = get_object_or_404(
        DisclosureRequest, pk=pk, kind=RequestKind.SUBJECT_ACCESS
    )
    posted = request.method == "POST"
    form = ExtendDeadlineForm(request.POST if posted else None)
    status = 400 if posted else 200
    refusal = ""
    if posted and form.is_valid():
        try:
            procedure.extend_access_deadline(
                disclosure_request, actor=user, reason=form.cleaned_data["reason"]
            )
        except procedure.ActionRefused as refused:
            refusal, status = refused.message, refused.http_status
        else:
            disclosure_request.refresh_from_db(fields=["due_on"])
            messages.success(
                request,
                gettext("The deadline of request %(reference)s now falls on %(date)s.")
                % {
                    "reference": disclosure_request.reference,
                    "date": date_format(disclosure_request.due_on or "", "d/m/Y"),
                },
            )
            return redirect("dpo:access_requests")
    return render(
        request,
        "dpo/access_extend.html",
        {
            "dr": disclosure_request,
            "form": form,
            "refusal": refusal,
            "extended_due_on": deadlines.extended_access_due_date(disclosure_request.received_on),
        },
        status=status,
    )
