"""Every read of requests: the work queues ("what waits for whom"), the home
page's lists, the register's search and sort, overdue, the detail prefetch.

The work queues are defined once, in `WORK_QUEUES`: each names the states it
draws from and the transitions that act on them. Whether a request is in a
user's queue is decided by the permission declared on those transitions
(`DisclosureRequest.is_step_of`), never restated here. The home pages, the reminder
e-mails and the API's "my tasks" all call `work_queues`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Exists, Min, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User

from .models import (
    OPEN_STATES,
    ConcernedPerson,
    DefaultDeadline,
    DisclosureRequest,
    Opinion,
    Reply,
    ReplyKind,
    Review,
    State,
    may_record_acknowledgement_dispatch,
    may_sign_acknowledgement,
)
from .permissions import visible_requests

PAGE_SIZE = 50
BY_DUE = ("due_on", "received_on", "number")


# ---------------------------------------------------------------------------
# Overdue


def overdue(today: date | None = None) -> Q:
    """Open and past its due date (the model's `is_overdue`, as a filter)."""
    return Q(
        state__in=[s.value for s in OPEN_STATES],
        due_on__lt=today or timezone.localdate(),
    )


def open_requests() -> Q:
    return Q(state__in=[s.value for s in OPEN_STATES])


# ---------------------------------------------------------------------------
# Work queues


@dataclass(frozen=True)
class WorkQueue:
    key: str
    title: Promise
    help_text: Promise
    # The task as the reminder e-mail words it.
    task: Promise
    states: tuple[State, ...]
    # A request is in a user's queue when the user may run one of these now.
    transitions: tuple[str, ...]
    # Whose home page shows the section even when it is empty, so that an empty
    # queue reads as "nothing to do" rather than as a missing feature. It does
    # not decide what is in the queue.
    shown_empty_to: tuple[Role, ...] = ()
    # For a step that is no transition (the acknowledgement's): the rule,
    # written once in models, that says whether the user may take it now.
    rule: Callable[[DisclosureRequest, User], bool] | None = None


WORK_QUEUES: tuple[WorkQueue, ...] = (
    WorkQueue(
        key="dispatch",
        title=_("To dispatch"),
        help_text=_("Signed replies to send"),
        task=_("dispatch the reply"),
        states=(State.SIGNED,),
        transitions=("record_dispatch",),
        shown_empty_to=(Role.SECRETARIAT,),
    ),
    WorkQueue(
        key="close",
        title=_("To close"),
        help_text=_("Dispatched replies"),
        task=_("close"),
        states=(State.DISPATCHED,),
        transitions=("close",),
        shown_empty_to=(Role.SECRETARIAT,),
    ),
    WorkQueue(
        key="assign",
        title=_("To assign"),
        help_text=_("Requests waiting for a referent"),
        task=_("assign to a referent"),
        states=(State.AWAITING_ASSIGNMENT,),
        transitions=("assign_referent",),
        shown_empty_to=(Role.PRESIDENT, Role.DIRECTOR_GENERAL),
    ),
    WorkQueue(
        key="opinion",
        title=_("To write"),
        help_text=_("Opinions you are asked to write"),
        task=_("write the opinion"),
        states=(State.AWAITING_OPINION,),
        transitions=("submit_opinion", "submit_opinion_as_review"),
    ),
    WorkQueue(
        key="review",
        title=_("Legality review"),
        help_text=_("Opinions waiting for your review"),
        task=_("review the legality of the opinion"),
        states=(State.AWAITING_REVIEW,),
        transitions=("approve", "refuse_disclosure", "return_for_revision"),
        shown_empty_to=(Role.DIRECTOR_GENERAL,),
    ),
    WorkQueue(
        key="sign",
        title=_("To sign"),
        help_text=_("Replies waiting for signature"),
        task=_("sign the reply"),
        states=(State.AWAITING_SIGNATURES, State.PARTIALLY_SIGNED),
        transitions=("sign_first", "sign_second"),
        shown_empty_to=(Role.PRESIDENT, Role.DIRECTOR_GENERAL),
    ),
    WorkQueue(
        key="sign_acknowledgement",
        title=_("Acknowledgements to sign"),
        help_text=_("Acknowledgements of receipt waiting for signature"),
        task=_("sign the acknowledgement of receipt"),
        states=tuple(OPEN_STATES),
        transitions=(),
        rule=may_sign_acknowledgement,
    ),
    WorkQueue(
        key="dispatch_acknowledgement",
        title=_("Acknowledgements to dispatch"),
        help_text=_("Signed acknowledgements of receipt to send"),
        task=_("dispatch the acknowledgement of receipt"),
        states=tuple(OPEN_STATES),
        transitions=(),
        rule=may_record_acknowledgement_dispatch,
    ),
)
QUEUE_STATES = sorted({s.value for q in WORK_QUEUES for s in q.states})


def referent_workload() -> QuerySet[User]:
    """Active referents with, for the assignment page, how many open requests
    each holds (`open_requests`) and the nearest due date among them
    (`nearest_due`): one query, whatever the number of referents."""
    held = Q(assigned_requests__state__in=[s.value for s in OPEN_STATES])
    return (
        User.objects.filter(is_active=True, groups__name=Role.REFERENT)
        .annotate(
            open_requests=Count("assigned_requests", filter=held, distinct=True),
            nearest_due=Min("assigned_requests__due_on", filter=held),
        )
        .order_by("last_name", "first_name", "username")
    )


def returned_with_remarks() -> Exists:
    """The DG returned the latest opinion: the referent has remarks to answer."""
    superseded = Exists(
        Opinion.objects.filter(request=OuterRef("request"), number__gt=OuterRef("opinion__number"))
    )
    return Exists(
        Review.objects.filter(
            request=OuterRef("pk"),
            outcome=Review.Outcome.RETURNED,
            request__state=State.AWAITING_OPINION,
        ).exclude(superseded)
    )


def queue_candidates(requests: QuerySet[DisclosureRequest]) -> list[DisclosureRequest]:
    """The requests in a queue's state, with what the permissions read."""
    return list(
        requests.filter(state__in=QUEUE_STATES)
        .annotate(was_returned=returned_with_remarks())
        .select_related("referent")
        .prefetch_related("replies__signatures")
        .order_by(*BY_DUE, "pk")
    )


def _may_take(queue: WorkQueue, disclosure_request: DisclosureRequest, user: User) -> bool:
    if disclosure_request.state not in queue.states:
        return False
    if queue.rule is not None:
        return queue.rule(disclosure_request, user)
    return any(disclosure_request.is_step_of(name, user) for name in queue.transitions)


def work_queues(
    user: User, candidates: Sequence[DisclosureRequest] | None = None
) -> list[tuple[WorkQueue, list[DisclosureRequest]]]:
    """Each queue with the requests in it that `user` may act on now, by due date.

    `candidates` lets the reminders fetch the rows once for every user.
    """
    if candidates is None:
        candidates = queue_candidates(visible_requests(user))
    return [
        (queue, [dr for dr in candidates if _may_take(queue, dr, user)]) for queue in WORK_QUEUES
    ]


def tasks_by_user() -> dict[User, list[tuple[WorkQueue, DisclosureRequest]]]:
    """Every open step, keyed by the active users who can take it today."""
    today = timezone.localdate()
    users = list(User.objects.filter(is_active=True).prefetch_related("groups").order_by("pk"))
    candidates = queue_candidates(DisclosureRequest.objects.all())
    found: dict[User, list[tuple[WorkQueue, DisclosureRequest]]] = {}
    for user in users:
        user.roles_on(today)  # warms the per-instance cache the permissions read
        tasks = [(queue, dr) for queue, rows in work_queues(user, candidates) for dr in rows]
        if tasks:
            found[user] = tasks
    return found


# ---------------------------------------------------------------------------
# Home page


@dataclass(frozen=True)
class HomeSection:
    key: str
    title: Any
    help_text: Any
    rows: list[DisclosureRequest]


def _overrides() -> Q:
    """An override in the current opinion or in a review of it: a superseded
    opinion (returned, then written again) no longer speaks for the request."""
    superseded = Exists(
        Opinion.objects.filter(request=OuterRef("request"), number__gt=OuterRef("number"))
    )
    opinion_superseded = Exists(
        Opinion.objects.filter(request=OuterRef("request"), number__gt=OuterRef("opinion__number"))
    )
    return Exists(
        Opinion.objects.filter(request=OuterRef("pk"))
        .exclude(override_reason="")
        .exclude(superseded)
    ) | Exists(
        Review.objects.filter(request=OuterRef("pk"))
        .exclude(override_reason="")
        .exclude(opinion_superseded)
    )


def home_sections(user: User) -> list[HomeSection]:
    """The user's work queues, then the lists their role follows."""
    roles = user.roles_on()
    sections = [
        HomeSection(queue.key, queue.title, queue.help_text, rows[:PAGE_SIZE])
        for queue, rows in work_queues(user)
        if rows or roles & set(queue.shown_empty_to)
    ]
    visible = visible_requests(user).select_related("referent")
    lists: list[tuple[str, Any, Any, QuerySet[DisclosureRequest]]] = []
    if roles & {Role.PRESIDENT, Role.DIRECTOR_GENERAL}:
        lists.append(
            (
                "overdue",
                _("Overdue"),
                _("Open requests past their due date"),
                visible.filter(overdue()),
            )
        )
    if Role.DIRECTOR_GENERAL in roles:
        lists.append(
            (
                "override",
                _("With an override"),
                _(
                    "Open requests whose opinion or review overrides a blocking alert "
                    "or an unmet condition"
                ),
                visible.filter(_overrides(), open_requests()),
            )
        )
    if Role.REFERENT in roles:
        lists.append(
            (
                "mine",
                _("My requests"),
                _("Open requests assigned to you, the earliest deadline first"),
                visible.filter(open_requests(), referent=user).annotate(
                    was_returned=returned_with_remarks()
                ),
            )
        )
    sections += [
        HomeSection(key, title, help_text, list(qs.order_by(*BY_DUE)[:PAGE_SIZE]))
        for key, title, help_text, qs in lists
    ]
    return sections


# ---------------------------------------------------------------------------
# One request


def acknowledges_receipt(requester_kind: str) -> bool:
    """The administrator asks for an acknowledgement of receipt of the
    written, admissible requests of this kind."""
    return DefaultDeadline.objects.filter(
        requester_kind=requester_kind, acknowledge_receipt=True
    ).exists()


def detail_queryset() -> QuerySet[DisclosureRequest]:
    return DisclosureRequest.objects.select_related(
        "referent", "registered_by", "follows"
    ).prefetch_related(
        "persons",
        "follow_ups",
        Prefetch(
            "opinions",
            queryset=Opinion.objects.select_related("author").prefetch_related(
                "items", "legal_bases", "checklist_answers__legal_basis"
            ),
        ),
        "reviews__reviewer",
        # Every letter, superseded ones included: the history shows them.
        Prefetch("replies", queryset=Reply.objects.select_related("document").order_by("pk")),
        "replies__items",
        "replies__legal_bases",
        "replies__signatures__signer",
        "replies__declines__declined_by",
        "corrections__corrected_by",
    )


@dataclass
class HistoryEntry:
    """One step before the decision the DG takes now (`review_history`)."""

    at: datetime
    kind: str  # "opinion", "review" or "letter"
    item: Opinion | Review | Reply


def review_history(disclosure_request: DisclosureRequest) -> list[HistoryEntry]:
    """What came before the DG's decision, oldest first: the opinions replaced
    since, every review (a return with its remarks), every letter withdrawn
    (declined at signature, or an inadmissibility found wrong). Reads what
    `detail_queryset` prefetched."""
    current = disclosure_request.current_opinion()
    entries = [
        HistoryEntry(opinion.submitted_at, "opinion", opinion)
        for opinion in disclosure_request.opinions.all()
        if current is None or opinion.pk != current.pk
    ]
    entries += [
        HistoryEntry(review.reviewed_at, "review", review)
        for review in disclosure_request.reviews.all()
    ]
    entries += [
        HistoryEntry(reply.superseded_at, "letter", reply)
        for reply in disclosure_request.replies.all()
        if reply.superseded_at is not None and reply.kind != ReplyKind.ACKNOWLEDGEMENT
    ]
    return sorted(entries, key=lambda entry: entry.at)


# ---------------------------------------------------------------------------
# The register

# Sort keys offered on the register: public name -> ORDER BY, ties broken by reference.
REGISTER_SORTS = {
    "reference": ("year", "number"),
    "received_on": ("received_on", "year", "number"),
    "due_on": ("due_on", "year", "number"),
    "state": ("state", "year", "number"),
    "requester": ("requester_name", "year", "number"),
}
DEFAULT_SORT = "-reference"
CONTENT_CRITERIA = ("legal_basis", "person")
# The criteria that are one lookup each.
REGISTER_LOOKUPS = {
    "requester_kind": "requester_kind",
    "state": "state",
    "received_from": "received_on__gte",
    "received_to": "received_on__lte",
    "due_from": "due_on__gte",
    "due_to": "due_on__lte",
}


def register_sort(sort: str) -> tuple[str, list[str]]:
    """The sort actually applied (unknown keys fall back) and its ORDER BY."""
    key = sort.removeprefix("-")
    if key not in REGISTER_SORTS:
        sort, key = DEFAULT_SORT, DEFAULT_SORT.removeprefix("-")
    descending = sort.startswith("-")
    return sort, [f"-{f}" if descending else f for f in REGISTER_SORTS[key]]


def uses_content_criteria(criteria: dict[str, Any]) -> bool:
    return any(criteria.get(name) for name in CONTENT_CRITERIA)


def search_register(
    queryset: QuerySet[DisclosureRequest], criteria: dict[str, Any]
) -> QuerySet[DisclosureRequest]:
    """Narrow the register by validated criteria (the search form's cleaned data)."""
    text = str(criteria.get("q") or "").strip()
    if text:
        queryset = queryset.filter(
            Q(reference__icontains=text)
            | Q(requester_name__icontains=text)
            | Q(requester_organisation__icontains=text)
            | Q(requester_reference__icontains=text)
        )
    for name, lookup in REGISTER_LOOKUPS.items():
        if criteria.get(name):
            queryset = queryset.filter(**{lookup: criteria[name]})
    if criteria.get("overdue"):
        queryset = queryset.filter(overdue())
    code = criteria.get("legal_basis")
    if code:
        queryset = queryset.filter(
            Exists(Opinion.objects.filter(request=OuterRef("pk"), legal_bases__code=code))
            | Exists(Reply.objects.filter(request=OuterRef("pk"), legal_bases__code=code))
        )
    person = str(criteria.get("person") or "").strip()
    if person:
        digits = "".join(c for c in person if c.isdigit())
        match = Q(last_name__icontains=person) | Q(first_names__icontains=person)
        if len(digits) == 11:
            match |= Q(national_number=digits)
        queryset = queryset.filter(
            Exists(ConcernedPerson.objects.filter(match, request=OuterRef("pk")))
        )
    return queryset


def register_page_queryset(
    user: User, criteria: dict[str, Any] | None, order: Iterable[str]
) -> QuerySet[DisclosureRequest]:
    queryset = visible_requests(user).select_related("referent")
    if criteria is not None:
        queryset = search_register(queryset, criteria)
    return queryset.order_by(*order)
