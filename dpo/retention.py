"""The retention schedule: what is due, the run that removes it, legal holds.

A request that is no longer open is kept whole for the years its outcome's
rule says (`RetentionRule`, else `DEFAULT_YEARS`), counted from the day it
ended (`ended_on`: the day it was closed, withdrawn, annulled or closed as
oral; for a reply dispatched and not yet closed, the dispatch day; the
reception day if neither is known). After that, `apply_retention` removes
what identifies a person and keeps what the statistics count:

- removed: the persons concerned (rows), the scan (file and field), the
  letters' PDFs (files, `ReplyDocument` rows and their `DocumentValidation`
  records), and every free-text field of the request and of its records
  (opinions, checklist answers, items, reviews, replies, declines,
  corrections, lifted legal holds). A text that held something is replaced
  by `REMOVED` (some must stay non-blank: a decline's remarks, a
  correction's reason, a hold's reasons); a short text field (names,
  references, numbers) is emptied; a JSON field of free values is emptied.
- kept: the reference, year and number, the dates, the channel, the
  requester's kind, function and civility (codes), the state and the
  outcome, the legal bases, the items' data categories, the codes
  (inadmissibility reasons, supporting documents, withdrawal reason), the
  staff who acted, and the audit trail, which holds no personal data.

A request held (`LegalHold` not lifted), or with an open follow-up, is
kept. Every request run sets `personal_data_removed_at`: a second run finds
nothing more to do.

The requests go by batches, one transaction each, ending with the audit
append of their events (one per request); a last transaction appends the
run's event with the counts. Files are deleted after each batch commits
(`transaction.on_commit`): the audit chain's head, locked by the append at
the end of the transaction, is never held while the disk works, and a
transaction that fails leaves every file where its row still points. A file whose deletion
fails after the commit is referenced by no row any more: it is logged (by
its server-generated name) and `manage.py sweep_orphan_files --delete`
removes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import models, transaction
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from audit import log
from common.storage import private_storage
from letters.models import DocumentValidation, ReplyDocument
from requests_app.audit_objects import OBJECT_TYPE
from requests_app.errors import ActionRefused, NotAllowed
from requests_app.models import (
    OPEN_STATES,
    ChecklistAnswer,
    ConcernedPerson,
    DisclosureRequest,
    Opinion,
    OpinionItem,
    RegistrationCorrection,
    Reply,
    ReplyItem,
    Review,
    Signature,
    SignatureDecline,
    State,
)
from requests_app.queries import ANSWERED_STATES, Outcome, with_outcome
from requests_app.services import recording_refusals

from .access import may_hold
from .models import RETAINED_OUTCOMES, LegalHold, RetentionRule

logger = logging.getLogger(__name__)

# What a removed text reads afterwards: language-neutral, nothing in it.
REMOVED = "—"

# Years kept after the request ended, when the administrator set no rule
# (docs/retention.md says why; [V] to check against the Archives de l'État's
# retention table for CPAS records). Migration dpo 0002 seeds these rules.
DEFAULT_YEARS: dict[str, int] = {
    Outcome.DISCLOSED: 10,
    Outcome.DISCLOSED_IN_PART: 10,
    Outcome.REFUSED: 10,
    Outcome.INADMISSIBLE: 10,
    Outcome.WITHDRAWN: 5,
    Outcome.ORAL: 5,
    Outcome.ANNULLED: 5,
    Outcome.ACCESS_ANSWERED: 5,
}

# Free-text-looking fields that are codes or references, kept.
_KEPT_FIELDS: dict[type[models.Model], frozenset[str]] = {
    DisclosureRequest: frozenset({"reference", "documents", "inadmissibility_reasons"}),
    RegistrationCorrection: frozenset({"fields"}),
}

# Where the data of a request lives, as (model, lookup to the request id).
# Persons and letters' documents are deleted; the others lose their texts.
_SCRUBBED: tuple[tuple[type[models.Model], str], ...] = (
    (DisclosureRequest, "pk"),
    (Opinion, "request_id"),
    (ChecklistAnswer, "opinion__request_id"),
    (OpinionItem, "opinion__request_id"),
    (Review, "request_id"),
    (Reply, "request_id"),
    (ReplyItem, "reply__request_id"),
    (Signature, "reply__request_id"),
    (SignatureDecline, "reply__request_id"),
    (RegistrationCorrection, "request_id"),
    (LegalHold, "request_id"),
)
# Deleted with the request's data.
DELETED_MODELS: tuple[type[models.Model], ...] = (
    ConcernedPerson,
    ReplyDocument,
    DocumentValidation,
)
SCRUBBED_MODELS: tuple[type[models.Model], ...] = tuple(model for model, _ in _SCRUBBED)

RUN_OBJECT = "retention"
# Requests removed per transaction (and audit append).
BATCH = 500
# Up to this many candidates, their outcomes are computed by id.
FEW_CANDIDATES = 3000

# The states that end a request, and the outcome each gives
# (requests_app.queries.outcome_expression); the answered ones get theirs
# from the letter. A request in any other state is open: never removed.
STATE_OUTCOMES: dict[str, str] = {
    State.CLOSED_ORAL: Outcome.ORAL,
    State.WITHDRAWN: Outcome.WITHDRAWN,
    State.ANNULLED: Outcome.ANNULLED,
}


# ---------------------------------------------------------------------------
# The schedule and what is due


@dataclass(frozen=True)
class ScheduleRow:
    outcome: str
    label: str
    years: int
    is_default: bool


def schedule() -> list[ScheduleRow]:
    """The rule of each outcome: the administrator's, else the default."""
    set_by_admin = dict(RetentionRule.objects.values_list("outcome", "years"))
    return [
        ScheduleRow(
            outcome=o.value,
            label=str(o.label),
            years=set_by_admin.get(o.value, DEFAULT_YEARS[o.value]),
            is_default=o.value not in set_by_admin,
        )
        for o in RETAINED_OUTCOMES
    ]


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (29 February gives the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def ended_on_expression() -> Coalesce:
    return Coalesce(
        TruncDate("closed_at"),
        "dispatched_on",
        "received_on",
        output_field=models.DateField(),
    )


@dataclass(frozen=True)
class Due:
    """A request past its retention whose data is still there."""

    pk: int
    reference: str
    outcome: str
    ended_on: date
    due_since: date
    held: bool

    @property
    def outcome_label(self) -> str:
        return str(Outcome(self.outcome).label)


def due_requests(today: date | None = None) -> list[Due]:
    """The requests past their retention whose data is still there, held ones
    included (for the report), oldest first.

    SQL keeps the requests old enough for the shortest rule their state
    allows (the answered ones for the shortest rule of an answer, the others
    for their own) and computes each one's outcome once; the rule of its
    outcome is applied here. (Filtering on the outcome in SQL repeats its
    subqueries in every branch of the condition: seconds at 100,000
    requests.)
    """
    today = today or timezone.localdate()
    years = {row.outcome: row.years for row in schedule()}
    # Old enough for the rule its state allows: the outcome (subqueries) is
    # then computed for few requests, those about due and those held.
    answered = [years[o] for o in years if o not in STATE_OUTCOMES.values()]
    old_enough = Q(state__in=ANSWERED_STATES, ended_on__lte=years_before(today, min(answered)))
    for state, outcome in STATE_OUTCOMES.items():
        old_enough |= Q(state=state, ended_on__lte=years_before(today, years[outcome]))
    open_follow_up = DisclosureRequest.objects.filter(
        follows=OuterRef("pk"), state__in=[*OPEN_STATES, State.RECEIVED]
    )
    # Annotations, which the type stubs cannot see: named through a tuple.
    fields = ("pk", "reference", "ended_on", "held")
    old = (
        DisclosureRequest.objects.filter(personal_data_removed_at__isnull=True)
        .annotate(ended_on=ended_on_expression())
        .filter(old_enough)
        # The open examination of a follow-up may need the earlier file.
        .filter(~Exists(open_follow_up))
    )
    candidates = list(
        old.annotate(held=Exists(LegalHold.objects.active().filter(request=OuterRef("pk"))))
        .order_by("ended_on", "year", "number")
        .values_list(*fields)
    )
    # The outcome's subqueries build hashes of every reply: for a few
    # candidates (every day but the first runs), name them by their ids so
    # that the planner looks their replies up one by one instead.
    few = [pk for pk, *_ in candidates] if len(candidates) <= FEW_CANDIDATES else None
    outcomes: dict[int, str] = dict(
        with_outcome(
            DisclosureRequest.objects.filter(pk__in=few) if few is not None else old
        ).values_list(*("pk", "outcome"))
    )
    return [
        Due(pk, reference, outcome, ended_on, due_on(ended_on, years[outcome]), held)
        for pk, reference, ended_on, held in candidates
        if (outcome := outcomes.get(pk, Outcome.OPEN)) in years
        and ended_on <= years_before(today, years[outcome])
    ]


def due_on(ended_on: date, years: int) -> date:
    """The first day a request that ended on `ended_on` is due."""
    try:
        return ended_on.replace(year=ended_on.year + years)
    except ValueError:
        return ended_on.replace(year=ended_on.year + years, month=3, day=1)


# ---------------------------------------------------------------------------
# The run


@dataclass
class RetentionResult:
    dry_run: bool
    requests: int = 0
    persons: int = 0
    scans: int = 0
    letters: int = 0
    held: int = 0
    # Files left on disk because their deletion failed (after the commit).
    files_not_deleted: int = 0
    references: list[str] = field(default_factory=list)

    def details(self, rules: dict[str, int]) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "persons": self.persons,
            "scans": self.scans,
            "letters": self.letters,
            "held": self.held,
            "rules": rules,
        }


def _scrub_updates(model: type[models.Model]) -> dict[str, Any]:
    """The update that removes the free text of `model`'s rows."""
    kept = _KEPT_FIELDS.get(model, frozenset())
    updates: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        if f.name in kept or f.choices or f.primary_key or f.is_relation:
            continue
        if isinstance(f, models.FileField):
            updates[f.name] = ""
        elif isinstance(f, models.TextField):
            updates[f.name] = Case(
                When(**{f.name: ""}, then=Value("")),
                default=Value(REMOVED),
                output_field=models.TextField(),
            )
        elif isinstance(f, models.CharField):
            updates[f.name] = ""
        elif isinstance(f, models.JSONField):
            updates[f.name] = f.get_default()
    return updates


def _file_names(queryset: QuerySet[Any], field_name: str) -> list[str]:
    return [
        name
        for name in queryset.exclude(**{field_name: ""}).values_list(field_name, flat=True)
        if name
    ]


def _delete_files(names: Iterable[str], result: RetentionResult) -> None:
    for name in names:
        try:
            private_storage.delete(name)
        except OSError:
            result.files_not_deleted += 1
            # Names are server-generated (uuid): nothing personal in this line.
            logger.error("retention: %s could not be deleted (sweep_orphan_files)", name)


def _remove(
    ids: list[int], result: RetentionResult
) -> tuple[list[str], dict[int, dict[str, Any]]]:
    """Remove the data of requests `ids` (locked); return the files to delete
    after the commit and, per request, the counts for its audit event."""
    per_request: dict[int, dict[str, Any]] = {
        pk: {"persons": 0, "scan": False, "letters": 0} for pk in ids
    }
    requests = DisclosureRequest.objects.filter(pk__in=ids)
    scans = dict(requests.exclude(scan="").values_list("pk", "scan"))
    for pk in scans:
        per_request[pk]["scan"] = True
    persons = ConcernedPerson.objects.filter(request_id__in=ids)
    for pk, count in persons.values_list("request_id").annotate(n=models.Count("pk")).order_by():
        per_request[pk]["persons"] = count
    documents = ReplyDocument.objects.filter(reply__request_id__in=ids)
    letter_files = _file_names(documents, "file")
    for pk, count in (
        documents.values_list("reply__request_id").annotate(n=models.Count("pk")).order_by()
    ):
        per_request[pk]["letters"] = count

    result.persons += persons.count()
    persons.delete()
    DocumentValidation.objects.filter(document__in=documents).delete()
    result.letters += documents.count()
    documents.delete()
    for model, lookup in _SCRUBBED:
        updates = _scrub_updates(model)
        if model is DisclosureRequest:
            # In the same statement: the checks allow an empty scan or
            # annulment reason only once the data is marked removed.
            updates["personal_data_removed_at"] = timezone.now()
        if updates:
            model._default_manager.filter(**{f"{lookup}__in": ids}).update(**updates)
    result.scans += len(scans)
    result.requests += len(ids)
    return [*scans.values(), *letter_files], per_request


def _remove_batch(due: list[Due], result: RetentionResult, actor_id: int | None) -> None:
    """One transaction: lock the requests, look at their holds again, remove
    their data, append one event per request last; the files go after the
    commit."""
    outcomes = {d.pk: d.outcome for d in due}
    with transaction.atomic():
        # A hold placed meanwhile committed before this lock (place_hold locks
        # the request too) is seen; one placed after it waits for the commit,
        # then finds the data removed.
        locked = list(
            DisclosureRequest.objects.select_for_update()
            .filter(pk__in=list(outcomes), personal_data_removed_at__isnull=True)
            .order_by("pk")
            .values_list("pk", "reference")
        )
        held_now = set(
            LegalHold.objects.active()
            .filter(request_id__in=[pk for pk, _ in locked])
            .values_list("request_id", flat=True)
        )
        ids = [pk for pk, _ in locked if pk not in held_now]
        if not ids:
            result.held += len(held_now)
            return
        files, per_request = _remove(ids, result)
        log.append_many(
            [
                {
                    "actor_id": actor_id,
                    "action": "retention_remove",
                    "object_type": OBJECT_TYPE,
                    "object_id": pk,
                    "details": {"request_outcome": outcomes[pk], **per_request[pk]},
                }
                for pk in ids
            ]
        )
        if files:
            transaction.on_commit(lambda: _delete_files(files, result))
    result.held += len(held_now)
    result.references += [ref for pk, ref in locked if pk not in held_now]


def apply_retention(
    *, actor: User | None = None, dry_run: bool = False, today: date | None = None
) -> RetentionResult:
    """Remove the data of every request past its retention and not held.

    The requests go by batches of `BATCH`, one transaction each, whose last
    statement appends their events (one per request): the audit chain's head
    is never locked for long, even on a first run with years of requests due.
    Then one transaction appends the run's event with the counts, also when
    nothing was due. A run stopped half-way leaves whole batches, each with
    its events: the next run does the rest. `dry_run` reads only: nothing is
    changed or recorded.
    """
    result = RetentionResult(dry_run=dry_run)
    rules = {row.outcome: row.years for row in schedule()}
    due = due_requests(today)
    held = sum(1 for d in due if d.held)
    candidates = [d for d in due if not d.held]
    if dry_run:
        pks = [d.pk for d in candidates]
        result.held = held
        result.requests = len(pks)
        result.references = [d.reference for d in candidates]
        result.persons = ConcernedPerson.objects.filter(request_id__in=pks).count()
        result.scans = DisclosureRequest.objects.filter(pk__in=pks).exclude(scan="").count()
        result.letters = ReplyDocument.objects.filter(reply__request_id__in=pks).count()
        return result
    result.held = held
    actor_id = actor.pk if actor else None
    for start in range(0, len(candidates), BATCH):
        _remove_batch(candidates[start : start + BATCH], result, actor_id)
    with transaction.atomic():
        log.append(
            actor_id=actor_id,
            action="retention_run",
            object_type=RUN_OBJECT,
            details=result.details(rules),
        )
    return result


# ---------------------------------------------------------------------------
# Legal holds


def place_hold(disclosure_request: DisclosureRequest, *, actor: User, reason: str) -> LegalHold:
    """Keep `disclosure_request` whatever the schedule says, until lifted.
    The reason stays on the hold; the audit event names the hold only."""
    with recording_refusals(actor, "place_legal_hold", disclosure_request):
        if not may_hold(actor):
            raise NotAllowed()
        reason = reason.strip()
        if not reason:
            raise ActionRefused(
                gettext("Give the reason for the hold."), cause="invalid_hold", http_status=400
            )
        with transaction.atomic():
            current = DisclosureRequest.objects.select_for_update().get(pk=disclosure_request.pk)
            if current.personal_data_removed_at is not None:
                raise ActionRefused(
                    gettext(
                        "The personal data of this request has already been removed: "
                        "there is nothing left to hold."
                    ),
                    cause="already_removed",
                )
            if LegalHold.objects.active().filter(request=current).exists():
                raise ActionRefused(gettext("This request is already held."), cause="already_held")
            hold = LegalHold.objects.create(request=current, reason=reason, placed_by=actor)
            log.append(
                actor_id=actor.pk,
                action="place_legal_hold",
                object_type=OBJECT_TYPE,
                object_id=current.pk,
                details={"hold_id": hold.pk},
            )
    return hold


def lift_hold(hold: LegalHold, *, actor: User, reason: str) -> LegalHold:
    """Lift a hold: the schedule applies to the request again."""
    with recording_refusals(actor, "lift_legal_hold", hold.request):
        if not may_hold(actor):
            raise NotAllowed()
        reason = reason.strip()
        if not reason:
            raise ActionRefused(
                gettext("Give the reason for lifting the hold."),
                cause="invalid_hold",
                http_status=400,
            )
        with transaction.atomic():
            current = LegalHold.objects.select_for_update().get(pk=hold.pk)
            if current.lifted_at is not None:
                raise ActionRefused(
                    gettext("This hold has already been lifted."), cause="already_lifted"
                )
            current.lift_reason = reason
            current.lifted_by = actor
            current.lifted_at = timezone.now()
            current.save(update_fields=["lift_reason", "lifted_by", "lifted_at"])
            log.append(
                actor_id=actor.pk,
                action="lift_legal_hold",
                object_type=OBJECT_TYPE,
                object_id=current.request_id,
                details={"hold_id": current.pk},
            )
    return current
