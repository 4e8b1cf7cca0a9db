"""What each person has to do, for the daily reminder e-mails.

The e-mails carry references and links only: never names, requesters or
content, since e-mail leaves the CPAS's control.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import DisclosureRequest, Role, Signature, State, User


@dataclass(frozen=True)
class Task:
    reference: str
    pk: int
    what: str
    due_on: str
    is_late: bool


def _task(dr: DisclosureRequest, what: str) -> Task:
    return Task(
        reference=dr.reference,
        pk=dr.pk,
        what=what,
        due_on=dr.due_on.strftime("%d/%m/%Y") if dr.due_on else "",
        is_late=dr.is_overdue,
    )


def tasks_by_user() -> dict[User, list[Task]]:
    """Every open step, keyed by the active users who can take it today."""
    today = timezone.localdate()
    users = list(User.objects.filter(is_active=True).prefetch_related("groups").order_by("pk"))
    for user in users:
        user.roles_on(today)
    tasks: dict[User, list[Task]] = defaultdict(list)
    base: QuerySet[DisclosureRequest] = DisclosureRequest.objects.order_by("due_on", "pk")
    to_assign = list(base.filter(state=State.AWAITING_ASSIGNMENT))
    to_review = list(base.filter(state=State.AWAITING_REVIEW))
    to_dispatch = list(base.filter(state__in=[State.SIGNED, State.DISPATCHED]))
    to_sign = list(
        base.filter(state__in=[State.AWAITING_SIGNATURES, State.PARTIALLY_SIGNED])
        .select_related("reply")
        .prefetch_related("reply__signatures")
    )
    opinions = list(base.filter(state=State.AWAITING_OPINION, referent__isnull=False))
    for user in users:
        roles = user.roles_on(today)
        if Role.PRESIDENT in roles:
            tasks[user] += [_task(dr, _("assign to a referent")) for dr in to_assign]
        if Role.DIRECTOR_GENERAL in roles:
            tasks[user] += [_task(dr, _("review the legality of the opinion")) for dr in to_review]
        if Role.SECRETARIAT in roles:
            tasks[user] += [
                _task(dr, _("dispatch the reply") if dr.state == State.SIGNED else _("close"))
                for dr in to_dispatch
            ]
        for dr in to_sign:
            if dr.referent_id == user.pk:
                continue
            signatures: list[Signature] = list(dr.reply.signatures.all())
            if any(s.signer_id == user.pk for s in signatures):
                continue
            taken = {s.capacity for s in signatures}
            if any(c in roles and c not in taken for c in (Role.PRESIDENT, Role.DIRECTOR_GENERAL)):
                tasks[user].append(_task(dr, _("sign the reply")))
        tasks[user] += [
            _task(dr, _("write the opinion")) for dr in opinions if dr.referent_id == user.pk
        ]
    return {user: found for user, found in tasks.items() if found}
