"""Web pages: load, check access, call a service, redirect with a message."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services as accounts_services
from accounts import throttling
from accounts.models import Role, User
from legal_basis.flags import matching_bases
from legal_basis.models import LegalBasis, SupportingDocument, VerificationTag
from letters import services as letters

from . import access, queries, services
from .forms import (
    AmendedItemFormSet,
    AssignForm,
    ChecklistForm,
    DispatchForm,
    IntakeForm,
    ItemFormSet,
    OpinionForm,
    PersonFormSet,
    RegisterSearchForm,
    ReviewForm,
    SignForm,
    intake_data,
    is_contested,
    opinion_catalogue,
)
from .inputs import ItemData
from .models import (
    DisclosureRequest,
    Opinion,
    Proposal,
    Reply,
    State,
)
from .permissions import (
    can_see_content,
    get_request_for_user,
    is_staff_member,
    searches_content,
    sees_everything,
)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def step_view(
    action: str, steps: set[str], *, content: bool = True
) -> Callable[
    [Callable[[HttpRequest, DisclosureRequest], HttpResponse]],
    Callable[[HttpRequest, int], HttpResponse],
]:
    """A step's page: a replayed form goes where the first one led; the request
    is loaded for the step (404 hidden, 403 page if the step is not the user's
    now) before the view sees it.
    """

    def decorate(
        view: Callable[[HttpRequest, DisclosureRequest], HttpResponse],
    ) -> Callable[[HttpRequest, int], HttpResponse]:
        @wraps(view)
        def load_then_view(request: HttpRequest, pk: int) -> HttpResponse:
            if (replayed := _replayed(request)) is not None:
                return replayed
            try:
                disclosure_request = _step(request, pk, action, steps, content=content)
            except access.StepNotAvailable as refusal:
                return _forbidden(request, refusal.disclosure_request)
            return view(request, disclosure_request)

        return load_then_view

    return decorate


def _step(
    request: HttpRequest, pk: int, action: str, steps: set[str], *, content: bool = True
) -> DisclosureRequest:
    # Opening a step page is not an attempt; a POST is.
    return access.load_step_for(
        _user(request),
        pk,
        action,
        steps,
        content=content,
        record_refusal=request.method == "POST",
    )


def _load(request: HttpRequest, pk: int, what: str) -> DisclosureRequest:
    return access.load_for(_user(request), pk, what)


def _load_content(request: HttpRequest, pk: int, what: str) -> DisclosureRequest:
    return access.load_content_for(_user(request), pk, what)


SUBMISSIONS_KEPT = 50


def _replayed(request: HttpRequest) -> HttpResponse | None:
    """A form posted again after it succeeded (double click, reload, back button).

    The first submission did the work; a replay is answered with where it led,
    without running the step again. Each form carries a one-time token
    (`{% submission_token %}`); the session keeps the recent ones that succeeded.
    """
    if request.method != "POST":
        return None
    token = request.POST.get("submission_token", "")
    done = request.session.get("submissions", {}).get(token)
    if not token or done is None:
        return None
    messages.info(request, _("This action was already recorded; it was not repeated."))
    return redirect(done)


def _done(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    """Redirect to the request after a successful step, remembering the form's token."""
    url = disclosure_request.get_absolute_url()
    token = request.POST.get("submission_token", "")
    if token:
        submissions: dict[str, str] = request.session.get("submissions", {})
        submissions[token[:64]] = url
        request.session["submissions"] = dict(list(submissions.items())[-SUBMISSIONS_KEPT:])
    return redirect(url)


def _refused(request: HttpRequest, refusal: services.ActionRefused) -> None:
    messages.error(request, refusal.message)


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not is_staff_member(user):
        return render(request, "requests_app/no_role.html", status=403)
    sections = [(s.title, s.help_text, s.rows) for s in queries.home_sections(user)]
    return render(
        request,
        "requests_app/home.html",
        {
            "sections": sections,
            "is_auditor": user.has_role(Role.AUDITOR),
            "is_secretariat": user.has_role(Role.SECRETARIAT),
            "page_size": queries.PAGE_SIZE,
        },
    )


# Search criteria (a person's name or national number, a requester's name)
# never travel in a URL, where browser history, proxies and server logs would
# keep them: the form is posted, the criteria are kept in the session under a
# random key and the register's URL carries only that key, the sort and the
# page. They are personal data: each is kept REGISTER_SEARCH_SECONDS at most
# (its time is in REGISTER_SEARCHES_AT), the older ones are dropped when a new
# search starts, and at most REGISTER_SEARCHES_KEPT are kept; the session row
# itself ends 30 minutes after the last request (accounts/sessions.py).
REGISTER_SEARCHES = "register_searches"
REGISTER_SEARCHES_AT = "register_searches_at"
REGISTER_SEARCHES_KEPT = 20
REGISTER_SEARCH_SECONDS = 30 * 60


def _keep_search(request: HttpRequest, criteria: dict[str, str]) -> str:
    now = timezone.now().timestamp()
    kept_at: dict[str, float] = request.session.get(REGISTER_SEARCHES_AT, {})
    searches = {
        key: kept
        for key, kept in request.session.get(REGISTER_SEARCHES, {}).items()
        if now - kept_at.get(key, 0) <= REGISTER_SEARCH_SECONDS
    }
    key = secrets.token_urlsafe(12)
    searches[key] = criteria
    # Dicts keep insertion order: drop the oldest beyond the limit.
    for old in list(searches)[:-REGISTER_SEARCHES_KEPT]:
        del searches[old]
    request.session[REGISTER_SEARCHES] = searches
    request.session[REGISTER_SEARCHES_AT] = {k: kept_at.get(k, now) for k in searches}
    return key


def _kept_search(request: HttpRequest, key: str | None) -> dict[str, str] | None:
    """The criteria kept under `key`, unless missing or too old."""
    kept_at = request.session.get(REGISTER_SEARCHES_AT, {}).get(key, 0) if key else 0
    if not key or timezone.now().timestamp() - kept_at > REGISTER_SEARCH_SECONDS:
        return None
    criteria: dict[str, str] | None = request.session.get(REGISTER_SEARCHES, {}).get(key)
    return criteria


@login_required
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if access.has_no_role(user):
        raise Http404
    content_search = searches_content(user)
    source = request.POST if request.method == "POST" else request.GET
    sort, order = queries.register_sort(source.get("sort", queries.DEFAULT_SORT))
    expired = False
    if request.method == "POST":
        form = RegisterSearchForm(request.POST, content_search=content_search)
        if form.is_valid():
            criteria = {
                name: value
                for name in form.fields
                if (value := request.POST.get(name, "").strip())
            }
            query = {"sort": sort}
            if criteria:
                query["search"] = _keep_search(request, criteria)
            return redirect(f"{request.path}?{urlencode(query)}")
    elif set(request.GET) - {"search", "sort", "page"}:
        # Criteria in the address: refuse them without running the search.
        form = RegisterSearchForm(content_search=content_search)
        return _register_page(request, form, sort, order, error="criteria_in_url")
    else:
        key = request.GET.get("search")
        kept = _kept_search(request, key)
        expired = bool(key) and kept is None
        form = RegisterSearchForm(kept, content_search=content_search)
    return _register_page(request, form, sort, order, error="expired" if expired else None)


def _register_page(
    request: HttpRequest,
    form: RegisterSearchForm,
    sort: str,
    order: list[str],
    error: str | None,
) -> HttpResponse:
    user = _user(request)
    valid = error is None and form.is_bound and form.is_valid()
    queryset = queries.register_page_queryset(user, form.cleaned_data if valid else None, order)
    page = Paginator(queryset, queries.PAGE_SIZE).get_page(request.GET.get("page"))
    if valid and queries.uses_content_criteria(form.cleaned_data):
        services.record_content_search(user, results=page.paginator.count)
    failed = error is not None or (form.is_bound and not form.is_valid())
    return render(
        request,
        "requests_app/register.html",
        {
            "page": page,
            "form": form,
            "sort": sort,
            "sortable": True,
            "content_search": form.content_search,
            "search_error": error,
        },
        status=400 if failed else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    refused_status: int | None = None
    if not user.has_role(Role.SECRETARIAT):
        raise Http404
    follows = None
    follows_pk = request.GET.get("follows") or request.POST.get("follows")
    if follows_pk:
        try:
            follows = get_request_for_user(user, int(follows_pk))
        except (ValueError, Http404):
            raise Http404 from None
    if (replayed := _replayed(request)) is not None:
        return replayed
    form = IntakeForm(request.POST or None, request.FILES or None)
    persons = PersonFormSet(request.POST or None, prefix="persons")
    context: dict[str, Any] = {
        "form": form,
        "persons": persons,
        "follows": follows,
        "max_scan_bytes": settings.SCAN_MAX_BYTES,
    }
    checking = request.method == "POST" and "preview" in request.POST
    valid = request.method == "POST" and form.is_valid() and persons.is_valid()
    data = intake_data(form, [p.to_data() for p in persons if p.has_changed()]) if valid else None
    if checking:
        # Show what intake will conclude, without saving anything. The page's
        # script asks for the panel alone, so the chosen scan stays in place.
        if data is not None:
            context["flags"] = services.intake_flags_for_data(data)
            scan_file = form.cleaned_data.get("scan")
            if scan_file is not None:
                context["scan_type"] = access.SCAN_EXTENSIONS[
                    form.cleaned_data["scan_content_type"]
                ]
                context["scan_size"] = scan_file.size
            context["checked"] = True
        partial = request.headers.get("X-Huisclos-Check") == "1"
        context["partial"] = partial
        return render(
            request,
            "requests_app/_intake_check.html" if partial else "requests_app/create.html",
            context,
            status=200 if valid else 400,
        )
    if data is not None:
        try:
            disclosure_request = services.register_request(
                data,
                actor=user,
                scan=form.cleaned_data.get("scan"),
                scan_content_type=form.cleaned_data.get("scan_content_type", ""),
                follows=follows,
            )
        except services.ActionRefused as refusal:
            _refused(request, refusal)
            # A storage or letter failure (503) is not the user's input.
            refused_status = refusal.http_status
        else:
            messages.success(request, _intake_message(disclosure_request))
            return _done(request, disclosure_request)
    status = (refused_status or 400) if request.method == "POST" else 200
    return render(request, "requests_app/create.html", context, status=status)


def _intake_message(disclosure_request: DisclosureRequest) -> str:
    ref = {"reference": disclosure_request.reference}
    if disclosure_request.state == State.CLOSED_ORAL:
        return (
            _(
                "Oral request %(reference)s recorded and closed: no information is ever "
                "given orally. Invite the requester to write to the President."
            )
            % ref
        )
    if disclosure_request.state == State.AWAITING_SIGNATURES:
        return (
            _(
                "Request %(reference)s recorded and declared inadmissible as it stands. "
                "The inadmissibility reply awaits the signatures of the President and the DG."
            )
            % ref
        )
    return _("Request %(reference)s recorded. It is waiting for a referent.") % ref


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    _load(request, pk, "request")
    disclosure_request = queries.detail_queryset().get(pk=pk)
    access.record_access(disclosure_request, actor=user, what="request")
    content = can_see_content(user, disclosure_request)
    reply: Reply | None = getattr(disclosure_request, "reply", None)
    show_reply = reply is not None and access.sees_reply(user, disclosure_request)
    opinions = list(disclosure_request.opinions.all()) if content else []
    flags: list[Any] = []
    if content:
        flags = services.intake_flags(disclosure_request)
        current = disclosure_request.current_opinion()
        if current is not None and disclosure_request.state == State.AWAITING_REVIEW:
            flags += _opinion_flags(disclosure_request, current)
    document = getattr(reply, "document", None) if reply is not None else None
    check = None
    if document is not None and show_reply and reply is not None and reply.signatures.all():
        check = letters.verify_reply_document(reply)
    return render(
        request,
        "requests_app/detail.html",
        {
            "dr": disclosure_request,
            "documents": _document_labels(disclosure_request),
            "content": content,
            "opinions": opinions,
            "reviews": list(disclosure_request.reviews.all()) if content else [],
            "reply": reply if show_reply else None,
            "actions": access.available_actions(disclosure_request, user),
            "sees_everything": sees_everything(user),
            "flags": flags,
            "document": document
            if document and access.may_download_reply(user, disclosure_request)
            else None,
            "check": check,
        },
    )


def _document_labels(disclosure_request: DisclosureRequest) -> list[str]:
    labels = dict(SupportingDocument.choices)
    return [str(labels.get(d, d)) for d in disclosure_request.documents]


@login_required
@require_GET
def summary(request: HttpRequest, pk: int) -> HttpResponse:
    """A printable summary of the whole file, for the roles that see its content."""
    user = _user(request)
    _load_content(request, pk, "summary")
    disclosure_request = queries.detail_queryset().get(pk=pk)
    access.record_access(disclosure_request, actor=user, what="summary")
    return render(
        request,
        "requests_app/summary.html",
        {
            "dr": disclosure_request,
            "documents": _document_labels(disclosure_request),
            "opinions": list(disclosure_request.opinions.all()),
            "reviews": list(disclosure_request.reviews.all()),
            "reply": getattr(disclosure_request, "reply", None)
            if access.sees_reply(user, disclosure_request)
            else None,
            "printed_at": timezone.localtime(),
        },
    )


@login_required
@require_GET
def scan(request: HttpRequest, pk: int) -> FileResponse:
    return access.scan_response(_user(request), _load_content(request, pk, "scan"))


def _forbidden(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    messages.error(request, access.NOT_YOUR_STEP)
    return render(request, "requests_app/forbidden.html", {"dr": disclosure_request}, status=403)


@login_required
@require_GET
def reply_pdf(request: HttpRequest, pk: int) -> FileResponse:
    return access.reply_pdf_response(_user(request), _load(request, pk, "reply_pdf"))


@login_required
@require_http_methods(["GET", "POST"])
@step_view("assign_referent", {"assign_referent"})
def assign(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    user = _user(request)
    form = AssignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.assign_referent(
                disclosure_request, actor=user, referent=form.cleaned_data["referent"]
            )
        except services.ActionRefused as refusal:
            _refused(request, refusal)
        else:
            messages.success(
                request,
                _("Referent assigned to request %(reference)s.")
                % {"reference": disclosure_request.reference},
            )
            return _done(request, disclosure_request)
    return render(
        request,
        "requests_app/assign.html",
        {
            "dr": disclosure_request,
            "form": form,
            "workload": queries.referent_workload(),
            "today": timezone.localdate(),
        },
        status=400 if request.method == "POST" else 200,
    )


ITEMS_MAX = 30


def _chosen_bases(data: Any, catalogue: list[LegalBasis]) -> list[LegalBasis]:
    """The bases ticked on the page (among those it offers), even before the
    whole form is valid."""
    ticked = set(data.getlist("legal_bases")) if hasattr(data, "getlist") else set()
    return [b for b in catalogue if str(b.pk) in ticked]


def _posted_rows(data: Any) -> list[dict[str, str]]:
    """The item rows the page holds, as posted, whatever their validity."""
    try:
        total = min(int(data.get("items-TOTAL_FORMS", "0")), ITEMS_MAX)
    except ValueError:
        total = 0
    rows = []
    for i in range(max(total, 0)):
        row = {
            name: data.get(f"items-{i}-{name}", "")
            for name in ("description", "data_category", "basis", "necessity")
        }
        if row["description"].strip() or row["necessity"].strip():
            rows.append(row)
    return rows


def _flag_items(
    rows: list[dict[str, Any]], bases: list[LegalBasis], proposal: str
) -> list[ItemData]:
    """The items the flags see: no items for a refusal."""
    if proposal == Proposal.REFUSE:
        return []
    by_pk = {str(b.pk): b for b in bases}
    return [
        ItemData(
            str(r["description"]),
            str(r["data_category"]),
            legal_basis=by_pk.get(str(r.get("basis") or "")),
        )
        for r in rows
        if str(r["description"]).strip()
    ]


def _page_flags(
    disclosure_request: DisclosureRequest,
    bases: list[LegalBasis],
    rows: list[dict[str, Any]],
    proposal: str,
) -> list[Any]:
    found: list[Any] = services.intake_flags(disclosure_request)
    if bases:
        found += services.opinion_flags(
            disclosure_request, bases, _flag_items(rows, bases, proposal)
        )
    return found


def _returned_opinion(disclosure_request: DisclosureRequest) -> tuple[Opinion | None, Any]:
    """The opinion the DG sent back, when the referent writes its next version."""
    last_review = disclosure_request.reviews.order_by("reviewed_at", "pk").last()
    if last_review is None or last_review.outcome != last_review.Outcome.RETURNED:
        return None, last_review
    return last_review.opinion, last_review


def _in_force(basis: LegalBasis, catalogue: list[LegalBasis]) -> LegalBasis | None:
    """The version offered today of a basis an earlier opinion cited."""
    return next(
        (b for b in catalogue if b.pk == basis.pk),
        next((b for b in catalogue if b.code == basis.code), None),
    )


def _initial_from(
    opinion_obj: Opinion, catalogue: list[LegalBasis]
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]:
    """Form, items and checklist initial values copied from a returned opinion."""
    versions = {b.pk: _in_force(b, catalogue) for b in opinion_obj.legal_bases.all()}
    initial = {
        "legal_bases": [b.pk for b in versions.values() if b is not None],
        "proposal": opinion_obj.proposal,
        "reasoning": opinion_obj.reasoning,
        "override_reason": opinion_obj.override_reason,
        "legal_analysis": opinion_obj.legal_analysis,
    }
    items = []
    for item in opinion_obj.items.select_related("legal_basis"):
        version = versions.get(item.legal_basis_id) or _in_force(item.legal_basis, catalogue)
        items.append(
            {
                "description": item.description,
                "data_category": item.data_category,
                "necessity": item.necessity,
                "basis": str(version.pk) if version else "",
            }
        )
    answers: dict[str, str] = {}
    for answer in opinion_obj.checklist_answers.select_related("legal_basis"):
        version = versions.get(answer.legal_basis_id)
        if version is None or answer.position >= len(version.checklist):
            continue
        if version.checklist[answer.position].get("text") != answer.condition:
            continue  # the condition changed with the law: answer it afresh
        prefix = f"cl-{version.pk}-{answer.position}"
        answers[f"{prefix}-answer"] = answer.answer
        answers[f"{prefix}-note"] = answer.note
    return initial, items, answers


@login_required
@require_http_methods(["GET", "POST"])
@step_view("submit_opinion", {"submit_opinion"})
def opinion(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    user = _user(request)
    posted = request.method == "POST"
    # Without script, "Afficher les conditions" re-renders with the checklists
    # and flags of the ticked bases, without submitting or validating anything.
    refreshing = posted and "refresh" in request.POST
    current = queries.detail_queryset().get(pk=disclosure_request.pk)
    catalogue = opinion_catalogue()
    as_dg = user.has_role(Role.DIRECTOR_GENERAL)
    returned, last_review = _returned_opinion(current)
    form_kwargs: dict[str, Any] = {
        "catalogue": catalogue,
        "requester_kind": current.requester_kind,
        "cited_provision": current.cited_provision,
        "with_legal_analysis": as_dg,
    }
    if posted:
        bases = _chosen_bases(request.POST, catalogue)
        rows = _posted_rows(request.POST)
        proposal = request.POST.get("proposal", "")
    if refreshing:
        form = OpinionForm(
            initial={
                "legal_bases": [b.pk for b in bases],
                **{
                    name: request.POST.get(name, "")
                    for name in ("proposal", "reasoning", "override_reason", "legal_analysis")
                },
            },
            **form_kwargs,
        )
        items = ItemFormSet(prefix="items", initial=rows, form_kwargs={"bases": bases})
        checklist = ChecklistForm(
            initial={k: v for k, v in request.POST.items() if k.startswith("cl-")},
            legal_bases=catalogue,
            chosen=bases,
        )
    elif posted:
        form = OpinionForm(request.POST, **form_kwargs)
        items = ItemFormSet(request.POST, prefix="items", form_kwargs={"bases": bases})
        checklist = ChecklistForm(request.POST, legal_bases=catalogue, chosen=bases)
        if all([form.is_valid(), items.is_valid(), checklist.is_valid()]):
            try:
                services.submit_opinion(
                    disclosure_request,
                    actor=user,
                    legal_bases=list(form.cleaned_data["legal_bases"]),
                    proposal=form.cleaned_data["proposal"],
                    reasoning=form.cleaned_data["reasoning"],
                    items=[i.to_data() for i in items if i.has_changed()],
                    checklist=checklist.to_data(),
                    override_reason=form.cleaned_data.get("override_reason", ""),
                    legal_analysis=form.cleaned_data.get("legal_analysis", ""),
                )
            except services.ActionRefused as refusal:
                _refused(request, refusal)
            else:
                messages.success(
                    request,
                    _("Opinion recorded for request %(reference)s.")
                    % {"reference": disclosure_request.reference},
                )
                return _done(request, disclosure_request)
    else:
        if returned is not None:
            initial, rows, answers = _initial_from(returned, catalogue)
        else:
            matched = matching_bases(current.cited_provision, catalogue)
            initial, rows, answers = {"legal_bases": [b.pk for b in matched]}, [], {}
        bases = [b for b in catalogue if b.pk in set(initial["legal_bases"])]
        proposal = str(initial.get("proposal", ""))
        form = OpinionForm(initial=initial, **form_kwargs)
        items = ItemFormSet(prefix="items", initial=rows, form_kwargs={"bases": bases})
        checklist = ChecklistForm(initial=answers, legal_bases=catalogue, chosen=bases)
    by_pk = {str(b.pk): b for b in bases}
    contested_item = any(is_contested(by_pk.get(str(r.get("basis") or ""))) for r in rows)
    primary, others = form.basis_choices()
    return render(
        request,
        "requests_app/opinion.html",
        {
            "dr": current,
            "documents": _document_labels(current),
            "as_dg": as_dg,
            "form": form,
            "primary_bases": primary,
            "other_bases": others,
            "others_open": any(c.checked for c in others),
            "items": items,
            "items_max": ITEMS_MAX,
            "checklist": checklist,
            "tags": VerificationTag.choices,
            "flags": _page_flags(current, bases, rows, proposal),
            "last_review": last_review,
            "returned": returned,
            "next_number": current.opinions.count() + 1,
            "show_analysis": contested_item,
            "refreshing": refreshing,
        },
        status=400 if posted and not refreshing else 200,
    )


@login_required
@require_POST
def opinion_flags(request: HttpRequest, pk: int) -> HttpResponse:
    """The flags of the opinion being written, as the page's script asks for
    them while the referent ticks and fills (an HTML fragment): nothing is saved."""
    try:
        disclosure_request = _step(request, pk, "submit_opinion", {"submit_opinion"})
    except access.StepNotAvailable:
        return HttpResponse(access.NOT_YOUR_STEP, status=403, content_type="text/plain")
    current = queries.detail_queryset().get(pk=disclosure_request.pk)
    bases = _chosen_bases(request.POST, opinion_catalogue())
    found = _page_flags(
        current, bases, _posted_rows(request.POST), request.POST.get("proposal", "")
    )
    return render(request, "requests_app/_flags.html", {"flags": found})


REVIEW_ACTIONS = {"approve", "refuse_disclosure", "return_for_revision"}


@login_required
@require_http_methods(["GET", "POST"])
@step_view("review", REVIEW_ACTIONS)
def review(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    user = _user(request)
    current = queries.detail_queryset().get(pk=disclosure_request.pk)
    opinion_obj = current.current_opinion()
    assert opinion_obj is not None  # awaiting_review implies an opinion
    opinion_bases = list(opinion_obj.legal_bases.all())
    opinion_items = list(opinion_obj.items.select_related("legal_basis"))
    initial = [
        {
            "keep": True,
            "description": i.description,
            "data_category": i.data_category,
            "basis": str(i.legal_basis_id),
        }
        for i in opinion_items
    ]
    contested = any(is_contested(b) for b in opinion_bases)
    form = ReviewForm(request.POST or None, contested=contested)
    amended = AmendedItemFormSet(
        request.POST or None,
        prefix="items",
        initial=initial,
        form_kwargs={"bases": opinion_bases},
    )
    if request.method == "POST" and form.is_valid() and amended.is_valid():
        decision = form.cleaned_data["decision"]
        remarks = form.cleaned_data.get("remarks", "")
        analysis = form.cleaned_data.get("legal_analysis", "")
        try:
            override = form.cleaned_data.get("override_reason", "")
            if decision == "approve":
                services.approve(
                    disclosure_request,
                    actor=user,
                    remarks=remarks,
                    override_reason=override,
                    legal_analysis=analysis,
                )
                done = _("Proposal approved. The reply awaits both signatures.")
            elif decision == "amend":
                kept = [f.to_data() for f in amended if f.cleaned_data.get("keep")]
                services.approve(
                    disclosure_request,
                    actor=user,
                    amended_items=kept,
                    remarks=remarks,
                    override_reason=override,
                    legal_analysis=analysis,
                )
                done = _("Proposal amended and approved. The reply awaits the signatures.")
            elif decision == "refuse":
                services.refuse_disclosure(disclosure_request, actor=user, remarks=remarks)
                done = _("Disclosure refused. The refusal letter awaits the signatures.")
            else:
                services.return_for_revision(disclosure_request, actor=user, remarks=remarks)
                done = _("Opinion sent back to the referent with your remarks.")
        except services.ActionRefused as refusal:
            _refused(request, refusal)
        else:
            messages.success(
                request,
                _("%(reference)s: %(outcome)s")
                % {"reference": disclosure_request.reference, "outcome": done},
            )
            return _done(request, disclosure_request)
    return render(
        request,
        "requests_app/review.html",
        {
            "dr": current,
            "opinion": opinion_obj,
            "form": form,
            "amended": amended,
            "flags": _opinion_flags(current, opinion_obj),
            "contested_items": any(is_contested(i.legal_basis) for i in opinion_items),
        },
        status=400 if request.method == "POST" else 200,
    )


def _opinion_flags(disclosure_request: DisclosureRequest, opinion: Opinion) -> list[Any]:
    items = [
        ItemData(i.description, i.data_category, legal_basis=i.legal_basis)
        for i in opinion.items.select_related("legal_basis")
    ]
    return services.opinion_flags(disclosure_request, list(opinion.legal_bases.all()), items)


SIGN_ACTIONS = {"sign_first", "sign_second"}


@login_required
@require_http_methods(["GET", "POST"])
@step_view("sign_reply", SIGN_ACTIONS)
def sign(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    user = _user(request)
    form = SignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            signature = services.sign_reply(
                disclosure_request,
                actor=user,
                otp=form.cleaned_data["otp"],
                session=request.session,
                address=throttling.client_address(request),
            )
        except services.ActionRefused as refusal:
            _refused(request, refusal)
        else:
            messages.success(
                request,
                (
                    _("Reply %(reference)s signed (%(capacity)s, acting).")
                    if signature.is_acting
                    else _("Reply %(reference)s signed (%(capacity)s).")
                )
                % {
                    "reference": disclosure_request.reference,
                    "capacity": signature.get_capacity_display(),
                },
            )
            return _done(request, disclosure_request)
    current = queries.detail_queryset().get(pk=disclosure_request.pk)
    return render(
        request,
        "requests_app/sign.html",
        {
            "dr": current,
            "reply": current.reply,
            "form": form,
            "has_webauthn": accounts_services.has_webauthn(user),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
@step_view("record_dispatch", {"record_dispatch"}, content=False)
def dispatch(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    user = _user(request)
    form = DispatchForm(request.POST or None, initial={"dispatched_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            services.record_dispatch(
                disclosure_request,
                actor=user,
                dispatched_on=form.cleaned_data["dispatched_on"],
                channel=form.cleaned_data["channel"],
                registered_mail_number=form.cleaned_data.get("registered_mail_number", ""),
            )
        except services.ActionRefused as refusal:
            _refused(request, refusal)
        else:
            messages.success(
                request,
                _("Dispatch of reply %(reference)s recorded.")
                % {"reference": disclosure_request.reference},
            )
            return _done(request, disclosure_request)
    return render(
        request,
        "requests_app/dispatch.html",
        {"dr": disclosure_request, "form": form},
        status=400 if request.method == "POST" else 200,
    )


def _one_click_step(
    request: HttpRequest,
    pk: int,
    action: str,
    service: Callable[..., object],
    done: str,
) -> HttpResponse:
    """A step without a form: a POST button on the request page."""
    if (replayed := _replayed(request)) is not None:
        return replayed
    disclosure_request = _load(request, pk, action)
    try:
        service(disclosure_request, actor=_user(request))
    except services.ActionRefused as refusal:
        _refused(request, refusal)
        return _forbidden(request, disclosure_request)
    messages.success(request, done % {"reference": disclosure_request.reference})
    return _done(request, disclosure_request)


@login_required
@require_POST
def close(request: HttpRequest, pk: int) -> HttpResponse:
    return _one_click_step(
        request, pk, "close", services.close, _("Request %(reference)s closed.")
    )


@login_required
@require_POST
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    return _one_click_step(
        request,
        pk,
        "withdraw",
        services.withdraw,
        _("Withdrawal of request %(reference)s recorded."),
    )
