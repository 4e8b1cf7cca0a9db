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
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services as accounts_services
from accounts import throttling
from accounts.models import Role, User
from common import storage
from legal_basis.flags import matching_bases
from legal_basis.models import (
    DataCategory,
    LegalBasis,
    RequesterKind,
    SupportingDocument,
    VerificationTag,
)
from letters import services as letters

from . import access, deadlines, queries, scan_checks, services
from .forms import (
    DECISION_FORMS,
    AmendedItemFormSet,
    AnnulForm,
    AssignForm,
    ChecklistForm,
    CorrectionForm,
    DeclineToSignForm,
    DispatchForm,
    ExtendDeadlineForm,
    IntakeForm,
    ItemFormSet,
    LetterParagraphForm,
    OpinionForm,
    PersonFormSet,
    RegisterSearchForm,
    SignForm,
    WithdrawForm,
    correction_data,
    correction_field_label,
    correction_initial,
    intake_data,
    is_contested,
    opinion_catalogue,
    persons_initial,
    refuse_oral_identifiers,
)
from .inputs import IntakeData, ItemData
from .models import (
    Channel,
    ChecklistAnswer,
    DisclosureRequest,
    InadmissibilityReason,
    Opinion,
    Proposal,
    Reply,
    ReplyKind,
    RequestKind,
    State,
)
from .permissions import (
    can_see_content,
    get_request_for_user,
    is_staff_member,
    searches_content,
    sees_everything,
)
from .validation import detect_scan_type


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
    return render(
        request,
        "requests_app/home.html",
        {
            "sections": queries.home_sections(user),
            "is_auditor": user.has_role(Role.AUDITOR),
            "is_secretariat": user.has_role(Role.SECRETARIAT),
            "page_size": queries.HOME_ROWS,
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
# What the register's address may carry: the kept search's key, the sort and
# a page cursor (a row's pk, never a sorted value: names stay out of URLs).
# "page" is the old page number, ignored, so that old bookmarks still open.
REGISTER_ADDRESS = {"search", "sort", "after", "before", "page"}


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
    order = queries.register_sort(source.get("sort", queries.DEFAULT_SORT))
    expired = False
    if request.method == "POST":
        form = RegisterSearchForm(request.POST, content_search=content_search)
        if form.is_valid():
            criteria = {
                name: value
                for name in form.fields
                if (value := request.POST.get(name, "").strip())
            }
            query = {"sort": order.sort}
            if criteria:
                query["search"] = _keep_search(request, criteria)
            return redirect(f"{request.path}?{urlencode(query)}")
    elif set(request.GET) - REGISTER_ADDRESS:
        # Criteria in the address: refuse them without running the search.
        form = RegisterSearchForm(content_search=content_search)
        return _register_page(request, form, order, error="criteria_in_url")
    else:
        key = request.GET.get("search")
        kept = _kept_search(request, key)
        expired = bool(key) and kept is None
        form = RegisterSearchForm(kept, content_search=content_search)
    return _register_page(request, form, order, error="expired" if expired else None)


def _register_page(
    request: HttpRequest,
    form: RegisterSearchForm,
    order: queries.RegisterOrder,
    error: str | None,
) -> HttpResponse:
    user = _user(request)
    valid = error is None and form.is_bound and form.is_valid()
    page = queries.register_page(
        user,
        form.cleaned_data if valid else None,
        order,
        after=queries.page_cursor(request.GET.get("after")),
        before=queries.page_cursor(request.GET.get("before")),
    )
    if valid and queries.uses_content_criteria(form.cleaned_data):
        services.record_content_search(user, results=page.count, results_exact=page.count_is_exact)
    failed = error is not None or (form.is_bound and not form.is_valid())
    return render(
        request,
        "requests_app/register.html",
        {
            "page": page,
            "form": form,
            "sort": order.sort,
            "sortable": True,
            "count_limit": formats.number_format(queries.COUNT_LIMIT, force_grouping=True),
            "content_search": form.content_search,
            "search_error": error,
        },
        status=400 if failed else 200,
    )


# Posted fields the confirmation page does not carry back to the form.
NOT_CARRIED = {
    "csrfmiddlewaretoken",
    "submission_token",
    "preview",
    "confirm",
    "back",
    "held_scan",
    "outcome",
}


@login_required
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    """Record a request received.

    When recording would not lead to the examination (an oral request, closed
    at once; a written one inadmissible as it stands), a summary of what will
    happen is shown first and nothing is recorded until the secretariat
    confirms it; "back" returns to the form as it was filled. A browser cannot
    put a chosen file back into the form: between two submissions the scan is
    held for the session (common/storage.py), and reused unless another file
    is chosen.
    """
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
    storage.purge_held_files()
    posted = request.method == "POST"
    chosen = request.FILES.get("scan")
    held = storage.held_file(request.session, request.POST.get("held_scan")) if posted else None
    if held is not None and chosen is not None:
        # A file chosen anew replaces the one held.
        storage.release_held_file(request.session, held.key)
        held = None
    files = request.FILES
    if held is not None:
        upload = _held_upload(request, held)
        if upload is None:
            held = None
        else:
            files = MultiValueDict({"scan": [upload]})
    form = IntakeForm(request.POST or None, files or None)
    persons = PersonFormSet(request.POST or None, prefix="persons")
    context: dict[str, Any] = {
        "form": form,
        "persons": persons,
        "follows": follows,
        "max_scan_bytes": settings.SCAN_MAX_BYTES,
        "held": held,
    }
    checking = posted and "preview" in request.POST
    partial = checking and request.headers.get("X-Huisclos-Check") == "1"
    valid = posted and form.is_valid() and persons.is_valid()
    # An oral request never records the person's birth date or national number.
    if valid and refuse_oral_identifiers(form, persons):
        valid = False
    data = intake_data(form, [p.to_data() for p in persons if p.has_changed()]) if valid else None
    if posted and "back" in request.POST:
        # Back from the confirmation: the form as it was filled, scan included.
        return render(request, "requests_app/create.html", context)
    outcome = _intake_outcome(data) if data is not None else ""
    confirmed = (
        bool(outcome) and "confirm" in request.POST and request.POST.get("outcome") == outcome
    )
    registering = data is not None and not checking and (not outcome or confirmed)
    if posted and not partial and not registering:
        # The form comes back (errors, check without script) or its outcome
        # is to be confirmed: keep the scan for the next submission.
        held = context["held"] = _keep_scan(request, form, chosen, held)
        if form.errors:
            data = None  # the scan itself was refused
    if checking:
        # Show what intake will conclude, without saving anything. The page's
        # script asks for the panel alone, so the chosen scan stays in place.
        if data is not None:
            context["flags"] = services.intake_flags_for_data(data)
            context["outcome"] = _outcome_summary(outcome)
            scan_file = form.cleaned_data.get("scan")
            if scan_file is not None:
                context["scan_type"] = access.SCAN_EXTENSIONS[
                    form.cleaned_data["scan_content_type"]
                ]
                context["scan_size"] = scan_file.size
            context["checked"] = True
        context["partial"] = partial
        return render(
            request,
            "requests_app/_intake_check.html" if partial else "requests_app/create.html",
            context,
            status=200 if data is not None else 400,
        )
    if data is not None and not registering:
        return _confirm_intake(request, form, data, outcome, held, follows)
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
            if refusal.cause == "invalid_scan":
                if held is not None:
                    storage.release_held_file(request.session, held.key)
                held = None
            elif refusal.http_status == 400:
                # Input to correct: the scan waits for the next submission.
                held = _keep_scan(request, form, chosen, held)
            context["held"] = held
        else:
            if held is not None:
                storage.release_held_file(request.session, held.key)
            messages.success(request, _intake_message(disclosure_request))
            _acknowledgement_message(request, disclosure_request)
            return _done(request, disclosure_request)
    status = (refused_status or 400) if posted else 200
    return render(request, "requests_app/create.html", context, status=status)


def _intake_outcome(data: IntakeData) -> str:
    """What recording `data` leads to when it is not the examination: "oral",
    or "inadmissible:" and the reasons; "" for a request to examine. The
    confirmation page carries it, so a confirmation counts only for the
    outcome it showed."""
    if data.channel == Channel.ORAL:
        return "oral"
    if data.kind == RequestKind.SUBJECT_ACCESS:
        return ""  # the person's own request: no legal provision to cite
    reasons = services.inadmissibility_reasons(data)
    return "inadmissible:" + ",".join(reasons) if reasons else ""


def _outcome_summary(outcome: str) -> dict[str, Any]:
    kind, _sep, codes = outcome.partition(":")
    return {
        "oral": kind == "oral",
        "inadmissible": kind == "inadmissible",
        "reasons": [InadmissibilityReason(code).label for code in codes.split(",") if code],
    }


def _confirm_intake(
    request: HttpRequest,
    form: IntakeForm,
    data: IntakeData,
    outcome: str,
    held: storage.HeldFile | None,
    follows: DisclosureRequest | None,
) -> HttpResponse:
    """What recording will do, to confirm; the form's fields travel along hidden."""
    carried = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in NOT_CARRIED
        for value in values
    ]
    return render(
        request,
        "requests_app/intake_confirm.html",
        {
            "form": form,
            "data": data,
            "channel": Channel(data.channel).label,
            "requester_kind": RequesterKind(data.requester_kind).label,
            "carried": carried,
            "outcome": outcome,
            "summary": _outcome_summary(outcome),
            # Carried for "back"; an oral request is recorded without it.
            "held": held,
            "written": data.channel != Channel.ORAL,
            "follows": follows,
        },
    )


def _held_upload(request: HttpRequest, held: storage.HeldFile) -> SimpleUploadedFile | None:
    """The held scan as an upload, checked again like a new one; never its original name."""
    try:
        content = held.read()
    except OSError:
        storage.release_held_file(request.session, held.key)
        return None
    return SimpleUploadedFile("scan", content, content_type=held.content_type)


def _keep_scan(
    request: HttpRequest,
    form: IntakeForm,
    chosen: UploadedFile[bytes] | None,
    held: storage.HeldFile | None,
) -> storage.HeldFile | None:
    """Hold the chosen scan for the next submission of the form, if it passes
    the checks a scan must pass to be recorded (a refused one is marked on
    the form and not kept)."""
    if held is not None or chosen is None:
        return held
    try:
        content_type = detect_scan_type(chosen)
        scan_checks.check_upload(chosen, content_type)
    except ValidationError:
        return None  # the form's own check says why
    except scan_checks.ScanRefused as refusal:
        if form.cleaned_data.get("scan") is not None:
            form.add_error("scan", refusal.message)
        return None
    chosen.seek(0)
    try:
        return storage.hold_file(
            request.session, chosen.read(settings.SCAN_MAX_BYTES), content_type=content_type
        )
    except storage.StorageUnavailable:
        return None  # logged by the storage; the file has to be chosen again


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
    if disclosure_request.state == State.AWAITING_ACCESS_REPLY:
        return _(
            "Access request %(reference)s recorded, with the verification of identity. "
            "The reply is due on %(date)s; the Director general prepares it."
        ) % {**ref, "date": formats.date_format(disclosure_request.due_on or "", "d/m/Y")}
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
    # Asked once: for a referent each answer costs two queries of permissions.
    content = can_see_content(user, _load(request, pk, "request"))
    disclosure_request = queries.detail_queryset(content=content).get(pk=pk)
    access.record_access(disclosure_request, actor=user, what="request", content=content)
    reply: Reply | None = getattr(disclosure_request, "reply", None)
    show_reply = reply is not None and access.sees_reply(user, disclosure_request, content=content)
    opinions = list(disclosure_request.opinions.all()) if content else []
    flags: list[Any] = []
    # Once the retention schedule removed the persons' data, the intake's
    # alerts would speak of what is gone ("person not identified").
    if content and disclosure_request.personal_data_removed_at is None:
        flags = services.intake_flags(disclosure_request)
        current = disclosure_request.current_opinion()
        if current is not None and disclosure_request.state == State.AWAITING_REVIEW:
            flags += _opinion_flags(disclosure_request, current)
    document = getattr(reply, "document", None) if reply is not None else None
    check = None
    if document is not None and show_reply and reply is not None and reply.signatures.all():
        # The validation recorded for the file as stored now, never a new
        # one (tens of milliseconds): the button below asks for that.
        check = letters.recorded_check(document)
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
            "document": document if document and show_reply else None,
            "check": check,
            **_acknowledgement_context(user, disclosure_request, content=content),
            "superseded_letters": _superseded_letters(disclosure_request),
            "withheld_from_access": _withheld_from_access(user, disclosure_request),
        },
    )


@login_required
@require_POST
def revalidate_letter(request: HttpRequest, pk: int) -> HttpResponse:
    """The request page's « Revérifier les signatures »: validate the signed
    letter again and record the result (services.revalidate_letter)."""
    if (replayed := _replayed(request)) is not None:
        return replayed
    disclosure_request = _load(request, pk, "revalidate_letter")
    try:
        checked = services.revalidate_letter(disclosure_request, actor=_user(request))
    except services.ActionRefused as refusal:
        if refusal.http_status == 403:
            return _forbidden(request, disclosure_request)
        _refused(request, refusal)
        return render(
            request,
            "requests_app/forbidden.html",
            {"dr": disclosure_request},
            status=refusal.http_status,
        )
    reference = {"reference": disclosure_request.reference}
    if checked.complete:
        messages.success(
            request,
            _("Signatures of the letter of %(reference)s checked again: both are valid.")
            % reference,
        )
    elif checked.ok:
        messages.success(
            request,
            _(
                "Signature of the letter of %(reference)s checked again: valid; the letter "
                "waits for the second one."
            )
            % reference,
        )
    else:
        messages.error(
            request,
            _(
                "Signatures of the letter of %(reference)s checked again: there is a problem, "
                "described on the page."
            )
            % reference,
        )
    return _done(request, disclosure_request)


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


# The review page is the DG's step whether an opinion waits for review or an
# inadmissibility letter came back declined (no opinion: confirm or reopen).
REVIEW_ACTIONS = {
    "approve",
    "refuse_disclosure",
    "return_for_revision",
    "confirm_inadmissibility",
}


@login_required
@require_http_methods(["GET", "POST"])
@step_view("review", REVIEW_ACTIONS)
def review(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    """Everything the decision needs on one page, and one form per decision:
    each posts its `decision` and its own fields; the others are ignored."""
    user = _user(request)
    current = queries.detail_queryset().get(pk=disclosure_request.pk)
    opinion_obj = current.current_opinion()
    posted = request.method == "POST"
    decision = request.POST.get("decision", "") if posted else ""
    if opinion_obj is None:
        return _review_inadmissibility(request, disclosure_request, current, decision)
    opinion_bases = list(opinion_obj.legal_bases.all())
    opinion_items = list(opinion_obj.items.select_related("legal_basis"))
    answers = list(opinion_obj.checklist_answers.all())
    found = _opinion_flags(current, opinion_obj)
    contested = any(is_contested(b) for b in opinion_bases)
    # The override field only where the service will ask for it (a refusal
    # needs none); amending may change the flags, so amending always offers it.
    needs_override = opinion_obj.proposal != Proposal.REFUSE and (
        any(f.is_blocking for f in found)
        or any(a.answer == ChecklistAnswer.Answer.NOT_MET for a in answers)
    )

    def data_for(name: str) -> Any:
        return request.POST if decision == name else None

    forms: dict[str, Any] = {
        "approve": DECISION_FORMS["approve"](
            data_for("approve"), contested=contested, with_override=needs_override
        ),
        "refuse": DECISION_FORMS["refuse"](data_for("refuse")),
        "return": DECISION_FORMS["return"](data_for("return")),
    }
    if opinion_items:
        forms["amend"] = DECISION_FORMS["amend"](data_for("amend"), contested=contested)
    amended = AmendedItemFormSet(
        data_for("amend"),
        prefix="items",
        initial=[
            {
                "keep": True,
                "description": i.description,
                "data_category": i.data_category,
                "basis": str(i.legal_basis_id),
            }
            for i in opinion_items
        ],
        form_kwargs={"bases": opinion_bases},
        auto_id="id_amend_%s",
    )
    refusal = ""
    if posted:
        form = forms.get(decision)
        if form is None:
            refusal = _("Choose one of the decisions below, then fill in its form.")
        elif form.is_valid() and (decision != "amend" or amended.is_valid()):
            try:
                done = _record_decision(
                    disclosure_request, user, decision, form.cleaned_data, amended
                )
            except services.ActionRefused as refusal_error:
                refusal = refusal_error.message
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
            **_review_file(current),
            "opinion": opinion_obj,
            "items": opinion_items,
            "answers": answers,
            "flags": services.intake_flags(current) + found,
            "decisions": [
                (name, forms[name])
                for name in ("approve", "amend", "refuse", "return")
                if name in forms
            ],
            "open_decision": decision if decision in forms else "",
            "amended": list(zip(amended, opinion_items, strict=False)),
            "amended_formset": amended,
            "refusal": refusal,
            "contested_items": any(is_contested(i.legal_basis) for i in opinion_items),
        },
        status=400 if posted else 200,
    )


def _record_decision(
    disclosure_request: DisclosureRequest,
    user: User,
    decision: str,
    cleaned: dict[str, Any],
    amended: Any,
) -> str:
    """Run the decision's service; returns what to tell the DG."""
    remarks = cleaned.get("remarks", "")
    if decision in ("approve", "amend"):
        kept = (
            [f.to_data() for f in amended if f.cleaned_data.get("keep")]
            if decision == "amend"
            else None
        )
        services.approve(
            disclosure_request,
            actor=user,
            amended_items=kept,
            remarks=remarks,
            override_reason=cleaned.get("override_reason", ""),
            legal_analysis=cleaned.get("legal_analysis", ""),
        )
        if decision == "amend":
            return _("Proposal amended and approved. The reply awaits the signatures.")
        return _("Proposal approved. The reply awaits both signatures.")
    if decision == "refuse":
        services.refuse_disclosure(disclosure_request, actor=user, remarks=remarks)
        return _("Disclosure refused. The refusal letter awaits the signatures.")
    services.return_for_revision(disclosure_request, actor=user, remarks=remarks)
    return _("Opinion sent back to the referent with your remarks.")


def _review_file(disclosure_request: DisclosureRequest) -> dict[str, Any]:
    """What the review page shows of the file whatever is decided: the letter,
    its scan, the inadmissibility reasons and the history."""
    history = queries.review_history(disclosure_request)
    return {
        "documents": _document_labels(disclosure_request),
        "scan_kind": SCAN_PREVIEWS.get(disclosure_request.scan_content_type, "download")
        if disclosure_request.scan
        else "",
        "inadmissibility": _inadmissibility_labels(disclosure_request),
        "history": history,
        "declined": _declined_letter(disclosure_request, history),
    }


def _declined_letter(
    disclosure_request: DisclosureRequest, history: list[queries.HistoryEntry]
) -> Reply | None:
    """The letter a signer just declined, when that is what brought the request
    back to the DG: its remarks open the page. A letter declined before the
    opinion under review was written (the request was examined since) is history."""
    last = history[-1] if history else None
    if last is None or not isinstance(last.item, Reply) or not last.item.declines.all():
        return None
    opinion = disclosure_request.current_opinion()
    if opinion is not None and opinion.submitted_at > last.at:
        return None
    return last.item


# How the review page previews each kind of scan: pdf.js draws a PDF's pages,
# an image shows as is; browsers draw no TIFF.
SCAN_PREVIEWS = {
    "application/pdf": "pdf",
    "image/png": "image",
    "image/jpeg": "image",
}


def _inadmissibility_labels(disclosure_request: DisclosureRequest) -> list[str]:
    labels = dict(InadmissibilityReason.choices)
    return [str(labels.get(code, code)) for code in disclosure_request.inadmissibility_reasons]


def _review_inadmissibility(
    request: HttpRequest,
    disclosure_request: DisclosureRequest,
    current: DisclosureRequest,
    decision: str,
) -> HttpResponse:
    """The inadmissibility letter came back declined: confirm the
    inadmissibility (a new letter) or send the request to examination."""
    refusal = ""
    if request.method == "POST":
        if decision != "confirm_inadmissibility":
            refusal = _("Choose one of the decisions below.")
        else:
            try:
                services.confirm_inadmissibility(disclosure_request, actor=_user(request))
            except services.ActionRefused as refusal_error:
                refusal = refusal_error.message
            else:
                messages.success(
                    request,
                    _(
                        "%(reference)s: inadmissibility confirmed. A new inadmissibility "
                        "letter awaits both signatures."
                    )
                    % {"reference": disclosure_request.reference},
                )
                return _done(request, disclosure_request)
    return render(
        request,
        "requests_app/review.html",
        {
            "dr": current,
            **_review_file(current),
            "opinion": None,
            "refusal": refusal,
            "may_reopen": "reopen_examination"
            in access.available_actions(current, _user(request)),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
@step_view("reopen_examination", {"reopen_examination"})
def reopen_examination(
    request: HttpRequest, disclosure_request: DisclosureRequest
) -> HttpResponse:
    """Asks the DG to confirm, saying what happens, before the request found
    inadmissible by mistake goes to examination."""
    refusal = ""
    if request.method == "POST":
        try:
            services.reopen_examination(disclosure_request, actor=_user(request))
        except services.ActionRefused as refusal_error:
            refusal = refusal_error.message
        else:
            messages.success(
                request,
                _("Request %(reference)s sent back to examination. It is waiting for a referent.")
                % {"reference": disclosure_request.reference},
            )
            return _done(request, disclosure_request)
    current = queries.detail_queryset().get(pk=disclosure_request.pk)
    letter = current.current_reply()
    return render(
        request,
        "requests_app/review_reopen.html",
        {
            "dr": current,
            "inadmissibility": _inadmissibility_labels(current),
            "letter": letter,
            "signatures": list(letter.signatures.all()) if letter is not None else [],
            "refusal": refusal,
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
                # The letter the page showed; a page sent without it (an old
                # tab) still signs, as the API does.
                letter_seen=request.POST.get("letter_seen") or None,
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
    return _sign_page(
        request,
        disclosure_request,
        form=form,
        decline_form=DeclineToSignForm(),
        status=400 if request.method == "POST" else 200,
    )


def _sign_page(
    request: HttpRequest,
    disclosure_request: DisclosureRequest,
    *,
    form: SignForm,
    decline_form: DeclineToSignForm,
    status: int,
) -> HttpResponse:
    """The letter as it will be signed (its pages drawn, its text), and what
    the decision rests on: persons, items with their necessity and basis, the
    flags and derogations of the opinion this letter follows (not of an
    opinion sent back before it)."""
    user = _user(request)
    current = queries.detail_queryset().get(pk=disclosure_request.pk)
    reply = current.reply
    review = reply.decided_by_review
    opinion_pk = review.opinion_id if review is not None else reply.decided_by_opinion_id
    opinion_obj = next((o for o in current.opinions.all() if o.pk == opinion_pk), None)
    capacities = reply.open_capacities_for(user)
    pages = access.reply_page_count(user, current)
    actions = access.available_actions(current, user)
    return render(
        request,
        "requests_app/sign.html",
        {
            "dr": current,
            "reply": reply,
            "form": form,
            "decline_form": decline_form,
            "has_webauthn": accounts_services.has_webauthn(user),
            "letter_seen": services.letter_version(reply),
            "pages": range(1, pages + 1),
            "page_total": pages,
            "capacity": Role(capacities[0]).label if capacities else "",
            "acting": bool(capacities) and user.is_acting(capacities[0]),
            "items": _items_with_necessity(reply, opinion_obj),
            "flags": _opinion_flags(current, opinion_obj) if opinion_obj else [],
            "override_opinions": [opinion_obj] if opinion_obj else [],
            "override_reviews": [review] if review is not None else [],
            "may_decline": "decline_to_sign" in actions,
            "may_set_paragraph": "set_letter_paragraph" in actions,
        },
        status=status,
    )


def _superseded_letters(disclosure_request: DisclosureRequest) -> list[Reply]:
    """Letters declined at signature or withdrawn, oldest first: the history
    keeps them with their declines and the signatures they voided."""
    return [
        r
        for r in disclosure_request.replies.all()
        if r.superseded_at is not None and r.kind != ReplyKind.ACKNOWLEDGEMENT
    ]


def _items_with_necessity(reply: Reply, opinion_obj: Opinion | None) -> list[dict[str, Any]]:
    """The letter's items, each with the necessity the opinion gave for it. An
    item the DG amended keeps its description, category and basis, which find
    its proposal; an item no proposal matches shows none."""

    def key(description: str, category: str, basis_id: int) -> tuple[str, str, int]:
        return " ".join(description.split()), category, basis_id

    proposed = list(opinion_obj.items.all()) if opinion_obj else []
    by_key = {key(i.description, i.data_category, i.legal_basis_id): i.necessity for i in proposed}
    by_description = {" ".join(i.description.split()): i.necessity for i in proposed}
    return [
        {
            "item": item,
            "necessity": by_key.get(key(item.description, item.data_category, item.legal_basis_id))
            or by_description.get(" ".join(item.description.split()), ""),
        }
        for item in reply.items.select_related("legal_basis")
    ]


@login_required
@require_POST
@step_view("decline_to_sign", {"decline_to_sign"})
def decline_to_sign(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    user = _user(request)
    decline_form = DeclineToSignForm(request.POST)
    if decline_form.is_valid():
        try:
            services.decline_to_sign(
                disclosure_request, actor=user, remarks=decline_form.cleaned_data["remarks"]
            )
        except services.ActionRefused as refusal:
            _refused(request, refusal)
            if refusal.http_status != 400:
                return _forbidden(request, disclosure_request)
        else:
            messages.success(
                request,
                _(
                    "You declined to sign the letter of %(reference)s: the request is back "
                    "with the Director general for review."
                )
                % {"reference": disclosure_request.reference},
            )
            return _done(request, disclosure_request)
    return _sign_page(
        request, disclosure_request, form=SignForm(), decline_form=decline_form, status=400
    )


@login_required
@require_http_methods(["GET", "POST"])
@step_view("set_letter_paragraph", {"set_letter_paragraph"})
def letter_paragraph(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    user = _user(request)
    current = queries.detail_queryset().get(pk=disclosure_request.pk)
    reply = current.reply
    form = LetterParagraphForm(
        request.POST or None,
        initial={"paragraph": reply.dg_paragraph},
        max_length=services.LETTER_PARAGRAPH_MAX,
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.set_letter_paragraph(
                disclosure_request, actor=user, paragraph=form.cleaned_data["paragraph"]
            )
        except services.ActionRefused as refusal:
            _refused(request, refusal)
        else:
            messages.success(
                request,
                (
                    _("Paragraph added to the letter of %(reference)s; the letter was redrawn.")
                    if changed.dg_paragraph
                    else _("The letter of %(reference)s no longer has an added paragraph.")
                )
                % {"reference": disclosure_request.reference},
            )
            return _done(request, disclosure_request)
    return render(
        request,
        "requests_app/letter_paragraph.html",
        {"dr": current, "reply": reply, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_GET
def reply_page(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """One page of the current letter as an image (the signature page shows them)."""
    return access.reply_page_response(_user(request), _load(request, pk, "reply_page"), number)


@login_required
@require_http_methods(["GET", "POST"])
@step_view("record_dispatch", {"record_dispatch"}, content=False)
def dispatch(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    return _dispatch_page(
        request,
        disclosure_request,
        services.record_dispatch,
        "requests_app/dispatch.html",
        _("Dispatch of reply %(reference)s recorded."),
    )


def _dispatch_page(
    request: HttpRequest,
    disclosure_request: DisclosureRequest,
    service: Callable[..., object],
    template: str,
    done: str,
) -> HttpResponse:
    """The dispatch form of a letter: the reply's or the acknowledgement's."""
    form = DispatchForm(request.POST or None, initial={"dispatched_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            service(
                disclosure_request,
                actor=_user(request),
                dispatched_on=form.cleaned_data["dispatched_on"],
                channel=form.cleaned_data["channel"],
                registered_mail_number=form.cleaned_data.get("registered_mail_number", ""),
            )
        except services.ActionRefused as refusal:
            _refused(request, refusal)
        else:
            messages.success(request, done % {"reference": disclosure_request.reference})
            return _done(request, disclosure_request)
    return render(
        request,
        template,
        {"dr": disclosure_request, "form": form},
        status=400 if request.method == "POST" else 200,
    )


# ---------------------------------------------------------------------------
# The acknowledgement of receipt


def _acknowledgement_context(
    user: User, disclosure_request: DisclosureRequest, *, content: bool | None = None
) -> dict[str, Any]:
    """The acknowledgement's section of the request page: its progress for
    whoever sees the request, its PDF by the reply's rule."""
    acknowledgement = disclosure_request.acknowledgement()
    document = getattr(acknowledgement, "document", None) if acknowledgement else None
    return {
        "acknowledgement": acknowledgement,
        "acknowledgement_pdf": document is not None
        and access.may_download_acknowledgement(user, disclosure_request, content=content),
    }


def _acknowledgement_message(request: HttpRequest, disclosure_request: DisclosureRequest) -> None:
    """After registration: say whether the acknowledgement asked for was prepared."""
    if not (
        disclosure_request.is_written_and_admissible()
        and queries.acknowledges_receipt(disclosure_request.requester_kind)
    ):
        return
    if disclosure_request.acknowledgement() is not None:
        messages.info(
            request,
            _(
                "An acknowledgement of receipt was prepared: it awaits the signatures of "
                "the President and the DG."
            ),
        )
    else:
        messages.warning(
            request,
            _(
                "The acknowledgement of receipt could not be produced. Prepare it from this "
                "page later; if the problem persists, notify the administrator."
            ),
        )


@login_required
@require_POST
def acknowledgement_prepare(request: HttpRequest, pk: int) -> HttpResponse:
    return _one_click_step(
        request,
        pk,
        "prepare_acknowledgement",
        services.prepare_acknowledgement,
        _(
            "Acknowledgement of receipt of request %(reference)s prepared: it awaits the "
            "signatures of the President and the DG."
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
@step_view("sign_acknowledgement", {"sign_acknowledgement"})
def acknowledgement_sign(
    request: HttpRequest, disclosure_request: DisclosureRequest
) -> HttpResponse:
    user = _user(request)
    form = SignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            signature = services.sign_acknowledgement(
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
                    _("Acknowledgement of receipt %(reference)s signed (%(capacity)s, acting).")
                    if signature.is_acting
                    else _("Acknowledgement of receipt %(reference)s signed (%(capacity)s).")
                )
                % {
                    "reference": disclosure_request.reference,
                    "capacity": signature.get_capacity_display(),
                },
            )
            return _done(request, disclosure_request)
    current = queries.detail_queryset().get(pk=disclosure_request.pk)
    pages = access.acknowledgement_page_count(user, current)
    return render(
        request,
        "requests_app/acknowledgement_sign.html",
        {
            "dr": current,
            "form": form,
            "has_webauthn": accounts_services.has_webauthn(user),
            "pages": range(1, pages + 1),
            **_acknowledgement_context(user, current),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
@step_view("record_acknowledgement_dispatch", {"record_acknowledgement_dispatch"}, content=False)
def acknowledgement_dispatch(
    request: HttpRequest, disclosure_request: DisclosureRequest
) -> HttpResponse:
    return _dispatch_page(
        request,
        disclosure_request,
        services.record_acknowledgement_dispatch,
        "requests_app/acknowledgement_dispatch.html",
        _("Dispatch of the acknowledgement of receipt %(reference)s recorded."),
    )


@login_required
@require_GET
def acknowledgement_pdf(request: HttpRequest, pk: int) -> FileResponse:
    return access.acknowledgement_pdf_response(
        _user(request), _load(request, pk, "acknowledgement_pdf")
    )


@login_required
@require_GET
def acknowledgement_page(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """One page of the acknowledgement as an image (its signature page shows them)."""
    return access.acknowledgement_page_response(
        _user(request), _load(request, pk, "acknowledgement_page"), number
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


# Closing and withdrawing end the procedure for good: a page says what will
# happen and asks for confirmation (GET), the confirmation does it (POST).


@login_required
@require_http_methods(["GET", "POST"])
@step_view("close", {"close"}, content=False)
def close(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        try:
            services.close(disclosure_request, actor=_user(request))
        except services.ActionRefused as refusal:
            _refused(request, refusal)
            status = refusal.http_status
        else:
            messages.success(
                request,
                _("Request %(reference)s closed.") % {"reference": disclosure_request.reference},
            )
            return _done(request, disclosure_request)
    return render(request, "requests_app/close.html", {"dr": disclosure_request}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@step_view("withdraw", {"withdraw"}, content=False)
def withdraw(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    posted = request.method == "POST"
    form = WithdrawForm(request.POST if posted else None, reasons=services.WITHDRAWAL_REASONS)
    status = 400 if posted else 200
    if posted and form.is_valid():
        try:
            services.withdraw(
                disclosure_request, actor=_user(request), reason=form.cleaned_data["reason"]
            )
        except services.ActionRefused as refusal:
            _refused(request, refusal)
            status = refusal.http_status
        else:
            messages.success(
                request,
                _("Withdrawal of request %(reference)s recorded.")
                % {"reference": disclosure_request.reference},
            )
            return _done(request, disclosure_request)
    return render(
        request,
        "requests_app/withdraw.html",
        {"dr": disclosure_request, "form": form},
        status=status,
    )


# ---------------------------------------------------------------------------
# Second thoughts on the registration


@login_required
@require_http_methods(["GET", "POST"])
@step_view("correct_registration", {"correct_registration"}, content=False)
def correct(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    """Correct the registration data, the form prefilled as they stand.

    The secretariat, which may correct until a referent is assigned, sees
    here what it typed at intake and nothing more: not the scan (it may only
    replace it), not the opinions, not the history of previous values.
    """
    user = _user(request)
    current = queries.detail_queryset().get(pk=disclosure_request.pk)
    posted = request.method == "POST"
    if posted:
        form = CorrectionForm(request.POST, request.FILES)
        persons = PersonFormSet(request.POST, prefix="persons")
    else:
        # The prefilled form shows the request's content: a read worth an event.
        access.record_access(current, actor=user, what="correction_form")
        form = CorrectionForm(initial=correction_initial(current))
        persons = PersonFormSet(prefix="persons", initial=persons_initial(current))
    if posted and "preview" in request.POST:
        # The check may come before the reason is written.
        form.fields["reason"].required = False
    valid = posted and form.is_valid() and persons.is_valid()
    data = (
        correction_data(form, [p.to_data() for p in persons if p.has_changed()]) if valid else None
    )
    context: dict[str, Any] = {
        "dr": current,
        "form": form,
        "persons": persons,
        "max_scan_bytes": settings.SCAN_MAX_BYTES,
    }
    if posted and "preview" in request.POST:
        # What the correction would change and what intake would say of the
        # corrected data, without saving anything.
        if data is not None:
            context.update(
                checked=True,
                changes=_field_labels(services.registration_changes(current, data)),
                new_scan=data.scan is not None,
                flags=services.intake_flags_for_data(data.as_intake(current.channel)),
                decides_otherwise=services.decides_otherwise(current, data),
            )
        partial = request.headers.get("X-Huisclos-Check") == "1"
        context["partial"] = partial
        return render(
            request,
            "requests_app/_correction_check.html" if partial else "requests_app/correct.html",
            context,
            status=200 if valid else 400,
        )
    status = 400 if posted else 200
    if data is not None:
        try:
            correction = services.correct_registration(
                disclosure_request,
                actor=user,
                reason=form.cleaned_data["reason"],
                changes=data,
            )
        except services.ActionRefused as refusal:
            _refused(request, refusal)
            status = refusal.http_status
        else:
            messages.success(
                request,
                _("Registration data of request %(reference)s corrected: %(fields)s.")
                % {
                    "reference": disclosure_request.reference,
                    "fields": ", ".join(_field_labels(correction.fields)),
                },
            )
            if services.decides_otherwise(queries.detail_queryset().get(pk=current.pk)):
                messages.warning(request, _admissibility_warning(current))
            return _done(request, disclosure_request)
    return render(request, "requests_app/correct.html", context, status=status)


def _field_labels(names: Any) -> list[str]:
    return [correction_field_label(name) for name in names]


def _admissibility_warning(disclosure_request: DisclosureRequest) -> str:
    if disclosure_request.inadmissibility_reasons:
        return _(
            "With the corrected data, the request now meets the conditions of intake, "
            "although it was found inadmissible. Its state has not changed: the Director "
            "general decides whether to reopen the examination."
        )
    return _(
        "With the corrected data, the request would be inadmissible as it stands (see the "
        "alerts). Its state has not changed: the Director general decides what follows."
    )


@login_required
@require_http_methods(["GET", "POST"])
@step_view("annul", {"annul"}, content=False)
def annul(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    """The DG annuls a registration error, after a page that says what follows."""
    posted = request.method == "POST"
    form = AnnulForm(request.POST if posted else None)
    status = 400 if posted else 200
    if posted and form.is_valid():
        try:
            services.annul(
                disclosure_request, actor=_user(request), reason=form.cleaned_data["reason"]
            )
        except services.ActionRefused as refusal:
            _refused(request, refusal)
            status = refusal.http_status
        else:
            messages.success(
                request,
                _("Request %(reference)s annulled as a registration error.")
                % {"reference": disclosure_request.reference},
            )
            return _done(request, disclosure_request)
    current = queries.detail_queryset().get(pk=disclosure_request.pk)
    return render(
        request,
        "requests_app/annul.html",
        {
            "dr": current,
            "form": form,
            "letter": current.current_reply(),
            "acknowledgement": current.acknowledgement(),
        },
        status=status,
    )


# ---------------------------------------------------------------------------
# The person's own access request (the GDPR's right of access)


@login_required
@require_http_methods(["GET", "POST"])
@step_view("prepare_access_reply", {"prepare_access_reply"})
def access_reply(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    """The DG reads what the reply to the access request will list, and what
    it leaves out because the law keeps it secret from the person, then has
    the letter drawn up for both signatures."""
    status = 200
    if request.method == "POST":
        try:
            services.prepare_access_reply(disclosure_request, actor=_user(request))
        except services.ActionRefused as refusal:
            _refused(request, refusal)
            status = refusal.http_status
        else:
            messages.success(
                request,
                _(
                    "The reply to access request %(reference)s is prepared: it awaits the "
                    "signatures of the President and the DG."
                )
                % {"reference": disclosure_request.reference},
            )
            return _done(request, disclosure_request)
    current = queries.detail_queryset().get(pk=disclosure_request.pk)
    data, withheld = services.access_reply_data(current)
    return render(
        request,
        "requests_app/access_reply.html",
        {
            "dr": current,
            "categories": [DataCategory(c).label for c in data.categories],
            "recipients": [
                {
                    "dispatched_on": r.dispatched_on,
                    "kind": RequesterKind(r.requester_kind).label,
                    "organisation": r.requester_organisation,
                    "categories": [DataCategory(c).label for c in r.data_categories],
                }
                for r in data.recipients
            ],
            "withheld": _references(withheld),
        },
        status=status,
    )


def _references(pks: list[int]) -> list[str]:
    return list(
        DisclosureRequest.objects.filter(pk__in=pks)
        .order_by("year", "number")
        .values_list("reference", flat=True)
    )


@login_required
@require_http_methods(["GET", "POST"])
@step_view("extend_access_deadline", {"extend_access_deadline"}, content=False)
def extend_deadline(request: HttpRequest, disclosure_request: DisclosureRequest) -> HttpResponse:
    """The DG extends an access request's deadline by two months, once, with a reason."""
    posted = request.method == "POST"
    form = ExtendDeadlineForm(request.POST if posted else None)
    status = 400 if posted else 200
    if posted and form.is_valid():
        try:
            services.extend_access_deadline(
                disclosure_request, actor=_user(request), reason=form.cleaned_data["reason"]
            )
        except services.ActionRefused as refusal:
            _refused(request, refusal)
            status = refusal.http_status
        else:
            messages.success(
                request,
                _("The deadline of request %(reference)s now falls on %(date)s.")
                % {
                    "reference": disclosure_request.reference,
                    "date": formats.date_format(disclosure_request.due_on or "", "d/m/Y"),
                },
            )
            return _done(request, disclosure_request)
    return render(
        request,
        "requests_app/extend_deadline.html",
        {
            "dr": disclosure_request,
            "form": form,
            "extended_due_on": deadlines.extended_access_due_date(disclosure_request.received_on),
        },
        status=status,
    )


def _withheld_from_access(user: User, disclosure_request: DisclosureRequest) -> list[str] | None:
    """For the DG: the references an access reply left out (ADMINISTRATIVE_ONLY bases)."""
    if not (disclosure_request.is_subject_access() and user.has_role(Role.DIRECTOR_GENERAL)):
        return None
    return _references(list(disclosure_request.access_withheld_request_ids))
