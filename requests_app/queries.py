"""Every read of requests: the work queues ("what waits for whom"), the home
page's lists, the register's search and sort, overdue, the detail prefetch.

The work queues are defined once, in `WORK_QUEUES`: each names the states it
draws from and the transitions that act on them. Whether a request is in a
user's queue is decided by the permission declared on those transitions
(`DisclosureRequest.is_step_of`), never restated here. The home pages, the reminder
e-mails and the API's "my tasks" all call `work_queues`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    Expression,
    F,
    Min,
    OrderBy,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    TextChoices,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from legal_basis.models import Feature, LegalBasis, RequesterKind

from .models import (
    OPEN_STATES,
    REGISTER_DUE_ON,
    SIGNING_STATES,
    ChecklistAnswer,
    ConcernedPerson,
    DefaultDeadline,
    DisclosureRequest,
    Opinion,
    OpinionItem,
    Proposal,
    RegistrationCorrection,
    Reply,
    ReplyItem,
    ReplyKind,
    Review,
    Signature,
    SignatureDecline,
    State,
    may_record_acknowledgement_dispatch,
    may_sign_acknowledgement,
    search_key,
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
    # The step is on the request's current acknowledgement of receipt, not yet
    # sent: a request without one is not a candidate (queue_candidates tells which
    # have one, without loading the letters of every open request).
    needs_acknowledgement: bool = False


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
        key="access_reply",
        title=_("Access requests to answer"),
        help_text=_("Persons asking for their own data: the reply to prepare"),
        task=_("prepare the reply to the access request"),
        states=(State.AWAITING_ACCESS_REPLY,),
        transitions=("prepare_access_reply",),
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
        needs_acknowledgement=True,
    ),
    WorkQueue(
        key="dispatch_acknowledgement",
        title=_("Acknowledgements to dispatch"),
        help_text=_("Signed acknowledgements of receipt to send"),
        task=_("dispatch the acknowledgement of receipt"),
        states=tuple(OPEN_STATES),
        transitions=(),
        rule=may_record_acknowledgement_dispatch,
        needs_acknowledgement=True,
    ),
)
QUEUE_STATES = sorted({s.value for q in WORK_QUEUES for s in q.states})


def referent_workload() -> QuerySet[User]:
    """Active referents with, for the assignment page, how many open requests
    each holds (`open_requests`) and the nearest due date among them
    (`nearest_due`): one query, whatever the number of referents.

    Asked per referent of their open requests only (the state index): joined
    to every request a referent ever held, the count read years of closed
    requests (bench/load_users.py)."""
    held = (
        DisclosureRequest.objects.filter(
            referent=OuterRef("pk"), state__in=[s.value for s in OPEN_STATES]
        )
        .order_by()
        .values("referent")
    )
    return (
        User.objects.filter(is_active=True, groups__name=Role.REFERENT)
        .annotate(
            open_requests=Coalesce(Subquery(held.annotate(n=Count("pk")).values("n")), 0),
            nearest_due=Subquery(held.annotate(due=Min("due_on")).values("due")),
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


# What the lists read of a request (requests_app/_list.html, the reminders,
# the API's tasks); its long text (the information requested, the cited
# provision, the address) stays in the database.
QUEUE_FIELDS = (
    "reference",
    "year",
    "number",
    "received_on",
    "requester_kind",
    "requester_name",
    "state",
    "due_on",
    "referent",
    "referent__first_name",
    "referent__last_name",
    "referent__username",
)
# What the queues' rules read of a request (models.py, "Transition
# permissions", and the acknowledgement's rules): its state and referent,
# and, for a letter to sign or send, who signed its current letters in which
# capacity, and whether its acknowledgement was sent. A rule decides the same
# for every request with the same values of these, so the queues ask it once
# per such class of requests. tests/requests_app/test_work_queues_scale.py
# fails if a rule reads more.
PERMISSION_FIELDS = ("state", "referent")
# A class: (state, referent id, whether an acknowledgement waits to be sent,
# the current letters' (kind, signer id, capacity), an unsigned letter as
# (kind, None, None); None when no rule reads them).
RequestClass = tuple[str, int | None, bool, frozenset[tuple[str, int | None, str | None]] | None]


def _acknowledgement_to_handle() -> Exists:
    # An acknowledgement already sent has no step left (both its rules in
    # models.py require it unsent).
    return Exists(
        Reply.objects.filter(
            request=OuterRef("pk"),
            kind=ReplyKind.ACKNOWLEDGEMENT,
            superseded_at__isnull=True,
            dispatched_on__isnull=True,
        )
    )


@dataclass
class QueueCandidates:
    """The requests in a queue's state, with what the rules read.

    At 100,000 requests the open ones number in the thousands, and a model
    instance with its letters costs far more than the rule that reads it
    (the DG's home page took seconds: bench/home_bench.py). So the rows and
    their letters' signatures are read as plain tuples, in due order, and
    the rules are asked of one instance per class (`RequestClass`), loaded
    with those fields and letters only. Only the rows a queue shows are
    loaded in full (`rows`)."""

    requests: QuerySet[DisclosureRequest]
    # (pk, has a current acknowledgement to handle, class), by due date.
    keys: Sequence[tuple[int, bool, RequestClass]]
    by_class: dict[RequestClass, DisclosureRequest]
    loaded: dict[int, DisclosureRequest]

    def rows(self, pks: Sequence[int]) -> list[DisclosureRequest]:
        """These requests, in the given order, with what the lists show."""
        missing = [pk for pk in pks if pk not in self.loaded]
        if missing:
            for dr in (
                self.requests.filter(pk__in=missing)
                .annotate(was_returned=returned_with_remarks())
                .select_related("referent")
                .only(*QUEUE_FIELDS)
            ):
                self.loaded[dr.pk] = dr
        return [self.loaded[pk] for pk in pks]

    def list_rows(self, pks: Sequence[int]) -> dict[int, ListRow]:
        """These requests as the lists print them, read in one query of the
        columns shown (the home page: no model instance per row)."""
        today = timezone.localdate()
        return {
            values["pk"]: _row(values, today, values["was_returned"])
            for values in self.requests.filter(pk__in=pks)
            .annotate(was_returned=returned_with_remarks())
            .values(*REGISTER_COLUMNS, "was_returned")
        }


def queue_candidates(requests: QuerySet[DisclosureRequest]) -> QueueCandidates:
    rows = list(
        requests.filter(state__in=QUEUE_STATES)
        .annotate(has_acknowledgement=_acknowledgement_to_handle())
        .order_by(*BY_DUE, "pk")
        .values_list("pk", "state", "referent_id", "has_acknowledgement")
    )
    # The letters' signatures, for the requests whose letter may be signed
    # or sent now: those awaiting signatures and those with an acknowledgement.
    with_letters = [pk for pk, state, _referent, ack in rows if state in SIGNING_STATES or ack]
    letters: dict[int, set[tuple[str, int | None, str | None]]] = {
        pk: set() for pk in with_letters
    }
    for request_id, kind, signer_id, capacity in Reply.objects.filter(
        request_id__in=with_letters, superseded_at__isnull=True
    ).values_list("request_id", "kind", "signatures__signer_id", "signatures__capacity"):
        letters[request_id].add((kind, signer_id, capacity))
    keys: list[tuple[int, bool, RequestClass]] = []
    first_of_class: dict[RequestClass, int] = {}
    for pk, state, referent_id, ack in rows:
        signed = frozenset(letters[pk]) if pk in letters else None
        cls = (state, referent_id, ack, signed)
        keys.append((pk, ack, cls))
        first_of_class.setdefault(cls, pk)
    # One instance per class; the letters only where a rule reads them.
    plain = [pk for cls, pk in first_of_class.items() if cls[3] is None]
    lettered = [pk for cls, pk in first_of_class.items() if cls[3] is not None]
    loaded = {dr.pk: dr for dr in requests.filter(pk__in=plain).only(*PERMISSION_FIELDS)}
    loaded.update(
        (dr.pk, dr)
        for dr in requests.filter(pk__in=lettered)
        .only(*PERMISSION_FIELDS)
        # The rules read the current letters only (current_reply, acknowledgement).
        .prefetch_related(
            Prefetch("replies", queryset=Reply.objects.filter(superseded_at__isnull=True)),
            "replies__signatures",
        )
    )
    return QueueCandidates(
        requests=requests,
        keys=keys,
        by_class={cls: loaded[pk] for cls, pk in first_of_class.items()},
        loaded={},
    )


def _members(queue: WorkQueue, candidates: QueueCandidates, user: User) -> list[int]:
    """The pks of the requests in `queue` that `user` may act on now, by due date."""
    decided: dict[RequestClass, bool] = {}
    found = []
    for pk, has_acknowledgement, cls in candidates.keys:
        if cls[0] not in queue.states:
            continue
        if queue.needs_acknowledgement and not has_acknowledgement:
            continue
        if cls not in decided:
            decided[cls] = _may_take(queue, candidates.by_class[cls], user)
        if decided[cls]:
            found.append(pk)
    return found


def _may_take(queue: WorkQueue, disclosure_request: DisclosureRequest, user: User) -> bool:
    if queue.rule is not None:
        return queue.rule(disclosure_request, user)
    return any(disclosure_request.is_step_of(name, user) for name in queue.transitions)


def _queue_members(
    user: User, candidates: QueueCandidates | None
) -> tuple[QueueCandidates, list[tuple[WorkQueue, list[int]]]]:
    if candidates is None:
        candidates = queue_candidates(visible_requests(user))
    return candidates, [(queue, _members(queue, candidates, user)) for queue in WORK_QUEUES]


def work_queues(
    user: User, candidates: QueueCandidates | None = None, *, limit: int | None = None
) -> list[tuple[WorkQueue, list[DisclosureRequest]]]:
    """Each queue with the requests in it that `user` may act on now, by due
    date; the first `limit` of each when given.

    `candidates` lets the reminders fetch the rows once for every user.
    """
    candidates, members = _queue_members(user, candidates)
    shown = [(queue, pks[:limit]) for queue, pks in members]
    candidates.rows([pk for _, pks in shown for pk in pks])  # one query for all
    return [(queue, candidates.rows(pks)) for queue, pks in shown]


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


# Rows shown per section of the home page: the earliest deadlines; the
# register lists the others. Each row is a line to read and a model to load:
# at 100,000 requests a DG's five sections of 50 rows cost more than every
# query of the page (bench/home_bench.py).
HOME_ROWS = 20


@dataclass(frozen=True)
class HomeSection:
    key: str
    title: Any
    help_text: Any
    rows: list[ListRow]
    # How many requests the section holds, when known (a work queue), and
    # whether it holds more than its rows.
    count: int | None
    more: bool


def _overriding(visible: QuerySet[DisclosureRequest]) -> QuerySet[DisclosureRequest]:
    """The open requests among `visible` whose current opinion, or a review of
    it, overrides a blocking alert or an unmet condition (a superseded
    opinion, returned then written again, no longer speaks for the request).

    Written from the open requests towards their opinions and reviews, which
    carry a partial index on the overriding ones: asked the other way, the
    question scanned every opinion and review ever written."""
    open_visible = visible.filter(open_requests()).values("pk")
    superseded = Exists(
        Opinion.objects.filter(request=OuterRef("request"), number__gt=OuterRef("number"))
    )
    opinion_superseded = Exists(
        Opinion.objects.filter(request=OuterRef("request"), number__gt=OuterRef("opinion__number"))
    )
    by_opinion = (
        Opinion.objects.filter(request__in=open_visible)
        .exclude(override_reason="")
        .exclude(superseded)
        .values("request_id")
    )
    by_review = (
        Review.objects.filter(request__in=open_visible)
        .exclude(override_reason="")
        .exclude(opinion_superseded)
        .values("request_id")
    )
    return visible.filter(Q(pk__in=by_opinion) | Q(pk__in=by_review), open_requests())


def home_sections(user: User) -> list[HomeSection]:
    """The user's work queues, then the lists their role follows."""
    roles = user.roles_on()
    candidates, members = _queue_members(user, None)
    shown = [(queue, pks) for queue, pks in members if pks or roles & set(queue.shown_empty_to)]
    rows = candidates.list_rows([pk for _, pks in shown for pk in pks[:HOME_ROWS]])  # one query
    sections = [
        HomeSection(
            queue.key,
            queue.title,
            queue.help_text,
            [rows[pk] for pk in pks[:HOME_ROWS]],
            count=len(pks),
            more=len(pks) > HOME_ROWS,
        )
        for queue, pks in shown
    ]
    visible = visible_requests(user)
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
                _overriding(visible),
            )
        )
    if Role.REFERENT in roles:
        lists.append(
            (
                "mine",
                _("My requests"),
                _("Open requests assigned to you, the earliest deadline first"),
                # A referent's own list says which opinions came back to them.
                visible.filter(open_requests(), referent=user).annotate(
                    was_returned=returned_with_remarks()
                ),
            )
        )
    today = timezone.localdate()
    for key, title, help_text, qs in lists:
        columns = [*REGISTER_COLUMNS, *(["was_returned"] if key == "mine" else [])]
        found = [
            _row(values, today, values.get("was_returned", False))
            for values in qs.order_by(*BY_DUE).values(*columns)[: HOME_ROWS + 1]
        ]
        sections.append(
            HomeSection(
                key, title, help_text, found[:HOME_ROWS], count=None, more=len(found) > HOME_ROWS
            )
        )
    return sections


# ---------------------------------------------------------------------------
# One request


def acknowledges_receipt(requester_kind: str) -> bool:
    """The administrator asks for an acknowledgement of receipt of the
    written, admissible requests of this kind."""
    return DefaultDeadline.objects.filter(
        requester_kind=requester_kind, acknowledge_receipt=True
    ).exists()


def detail_queryset(*, content: bool = True) -> QuerySet[DisclosureRequest]:
    """A request with everything its pages show, in a number of queries that
    does not grow with its opinions, items, reviews or letters: one-to-one
    and forward relations are joined to their prefetch (an opinion item's
    basis, a review's opinion), never loaded one row at a time.

    `content=False` for a reader who does not see the request's content (the
    secretariat): the persons, opinions and reviews are not fetched. Neither
    the request followed up on (`follows`, set on 1 % of requests, loaded
    when set) nor the letters' legal bases (only the letter's rendering reads
    them) are fetched here: each would cost every page a join or a query."""
    lookups: list[str | Prefetch[Any]] = [
        # Their references only: a request row is wide.
        Prefetch(
            "follow_ups", queryset=DisclosureRequest.objects.only("id", "reference", "follows")
        ),
        # Every letter, superseded ones included: the history shows them.
        Prefetch("replies", queryset=Reply.objects.select_related("document").order_by("pk")),
        "replies__items",
        Prefetch("replies__signatures", queryset=Signature.objects.select_related("signer")),
        Prefetch(
            "replies__declines", queryset=SignatureDecline.objects.select_related("declined_by")
        ),
        Prefetch(
            "corrections", queryset=RegistrationCorrection.objects.select_related("corrected_by")
        ),
    ]
    if content:
        lookups += [
            "persons",
            Prefetch(
                "opinions",
                queryset=Opinion.objects.select_related("author").prefetch_related(
                    Prefetch("items", queryset=OpinionItem.objects.select_related("legal_basis")),
                    "legal_bases",
                    Prefetch(
                        "checklist_answers",
                        queryset=ChecklistAnswer.objects.select_related("legal_basis"),
                    ),
                ),
            ),
            Prefetch("reviews", queryset=Review.objects.select_related("reviewer", "opinion")),
        ]
    return DisclosureRequest.objects.select_related("referent", "registered_by").prefetch_related(
        *lookups
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

# Sort keys offered on the register: public name -> ORDER BY, ties broken by
# reference. Each order has its own index (DisclosureRequest.Meta.indexes)
# and ends in the unique (year, number): the order is total, so a row's
# place in it is a keyset cursor.
REGISTER_SORTS: dict[str, tuple[str | Expression, ...]] = {
    "reference": ("year", "number"),
    "received_on": ("received_on", "year", "number"),
    "due_on": (REGISTER_DUE_ON, "year", "number"),
    "state": ("state", "year", "number"),
    "requester": ("requester_name", "year", "number"),
}
DEFAULT_SORT = "-reference"
# The result count is exact up to this many; beyond, the page says "more than".
COUNT_LIMIT = 1000
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
# Never read for a list: what the request asks, its address, its provisions.
REGISTER_LONG_TEXT = (
    "requester_address",
    "cited_provision",
    "information_requested",
    "annulment_reason",
    "documents",
    "inadmissibility_reasons",
)
# What a row of the list shows, and nothing else (no long text).
REGISTER_COLUMNS = (
    "pk",
    "reference",
    "received_on",
    "requester_kind",
    "requester_name",
    "state",
    "due_on",
    "referent__first_name",
    "referent__last_name",
    "referent__username",
)


@dataclass(frozen=True)
class RegisterOrder:
    sort: str  # as asked, or the default when unknown
    keys: tuple[Expression | F, ...]
    descending: bool

    def order_by(self, *, reverse: bool = False) -> list[OrderBy]:
        descending = self.descending != reverse
        return [key.desc() if descending else key.asc() for key in self.keys]


def register_sort(sort: str) -> RegisterOrder:
    """The sort actually applied (unknown keys fall back to the default)."""
    key = sort.removeprefix("-")
    if key not in REGISTER_SORTS:
        sort, key = DEFAULT_SORT, DEFAULT_SORT.removeprefix("-")
    keys = tuple(F(k) if isinstance(k, str) else k for k in REGISTER_SORTS[key])
    return RegisterOrder(sort, keys, sort.startswith("-"))


def uses_content_criteria(criteria: dict[str, Any]) -> bool:
    return any(criteria.get(name) for name in CONTENT_CRITERIA)


def person_match(text: str) -> Q | None:
    """Persons whose name holds every word of `text`, accents and case aside
    (`search_name`, trigram-indexed on PostgreSQL), or whose national number
    is `text`'s eleven digits."""
    digits = "".join(c for c in text if c.isdigit())
    by_number = Q(national_number=digits) if len(digits) == 11 else None
    if by_number is not None and not any(c.isalpha() for c in text):
        return by_number  # "90.05.17-001.56" is a number, not a name
    words = dict.fromkeys(search_key(text).split())
    if not words:
        return by_number
    by_name = Q(*(Q(search_name__contains=word) for word in words))
    return by_name if by_number is None else by_name | by_number


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
    match = person_match(str(criteria.get("person") or ""))
    if match is not None:
        queryset = queryset.filter(
            pk__in=ConcernedPerson.objects.filter(match).values("request_id")
        )
    return queryset


class RowCompare(Expression):
    """`(a, b, c) > (x, y, z)`: the row comparison that lets a btree on
    (a, b, c) start right at a keyset cursor. PostgreSQL and SQLite (3.15+)
    compare rows in the order of their columns, as ORDER BY a, b, c does."""

    output_field = BooleanField()

    def __init__(self, keys: Sequence[Expression | F], operator: str, values: Sequence[Any]):
        super().__init__()
        self.keys: list[Any] = list(keys)
        self.operator = operator
        self.values: list[Any] = [Value(v) for v in values]

    def get_source_expressions(self) -> list[Any]:
        return [*self.keys, *self.values]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.keys, self.values = list(exprs[: len(self.keys)]), list(exprs[len(self.keys) :])

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        sides: list[str] = []
        params: list[Any] = []
        for side in (self.keys, self.values):
            sql = []
            for expression in side:
                part, part_params = compiler.compile(expression)
                sql.append(part)
                params.extend(part_params)
            sides.append(f"({', '.join(sql)})")
        return f"{sides[0]} {self.operator} {sides[1]}", tuple(params)


@dataclass(frozen=True, slots=True)
class ListRow:
    """One line of a list of requests (requests_app/_list.html), every value
    ready to print: the register builds these straight from its query, the
    home page from its model instances (`list_row`)."""

    pk: int
    reference: str
    url: str
    received_on: str  # d/m/Y
    requester_kind: str  # its label
    requester_name: str
    state: str
    state_label: str
    due_on: str  # d/m/Y, or "" when none
    urgency: str  # "overdue", "soon" (within three days) or ""
    referent: str  # the referent's name, or "" when none
    was_returned: bool = False


@cache
def _detail_url_parts(script_prefix: str) -> tuple[str, str]:
    # One reverse for every row: the detail URL is the same around the pk
    # (for a given script prefix, which reverse() reads).
    marker = 918273645
    prefix, suffix = reverse("requests_app:detail", args=[marker]).split(str(marker))
    return prefix, suffix


@cache
def _labels(language: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """The requester kinds' and the states' labels, translated once per language."""
    return (
        {value: str(label) for value, label in RequesterKind.choices},
        {value: str(label) for value, label in State.choices},
    )


OPEN_STATE_VALUES = frozenset(s.value for s in OPEN_STATES)


def _urgency(state: str, due: date | None, today: date) -> str:
    # The model's is_overdue and is_nearly_late, for one `today` per list.
    if due is None or state not in OPEN_STATE_VALUES:
        return ""
    if due < today:
        return "overdue"
    return "soon" if due <= today + timedelta(days=3) else ""


def _person_name(first_name: str | None, last_name: str | None, username: str | None) -> str:
    # User.get_full_name, or the username when the names are empty; "" for nobody.
    if username is None:
        return ""
    return f"{first_name} {last_name}".strip() or username


def _row(values: dict[str, Any], today: date, was_returned: bool = False) -> ListRow:
    prefix, suffix = _detail_url_parts(get_script_prefix())
    kinds, states = _labels(get_language())
    state, due = values["state"], values["due_on"]
    first, last = values["referent__first_name"], values["referent__last_name"]
    return ListRow(
        pk=values["pk"],
        reference=values["reference"],
        url=f"{prefix}{values['pk']}{suffix}",
        received_on=f"{values['received_on']:%d/%m/%Y}",
        requester_kind=kinds.get(values["requester_kind"], values["requester_kind"]),
        requester_name=values["requester_name"],
        state=state,
        state_label=states.get(state, state),
        due_on=f"{due:%d/%m/%Y}" if due is not None else "",
        urgency=_urgency(state, due, today),
        referent=_person_name(first, last, values["referent__username"]),
        was_returned=was_returned,
    )


def list_row(item: DisclosureRequest | ListRow) -> ListRow:
    """A request as _list.html prints it (a ListRow is returned as it is)."""
    if isinstance(item, ListRow):
        return item
    referent = item.referent
    values = {
        "pk": item.pk,
        "reference": item.reference,
        "received_on": item.received_on,
        "requester_kind": item.requester_kind,
        "requester_name": item.requester_name,
        "state": item.state,
        "due_on": item.due_on,
        "referent__first_name": referent.first_name if referent else None,
        "referent__last_name": referent.last_name if referent else None,
        "referent__username": referent.username if referent else None,
    }
    return _row(values, timezone.localdate(), bool(getattr(item, "was_returned", False)))


@dataclass(frozen=True)
class RegisterPage[T]:
    """One page of the register: its rows, the count of every match (exact up
    to COUNT_LIMIT), and the cursors of the neighbouring pages: the pk of the
    row they start after or end before, never a sorted value (a name)."""

    object_list: list[T]
    count: int
    count_is_exact: bool
    after: int | None  # the next page starts after this row
    before: int | None  # the previous page ends before this row
    is_first: bool


def page_cursor(value: str | None) -> int | None:
    """A page cursor from an address: a row's pk, or nothing (the first page)."""
    if value and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def register_queryset(user: User, criteria: dict[str, Any] | None) -> QuerySet[DisclosureRequest]:
    """Every request of the register `user` may list, narrowed by `criteria`."""
    queryset = visible_requests(user)
    if criteria is not None:
        queryset = search_register(queryset, criteria)
    return queryset


def _keyset_page[T](
    user: User,
    criteria: dict[str, Any] | None,
    order: RegisterOrder,
    fetch: Callable[[QuerySet[DisclosureRequest], int], list[T]],
    pk_of: Callable[[T], int],
    after: int | None,
    before: int | None,
) -> RegisterPage[T]:
    """The page that starts after the row `after` (or ends before the row
    `before`) in `order`, its rows read by `fetch(queryset, limit)`: keyset
    pagination, so a deep page costs what the first does. A cursor that names
    no row the user may list gives the first page. Two or three queries: the
    cursor's sort values, the rows, and the count when the rows do not tell it.
    """
    queryset = register_queryset(user, criteria)
    cursor_pk = before if before is not None else after
    backwards = before is not None
    position = None
    if cursor_pk is not None:
        names = [f"key{i}" for i in range(len(order.keys))]
        found = (
            visible_requests(user)
            .filter(pk=cursor_pk)
            .annotate(**dict(zip(names, order.keys, strict=True)))
            .order_by()
            .values_list(*names)[:1]
        )
        position = next(iter(found), None)
    page = queryset
    if position is not None:
        # Forwards in an ascending order, or backwards in a descending one: greater.
        operator = ">" if order.descending == backwards else "<"
        page = page.filter(RowCompare(order.keys, operator, position))
    else:
        backwards = False
    rows = fetch(page.order_by(*order.order_by(reverse=backwards)), PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    if backwards:
        rows.reverse()
        if not more:
            # Back at the start: show the first page whole.
            return _keyset_page(user, criteria, order, fetch, pk_of, None, None)
    if position is None and not more:
        count = len(rows)
    else:
        count = queryset.order_by()[: COUNT_LIMIT + 1].count()
    first_pk, last_pk = (pk_of(rows[0]), pk_of(rows[-1])) if rows else (None, None)
    return RegisterPage(
        object_list=rows,
        count=min(count, COUNT_LIMIT),
        count_is_exact=count <= COUNT_LIMIT,
        after=last_pk if (more or backwards) else None,
        before=first_pk if (position is not None and (more or not backwards)) else None,
        is_first=position is None,
    )


def register_page(
    user: User,
    criteria: dict[str, Any] | None,
    order: RegisterOrder,
    *,
    after: int | None = None,
    before: int | None = None,
) -> RegisterPage[ListRow]:
    """A page of the register as the page lists it (`_keyset_page`): only the
    columns shown, each row ready to print."""

    def fetch(queryset: QuerySet[DisclosureRequest], limit: int) -> list[ListRow]:
        today = timezone.localdate()
        return [_row(values, today) for values in queryset.values(*REGISTER_COLUMNS)[:limit]]

    return _keyset_page(user, criteria, order, fetch, lambda row: row.pk, after, before)


def register_entries(
    user: User,
    criteria: dict[str, Any] | None,
    *,
    after: int | None = None,
    before: int | None = None,
) -> RegisterPage[DisclosureRequest]:
    """A page of the register for the API, newest first: the requests
    themselves, for its serializer (metadata only: the long texts deferred)."""

    def fetch(queryset: QuerySet[DisclosureRequest], limit: int) -> list[DisclosureRequest]:
        return list(queryset.defer(*REGISTER_LONG_TEXT)[:limit])

    order = register_sort(DEFAULT_SORT)
    return _keyset_page(user, criteria, order, fetch, lambda dr: dr.pk, after, before)


# --- Outcomes and disclosures: the DPO's desk reads these (dpo/). -------------


class Outcome(TextChoices):
    """How a request ended, as the statistics and the retention schedule count it."""

    DISCLOSED = "disclosed", _("Disclosed")
    DISCLOSED_IN_PART = "disclosed_in_part", _("Disclosed in part")
    REFUSED = "refused", _("Refused")
    INADMISSIBLE = "inadmissible", _("Inadmissible")
    ORAL = "oral", _("Oral request, not processed")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    ANNULLED = "annulled", _("Annulled")
    # A person's own access request (GDPR art. 15) answered: no secret was lifted.
    ACCESS_ANSWERED = "access_answered", _("Access request answered")
    OPEN = "open", _("Not answered yet")


ANSWERED_STATES = (State.DISPATCHED, State.CLOSED)


def _current_answer() -> QuerySet[Reply]:
    """The request's current letter that answers it (not an acknowledgement)."""
    return (
        Reply.objects.filter(request=OuterRef("pk"), superseded_at__isnull=True)
        .exclude(kind=ReplyKind.ACKNOWLEDGEMENT)
        .order_by()
    )


def outcome_expression() -> Case:
    """The request's `Outcome` as one SQL expression, to annotate or group by.

    A reply leaves the CPAS when it is dispatched: until then the request is
    open, whatever is decided. A disclosure is "in part" when the DG amended
    the proposal or the decided proposal was to disclose in part.
    """
    answer = _current_answer()
    in_part = answer.filter(kind=ReplyKind.DISCLOSURE).filter(
        Q(decided_by_review__outcome=Review.Outcome.AMENDED)
        | Q(
            decided_by_review__outcome=Review.Outcome.APPROVED,
            decided_by_review__opinion__proposal=Proposal.DISCLOSE_IN_PART,
        )
        | Q(decided_by_opinion__proposal=Proposal.DISCLOSE_IN_PART)
    )
    answered = Q(state__in=ANSWERED_STATES)
    return Case(
        When(state=State.CLOSED_ORAL, then=Value(Outcome.ORAL.value)),
        When(state=State.WITHDRAWN, then=Value(Outcome.WITHDRAWN.value)),
        When(state=State.ANNULLED, then=Value(Outcome.ANNULLED.value)),
        When(
            answered & Exists(answer.filter(kind=ReplyKind.REFUSAL)),
            then=Value(Outcome.REFUSED.value),
        ),
        When(
            answered & Exists(answer.filter(kind=ReplyKind.INADMISSIBILITY)),
            then=Value(Outcome.INADMISSIBLE.value),
        ),
        When(
            answered & Exists(answer.filter(kind=ReplyKind.ACCESS)),
            then=Value(Outcome.ACCESS_ANSWERED.value),
        ),
        When(answered & Exists(in_part), then=Value(Outcome.DISCLOSED_IN_PART.value)),
        When(
            answered & Exists(answer.filter(kind=ReplyKind.DISCLOSURE)),
            then=Value(Outcome.DISCLOSED.value),
        ),
        default=Value(Outcome.OPEN.value),
        output_field=CharField(),
    )


def with_outcome(requests: QuerySet[DisclosureRequest]) -> QuerySet[DisclosureRequest]:
    return requests.annotate(outcome=outcome_expression())


def secret_from_the_person() -> set[int]:
    """Ids of the catalogue rows whose requests the person must not learn of
    (the procureur's terrorism request, C.C. 44/2019): the catalogue's
    ADMINISTRATIVE_ONLY feature says so, not a code written here."""
    return {
        pk
        for pk, features in LegalBasis.objects.values_list("pk", "features")
        if Feature.ADMINISTRATIVE_ONLY in (features or [])
    }


def person_lookup(
    *, national_number: str = "", last_name: str = "", birth_date: date | None = None
) -> Q:
    """The persons concerned that a search by national number, or by last
    name and birth date, designates (on `ConcernedPerson`). Names compare as
    `search_key` writes them: case, accents and spaces do not matter."""
    if national_number:
        return Q(national_number=national_number)
    key = search_key(last_name)
    if not key or birth_date is None:
        raise ValueError("a national number, or a last name and a birth date")
    return Q(birth_date=birth_date) & (Q(search_name=key) | Q(search_name__startswith=key + " "))


@dataclass(frozen=True)
class Disclosure:
    """One piece of information that left the CPAS about a person."""

    request_id: int
    reference: str
    dispatched_on: date
    requester_kind: str
    requester_organisation: str
    legal_basis_code: str
    legal_basis_title: str
    legal_basis_citation: str
    data_category: str


def disclosures_about(person: Q) -> list[Disclosure]:
    """Every disclosure about the persons `person` designates, oldest first:
    the items of dispatched disclosure letters. A request the law keeps secret
    from the person (`withheld_from_the_person`) is left out, and so is any
    letter resting on such a basis: they are never listed here, so that the
    register and the reply to the person's own access request agree."""
    secret = secret_from_the_person()
    requests = ConcernedPerson.objects.filter(person).values("request_id")
    replies = Reply.objects.filter(
        request_id__in=Subquery(requests),
        kind=ReplyKind.DISCLOSURE,
        superseded_at__isnull=True,
        request__state__in=ANSWERED_STATES,
        request__dispatched_on__isnull=False,
    )
    if secret:
        replies = (
            replies.exclude(legal_bases__in=secret)
            .exclude(items__legal_basis__in=secret)
            .exclude(request_id__in=withheld_from_the_person(person))
        )
    items = (
        ReplyItem.objects.filter(reply__in=replies)
        .order_by("reply__request__dispatched_on", "reply__request__reference", "position")
        .values_list(
            "reply__request_id",
            "reply__request__reference",
            "reply__request__dispatched_on",
            "reply__request__requester_kind",
            "reply__request__requester_organisation",
            "legal_basis__code",
            "legal_basis__title_fr",
            "legal_basis__citation",
            "data_category",
        )
    )
    return [
        Disclosure(pk, reference, dispatched, kind, organisation, code, title, citation, category)
        for pk, reference, dispatched, kind, organisation, code, title, citation, category in items
        # Always set: the filter above asks for it.
        if dispatched is not None
    ]


# --- The person's own access request (the GDPR's right of access) ---------------------------


def access_person(disclosure_request: DisclosureRequest) -> Q | None:
    """The persons concerned an access request designates (on `ConcernedPerson`):
    the requester themself, by national number or by last name and birth date
    (either matches: older requests may hold only one of them). None when the
    request identifies nobody that precisely."""
    designated: Q | None = None
    for person in disclosure_request.persons.all():
        if person.national_number:
            found = person_lookup(national_number=person.national_number)
            designated = found if designated is None else designated | found
        if person.last_name.strip() and person.birth_date is not None:
            found = person_lookup(last_name=person.last_name, birth_date=person.birth_date)
            designated = found if designated is None else designated | found
    return designated


def access_bases(day: date) -> list[LegalBasis]:
    """The catalogue's bases on which the person asks for their own data: the
    request bases in force on `day` written for the person concerned (a card
    open to every requester, such as consent, is not one of them)."""
    from legal_basis.models import BasisRole

    return [
        basis
        for basis in LegalBasis.objects.in_force_on(day).order_by("code")
        if basis.role == BasisRole.REQUEST_BASIS
        and RequesterKind.PERSON_CONCERNED in basis.requester_kinds
    ]


def withheld_from_the_person(person: Q) -> list[int]:
    """Ids of the requests about the persons `person` designates that the law
    keeps secret from them (the catalogue's ADMINISTRATIVE_ONLY feature): a request whose
    opinion, decision or letter rests on a basis with the ADMINISTRATIVE_ONLY
    feature, or whose cited provision names one. Never listed in a reply to
    the person; the DG sees them on the access request."""
    from legal_basis.flags import matching_bases

    from .models import RequestKind

    secret = secret_from_the_person()
    if not secret:
        return []
    about = DisclosureRequest.objects.filter(
        pk__in=Subquery(ConcernedPerson.objects.filter(person).values("request_id")),
        kind=RequestKind.LIFT_SECRECY,
    )
    resting = about.filter(
        Q(opinions__legal_bases__in=secret)
        | Q(replies__legal_bases__in=secret)
        | Q(replies__items__legal_basis__in=secret)
    ).values_list("pk", flat=True)
    withheld = set(resting)
    bases = list(LegalBasis.objects.filter(pk__in=secret))
    for pk, cited in about.exclude(cited_provision="").values_list("pk", "cited_provision"):
        if matching_bases(cited, bases):
            withheld.add(pk)
    return sorted(withheld)


@dataclass(frozen=True)
class AccessSummary:
    """What the reply to an access request tells the person about their data."""

    # DataCategory values held about the person, in the order of DataCategory.
    categories: list[str]
    # The disclosures about them (recipients), those secret from the person left out.
    recipients: list[Disclosure]
    # Requests about them (the access request itself included) the reply accounts for.
    requests: int
    # Requests left out: the law keeps them secret from the person.
    withheld_request_ids: list[int]


def access_summary(disclosure_request: DisclosureRequest) -> AccessSummary:
    """The data an access request's reply lists: the categories of data held
    about the person (their identification, recorded on each request about
    them, and the categories of the information disclosed), the recipients of
    the disclosures, and the requests left out because the law keeps them
    secret from the person. Nothing about third parties: no other person
    concerned, no description written about the information, no requester's
    name (the recipients are named by kind and organisation)."""
    from legal_basis.models import DataCategory

    person = access_person(disclosure_request)
    if person is None:
        return AccessSummary([DataCategory.IDENTIFICATION.value], [], 1, [])
    withheld = withheld_from_the_person(person)
    about = (
        ConcernedPerson.objects.filter(person)
        .exclude(request_id__in=withheld)
        .values_list("request_id", flat=True)
    )
    request_ids = {*about, disclosure_request.pk}
    recipients = [d for d in disclosures_about(person) if d.request_id not in withheld]
    held = {DataCategory.IDENTIFICATION.value} | {d.data_category for d in recipients}
    categories = [c for c in DataCategory.values if c in held]
    return AccessSummary(categories, recipients, len(request_ids), withheld)
