"""Use cases of Huis clos: the only code that changes a request's state or
writes the audit trail.

Each public function checks the actor's right on the object, runs the
transition declared on the model, saves and appends the audit event in one
transaction. A refused attempt (no right, wrong state, failed
re-authentication) changes nothing, is recorded as a `refused` event after
the rollback, and raises `ActionRefused` with a translated message for the user.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import django_fsm as fsm
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from guardian.shortcuts import assign_perm, remove_perm

from accounts import services as accounts
from accounts import throttling
from accounts.models import Role, User
from audit import log
from common.storage import (
    StorageUnavailable,
    kept_only_if_committed,
    private_storage,
    track_write,
)
from legal_basis import flags
from legal_basis.models import Effect, LegalBasis, RequesterKind, SupportingDocument
from letters import services as letters
from letters.models import DocumentValidation, ReplyDocument

from . import deadlines, queries, scan_checks
from .access import (
    CORRECTABLE_STATES,
    letter_paragraph_editable,
    may_correct_registration,
    record_refusal,
    sees_reply,
)
from .audit_objects import OBJECT_TYPE
from .errors import ActionRefused, NotAllowed
from .inputs import (
    AccessReplyData,
    ChecklistData,
    CorrectionData,
    IntakeData,
    ItemData,
    PersonData,
    RecipientData,
)
from .models import (
    SIGNING_STATES,
    Channel,
    ChecklistAnswer,
    Civility,
    ConcernedPerson,
    DisclosureRequest,
    DispatchChannel,
    IdentityVerification,
    InadmissibilityReason,
    Opinion,
    OpinionItem,
    Proposal,
    ReferenceCounter,
    RegistrationCorrection,
    Reply,
    ReplyItem,
    ReplyKind,
    RequesterFunction,
    RequestKind,
    Review,
    Signature,
    SignatureDecline,
    State,
    WithdrawalReason,
    may_prepare_acknowledgement,
    may_record_acknowledgement_dispatch,
    may_sign_acknowledgement,
)
from .permissions import VIEW_CONTENT, visible_requests
from .validation import ORAL_FORBIDDEN_PERSON_FIELDS, intake_date_errors

# ---------------------------------------------------------------------------
# Plumbing shared by every use case

__all__ = ["ActionRefused", "NotAllowed"]  # re-exported: callers catch them from here too


@contextmanager
def recording_refusals(
    actor: User, action: str, disclosure_request: DisclosureRequest | None
) -> Iterator[None]:
    """Record any refusal raised inside, after its transaction rolled back."""
    try:
        with kept_only_if_committed():
            yield
    except ActionRefused as refusal:
        # Bad input changes nothing, the trail included; refusals of the
        # procedure (rights, state, re-authentication) are security events.
        if refusal.http_status != 400:
            record_refusal(actor, action, disclosure_request, refusal.cause)
        raise
    except PermissionDenied:
        record_refusal(actor, action, disclosure_request, "permission_denied")
        raise NotAllowed() from None
    except fsm.ConcurrentTransition:
        record_refusal(actor, action, disclosure_request, "concurrent_change")
        raise ActionRefused(
            gettext(
                "Someone else has just changed this request. Reload the page and check its state."
            ),
            cause="concurrent_change",
        ) from None


@contextmanager
def _producing_letters() -> Iterator[None]:
    """A letter that cannot be composed, rendered or signed refuses the step
    (503, the letter unavailable): the transaction around it records nothing."""
    try:
        yield
    except letters.LetterUnavailable as error:
        raise ActionRefused(error.message, cause=error.cause, http_status=503) from error


def _fresh(disclosure_request: DisclosureRequest) -> DisclosureRequest:
    return DisclosureRequest.objects.get(pk=disclosure_request.pk)


def _transition(
    disclosure_request: DisclosureRequest,
    transition: Callable[..., None],
    *,
    actor: User,
    details: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Check, transition and save; return the audit event for `log.append`.

    The caller appends it as the last statement of its transaction, after any
    slow work (rendering, signing): the append locks the chain head until
    commit, and every other appender (every audited read) waits on that lock.
    """
    name = transition.__name__
    if not fsm.can_proceed(transition):
        raise ActionRefused(
            gettext("This action is not possible in the request's current state (%(state)s).")
            % {"state": disclosure_request.get_state_display()},
            cause="illegal_transition",
        )
    if not fsm.has_transition_perm(transition, actor):
        raise NotAllowed()
    source = disclosure_request.state
    transition(**kwargs)
    disclosure_request.save()
    return {
        "actor_id": actor.pk,
        "action": name,
        "object_type": OBJECT_TYPE,
        "object_id": disclosure_request.pk,
        "from_state": source,
        "to_state": disclosure_request.state,
        "details": {"reference": disclosure_request.reference, **(details or {})},
    }


def _run(
    disclosure_request: DisclosureRequest,
    transition: Callable[..., None],
    *,
    actor: User,
    details: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Check, transition, save and audit, when nothing slow follows in the
    transaction. Call inside transaction.atomic()."""
    log.append(
        **_transition(disclosure_request, transition, actor=actor, details=details, **kwargs)
    )


# ---------------------------------------------------------------------------
# Intake


def inadmissibility_reasons(data: IntakeData) -> list[str]:
    """What makes a written request inadmissible as it stands."""
    reasons = []
    persons = [
        ConcernedPerson(
            last_name=p.last_name,
            first_names=p.first_names,
            birth_date=p.birth_date,
            national_number=p.national_number,
        )
        for p in data.persons
    ]
    if not persons or not all(p.is_precisely_identified() for p in persons):
        reasons.append(InadmissibilityReason.PERSON_NOT_IDENTIFIED.value)
    if not flags.cites_a_ground(
        data.cited_provision, data.requester_kind, frozenset(data.documents)
    ):
        reasons.append(InadmissibilityReason.NO_LEGAL_PROVISION.value)
    return reasons


def _check_intake(data: IntakeData) -> None:
    problems = []
    if set(data.documents) - set(SupportingDocument.values):
        problems.append(gettext("an attached document is not of a known kind"))
    if data.requester_function and data.requester_function not in RequesterFunction.values:
        problems.append(gettext("the requester's office is not one of the list"))
    if data.requester_civility and data.requester_civility not in Civility.values:
        problems.append(gettext("the form of address is not one of the list"))
    if data.requester_letter_date and data.requester_letter_date > data.received_on:
        problems.append(gettext("the requester's letter cannot be dated after its receipt"))
    if problems:
        raise ActionRefused(
            gettext("The registration is invalid: %(problems)s.")
            % {"problems": _list_separator().join(problems)},
            cause="invalid_intake",
            http_status=400,
        )


def oral_identifiers(data: IntakeData) -> list[str]:
    """The person fields an oral request carries and must not (field names)."""
    if data.channel != Channel.ORAL:
        return []
    return [
        name
        for name in ORAL_FORBIDDEN_PERSON_FIELDS
        if any(getattr(person, name) for person in data.persons)
    ]


def _check_oral_minimum(data: IntakeData) -> None:
    if oral_identifiers(data):
        raise ActionRefused(
            gettext(
                "An oral request records neither the date of birth nor the national register "
                "number of the person concerned: remove them. Nothing was recorded."
            ),
            cause="oral_identifiers",
            http_status=400,
        )


def _check_access_intake(data: IntakeData) -> None:
    """The person's own access request: from the person, in writing, about
    themself alone, precisely identified, their identity verified."""
    if data.kind not in RequestKind.values:
        raise ActionRefused(
            gettext("The registration is invalid: the kind of request is not one of the list."),
            cause="invalid_intake",
            http_status=400,
        )
    if data.kind != RequestKind.SUBJECT_ACCESS:
        if data.identity_verification:
            raise ActionRefused(
                gettext(
                    "The registration is invalid: the verification of identity belongs only "
                    "to an access request of the person concerned."
                ),
                cause="invalid_intake",
                http_status=400,
            )
        return
    problems = []
    if data.requester_kind != RequesterKind.PERSON_CONCERNED:
        problems.append(gettext("the requester of an access request is the person concerned"))
    if data.channel == Channel.ORAL:
        problems.append(gettext("an access request is made in writing or at the desk"))
    if data.identity_verification not in IdentityVerification.values:
        problems.append(gettext("say how the identity of the person was verified"))
    persons = data.persons
    if len(persons) != 1:
        problems.append(gettext("an access request concerns the requester alone: one person"))
    elif not (
        persons[0].last_name.strip()
        and persons[0].first_names.strip()
        and (persons[0].birth_date or persons[0].national_number)
    ):
        problems.append(
            gettext(
                "identify the person precisely (surname, first names, and date of birth or "
                "national register number)"
            )
        )
    if problems:
        raise ActionRefused(
            gettext("The access request cannot be registered: %(problems)s.")
            % {"problems": _list_separator().join(problems)},
            cause="invalid_access_request",
            http_status=400,
        )


def _next_reference(year: int) -> tuple[int, str]:
    # Insert-if-missing, then lock: concurrent creators queue on the row.
    ReferenceCounter.objects.bulk_create(
        [ReferenceCounter(year=year, last_number=0)], ignore_conflicts=True
    )
    counter = ReferenceCounter.objects.select_for_update().get(year=year)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number, f"SP-{year}-{counter.last_number:04d}"


def _save_storing_scan(disclosure_request: DisclosureRequest) -> None:
    """Save the request, writing its scan; a storage failure records nothing."""
    try:
        disclosure_request.save()
    except StorageUnavailable as error:
        raise ActionRefused(
            gettext(
                "The scan could not be stored: the server's storage is unavailable. "
                "Nothing was recorded; try again later and notify the administrator."
            ),
            cause="storage_unavailable",
            http_status=503,
        ) from error


def register_request(
    data: IntakeData,
    *,
    actor: User,
    scan: UploadedFile[bytes] | None,
    scan_content_type: str = "",
    follows: DisclosureRequest | None = None,
) -> DisclosureRequest:
    """Register an incoming request on behalf of the Président.

    An oral request is recorded and closed at once: no information is ever
    given orally. A written request that does not identify the person
    precisely, or cites no legal provision, is declared inadmissible and gets
    a reply saying so. Otherwise it waits for the assignment of a referent.
    A follow-up is linked to the earlier request and copies nothing from it.
    """
    with recording_refusals(actor, "register_request", None):
        if not actor.has_role(Role.SECRETARIAT):
            raise NotAllowed()
        is_oral = data.channel == Channel.ORAL
        if not is_oral and scan is None:
            raise ActionRefused(
                gettext("Attach the scan of the letter: it is required for a written request."),
                cause="scan_missing",
                http_status=400,
            )
        if follows is not None and not visible_requests(actor).filter(pk=follows.pk).exists():
            raise NotAllowed()
        _check_oral_minimum(data)
        _check_access_intake(data)
        _check_intake(data)
        is_access = data.kind == RequestKind.SUBJECT_ACCESS
        # The authority on the scan: magic bytes, parsing, active content; an
        # image is stored re-encoded, without its metadata.
        checked = (
            scan_checks.check_upload(scan, scan_content_type)
            if scan is not None and not is_oral
            else None
        )
        with transaction.atomic():
            year = data.received_on.year
            number, reference = _next_reference(year)
            disclosure_request = DisclosureRequest(
                reference=reference,
                year=year,
                number=number,
                received_on=data.received_on,
                channel=data.channel,
                requester_kind=data.requester_kind,
                requester_name=data.requester_name,
                requester_organisation=data.requester_organisation,
                requester_address=data.requester_address,
                requester_reference=data.requester_reference,
                requester_letter_date=data.requester_letter_date,
                requester_function=data.requester_function,
                requester_civility=data.requester_civility,
                documents=sorted(set(data.documents)),
                cited_provision=data.cited_provision,
                information_requested=data.information_requested,
                requester_deadline=data.requester_deadline,
                due_on=(
                    deadlines.access_due_date(data.received_on)
                    if is_access
                    else deadlines.due_date(
                        data.requester_kind, data.received_on, data.requester_deadline
                    )
                ),
                follows=follows,
                registered_by=actor,
                inadmissibility_reasons=(
                    [] if is_oral or is_access else inadmissibility_reasons(data)
                ),
                kind=data.kind,
            )
            if is_access:
                disclosure_request.identity_verification = data.identity_verification
                disclosure_request.identity_verified_by = actor
                disclosure_request.identity_verified_at = timezone.now()
            scan_sha256 = ""
            if checked is not None:
                scan_sha256 = hashlib.sha256(checked.data).hexdigest()
                disclosure_request.scan = ContentFile(checked.data, name="scan")
                disclosure_request.scan_content_type = checked.content_type
                disclosure_request.scan_sha256 = scan_sha256
            _save_storing_scan(disclosure_request)
            if disclosure_request.scan:
                track_write(disclosure_request.scan.name)
            ConcernedPerson.objects.bulk_create(
                ConcernedPerson(
                    request=disclosure_request,
                    last_name=p.last_name,
                    first_names=p.first_names,
                    birth_date=p.birth_date,
                    national_number=p.national_number,
                    cpas_file_number=p.cpas_file_number,
                )
                for p in data.persons
            )
            registered: dict[str, Any] = {
                "actor_id": actor.pk,
                "action": "register_request",
                "object_type": OBJECT_TYPE,
                "object_id": disclosure_request.pk,
                "to_state": State.RECEIVED,
                "details": {
                    "reference": reference,
                    "channel": data.channel,
                    "requester_kind": data.requester_kind,
                    "persons": len(data.persons),
                    "scan_sha256": scan_sha256,
                    "follows": follows.pk if follows else None,
                },
            }
            if is_access:
                registered["details"]["request_kind"] = data.kind
                registered["details"]["identity_verification"] = data.identity_verification
            prepared: list[dict[str, Any]] = []
            if is_access:
                outcome = _transition(
                    disclosure_request,
                    disclosure_request.accept_access_request,
                    actor=actor,
                    details={"due_on": deadlines.access_due_date(data.received_on).isoformat()},
                )
            elif is_oral:
                outcome = _transition(
                    disclosure_request, disclosure_request.close_as_oral, actor=actor
                )
            elif disclosure_request.inadmissibility_reasons:
                outcome = _transition(
                    disclosure_request,
                    disclosure_request.declare_inadmissible,
                    actor=actor,
                    details={"reasons": disclosure_request.inadmissibility_reasons},
                )
                _create_reply(disclosure_request, kind=ReplyKind.INADMISSIBILITY)
            else:
                outcome = _transition(
                    disclosure_request, disclosure_request.accept_for_examination, actor=actor
                )
                prepared = _acknowledge_at_registration(disclosure_request, actor=actor)
            log.append_many([registered, outcome, *prepared])
        return disclosure_request


# ---------------------------------------------------------------------------
# Examination


def assign_referent(
    disclosure_request: DisclosureRequest, *, actor: User, referent: User
) -> DisclosureRequest:
    with recording_refusals(actor, "assign_referent", disclosure_request):
        if not (referent.is_active and referent.has_role(Role.REFERENT)):
            raise ActionRefused(
                gettext("The person chosen is not an active referent."),
                cause="invalid_referent",
                http_status=400,
            )
        with transaction.atomic():
            previous = disclosure_request.referent
            assigned = _transition(
                disclosure_request,
                disclosure_request.assign_referent,
                actor=actor,
                referent=referent,
                details={
                    "referent_id": referent.pk,
                    "previous_referent_id": previous.pk if previous else None,
                },
            )
            if previous is not None and previous.pk != referent.pk:
                remove_perm(VIEW_CONTENT, previous, disclosure_request)
            assign_perm(VIEW_CONTENT, referent, disclosure_request)
            log.append(**assigned)
    return disclosure_request


def submit_opinion(
    disclosure_request: DisclosureRequest,
    *,
    actor: User,
    legal_bases: Sequence[LegalBasis],
    proposal: str,
    reasoning: str,
    items: Sequence[ItemData],
    checklist: Sequence[ChecklistData] = (),
    override_reason: str = "",
    legal_analysis: str = "",
) -> Opinion:
    """Record the referent's reasoned opinion and send it for review.

    Every condition of every chosen basis must be answered. Proposing a
    disclosure despite a blocking flag or an unmet condition needs a written
    override reason. When the DG is the referent, the opinion is the legality
    review itself: one step, recorded as `submit_opinion_as_review`, and the
    reply follows.
    """
    with recording_refusals(actor, "submit_opinion", disclosure_request):
        _check_opinion(legal_bases, proposal, reasoning, items)
        _check_checklist(legal_bases, checklist)
        found = opinion_flags(
            disclosure_request, legal_bases, items if proposal != Proposal.REFUSE else []
        )
        blocking = _blocking_reasons(found, checklist)
        _check_override(proposal, found, blocking, override_reason)
        as_review = actor.has_role(Role.DIRECTOR_GENERAL)
        if as_review and proposal != Proposal.REFUSE:
            _check_legal_analysis(items, legal_analysis)
        with transaction.atomic():
            transition = (
                disclosure_request.submit_opinion_as_review
                if as_review
                else disclosure_request.submit_opinion
            )
            if disclosure_request.state != State.AWAITING_OPINION:
                raise ActionRefused(
                    gettext("This request is not waiting for an opinion."),
                    cause="illegal_transition",
                )
            # The opinion's existence is the transition's condition: write it
            # first; _run then checks the right and everything rolls back if
            # the actor is not the assigned referent.
            opinion = Opinion.objects.create(
                request=disclosure_request,
                number=disclosure_request.opinions.count() + 1,
                author=actor,
                proposal=proposal,
                reasoning=reasoning,
                is_review=as_review,
                override_reason=override_reason.strip() if blocking else "",
                legal_analysis=legal_analysis.strip() if as_review else "",
            )
            opinion.legal_bases.set(legal_bases)
            ChecklistAnswer.objects.bulk_create(
                ChecklistAnswer(
                    opinion=opinion,
                    legal_basis=answer.legal_basis,
                    position=answer.position,
                    answer=answer.answer,
                    note=answer.note,
                )
                for answer in checklist
            )
            OpinionItem.objects.bulk_create(
                OpinionItem(
                    opinion=opinion,
                    position=i,
                    description=item.description,
                    data_category=item.data_category,
                    necessity=item.necessity,
                    legal_basis=item.legal_basis,
                )
                for i, item in enumerate(items, start=1)
            )
            submitted = _transition(
                disclosure_request,
                transition,
                actor=actor,
                details={
                    "opinion_id": opinion.pk,
                    "proposal": proposal,
                    "legal_bases": [b.pk for b in legal_bases],
                    "items": len(items),
                    **_override_details(blocking, opinion.override_reason),
                },
            )
            if as_review:
                _create_reply(
                    disclosure_request,
                    kind=_reply_kind_for(proposal),
                    opinion=opinion,
                    legal_bases=legal_bases,
                    items=items if proposal != Proposal.REFUSE else [],
                )
            log.append(**submitted)
    return opinion


def _check_opinion(
    legal_bases: Sequence[LegalBasis],
    proposal: str,
    reasoning: str,
    items: Sequence[ItemData],
) -> None:
    problems = []
    today = timezone.localdate()
    if not legal_bases:
        problems.append(gettext("choose at least one legal basis"))
    if any(not (b.is_current and b.is_in_force_on(today)) for b in legal_bases):
        problems.append(gettext("a chosen legal basis is no longer the version in force"))
    chosen = {b.pk for b in legal_bases}
    if any(i.legal_basis is None or i.legal_basis.pk not in chosen for i in items):
        problems.append(
            gettext("each piece of information proposed must name the chosen basis that allows it")
        )
    if proposal not in Proposal.values:
        problems.append(gettext("choose a proposal"))
    if not reasoning.strip():
        problems.append(gettext("write the reasoning"))
    if proposal == Proposal.REFUSE and items:
        problems.append(gettext("a refusal proposes no information to disclose"))
    if proposal in (Proposal.DISCLOSE, Proposal.DISCLOSE_IN_PART):
        if not items:
            problems.append(gettext("state the information proposed for disclosure"))
        if any(not i.description.strip() or not i.necessity.strip() for i in items):
            problems.append(
                gettext("each piece of information proposed must say why it is strictly necessary")
            )
    if problems:
        raise ActionRefused(
            gettext("The opinion is incomplete: %(problems)s.")
            % {"problems": _list_separator().join(problems)},
            cause="invalid_opinion",
            http_status=400,
        )


def _list_separator() -> str:
    # Translators: between the problems listed in one message (French puts a
    # space before the semicolon).
    return gettext("; ")


def _check_checklist(
    legal_bases: Sequence[LegalBasis], checklist: Sequence[ChecklistData]
) -> None:
    answered = {(a.legal_basis.pk, a.position): a for a in checklist}
    problems = []
    for basis in legal_bases:
        for position, condition in enumerate(basis.checklist):
            answer = answered.pop((basis.pk, position), None)
            values = {"condition": condition.get("text", ""), "citation": basis.citation}
            if answer is None or answer.answer not in ChecklistAnswer.Answer.values:
                problems.append(gettext("“%(condition)s” (%(citation)s)") % values)
            elif answer.answer != ChecklistAnswer.Answer.MET and not answer.note.strip():
                problems.append(gettext("a note for “%(condition)s” (%(citation)s)") % values)
    if problems:
        raise ActionRefused(
            gettext(
                "Answer each condition of the chosen legal bases (met, not met or not "
                "applicable, with a note if it is not met): %(problems)s."
            )
            % {"problems": _list_separator().join(problems)},
            cause="checklist_incomplete",
            http_status=400,
        )
    if answered:
        raise ActionRefused(
            gettext("The checklist contains answers to conditions that do not exist."),
            cause="checklist_invalid",
            http_status=400,
        )


def intake_flags(disclosure_request: DisclosureRequest) -> list[flags.Flag]:
    persons = list(disclosure_request.persons.all())
    return flags.intake_flags(
        channel=disclosure_request.channel,
        requester_kind=disclosure_request.requester_kind,
        cited_provision=disclosure_request.cited_provision,
        persons_identified=bool(persons) and all(p.is_precisely_identified() for p in persons),
        requester_deadline=disclosure_request.requester_deadline,
        received_on=disclosure_request.received_on,
        today=timezone.localdate(),
        documents=frozenset(disclosure_request.documents),
    )


def intake_flags_for_data(data: IntakeData) -> list[flags.Flag]:
    """The intake flags of a letter not registered yet (preview before saving)."""
    return flags.intake_flags(
        channel=data.channel,
        requester_kind=data.requester_kind,
        cited_provision=data.cited_provision,
        persons_identified=PERSON_NOT_IDENTIFIED not in inadmissibility_reasons(data),
        requester_deadline=data.requester_deadline,
        received_on=data.received_on,
        today=timezone.localdate(),
        documents=frozenset(data.documents),
    )


PERSON_NOT_IDENTIFIED = InadmissibilityReason.PERSON_NOT_IDENTIFIED.value


def opinion_flags(
    disclosure_request: DisclosureRequest,
    legal_bases: Sequence[LegalBasis],
    items: Sequence[ItemData],
) -> list[flags.Flag]:
    today = timezone.localdate()
    return flags.opinion_flags(
        requester_kind=disclosure_request.requester_kind,
        channel=disclosure_request.channel,
        received_on=disclosure_request.received_on,
        requester_deadline=disclosure_request.requester_deadline,
        today=today,
        legal_bases=list(legal_bases),
        items=[flags.ProposedItem(i.data_category, i.legal_basis) for i in items],
        documents=frozenset(disclosure_request.documents),
        cited_provision=disclosure_request.cited_provision,
        catalogue=list(LegalBasis.objects.in_force_on(today)),
        requester_bound_by_secrecy=(
            disclosure_request.requester_kind in flags.SECRECY_BOUND_REQUESTERS
        ),
    )


def _blocking_reasons(
    found: Sequence[flags.Flag], checklist: Sequence[ChecklistData]
) -> list[str]:
    """Codes of what stands against a disclosure: blocking flags, unmet conditions."""
    codes = [f.code for f in found if f.is_blocking]
    codes += [
        f"unmet:{a.legal_basis.code}:{a.position}"
        for a in checklist
        if a.answer == ChecklistAnswer.Answer.NOT_MET
    ]
    return codes


def _check_override(
    proposal: str, found: Sequence[flags.Flag], blocking: list[str], override_reason: str
) -> None:
    if proposal == Proposal.REFUSE:
        return
    forbidding = [f.message for f in found if f.forbids]
    if forbidding:
        raise ActionRefused(
            gettext("The law does not allow this disclosure, whatever the reason: %(problems)s.")
            % {"problems": _list_separator().join(forbidding)},
            cause="disclosure_forbidden",
            http_status=400,
        )
    if blocking and not override_reason.strip():
        raise ActionRefused(
            gettext(
                "A disclosure despite a blocking alert or an unmet condition requires a reasoned "
                "override: explain in writing why you override it."
            ),
            cause="override_missing",
            http_status=400,
        )


def _check_legal_analysis(items: Sequence[ItemData], legal_analysis: str) -> None:
    contested = any(i.legal_basis and i.legal_basis.effect == Effect.CONTESTED for i in items)
    if contested and not legal_analysis.strip():
        raise ActionRefused(
            gettext(
                "A piece of information rests on a basis whose application to the centre is "
                "contested: write your legal analysis before approving the disclosure."
            ),
            cause="legal_analysis_missing",
            http_status=400,
        )


def _override_details(blocking: list[str], reason: str) -> dict[str, Any]:
    # The trail keeps what was overridden and a fingerprint of the written
    # reason; the reason itself (free text) stays with the opinion or review.
    if not blocking or not reason:
        return {}
    return {
        "override": True,
        "overridden": blocking,
        "override_reason_sha256": hashlib.sha256(reason.encode()).hexdigest(),
    }


def _reply_kind_for(proposal: str) -> str:
    return ReplyKind.REFUSAL if proposal == Proposal.REFUSE else ReplyKind.DISCLOSURE


def approve(
    disclosure_request: DisclosureRequest,
    *,
    actor: User,
    amended_items: Sequence[ItemData] | None = None,
    remarks: str = "",
    override_reason: str = "",
    legal_analysis: str = "",
) -> Review:
    """The DG approves the opinion's proposal, possibly with amended items.

    A disclosure despite a blocking flag or an unmet condition needs the
    DG's own written override reason; an item resting on a contested basis
    needs the DG's written legal analysis. Amended items rest on the
    opinion's bases.
    """
    with recording_refusals(actor, "approve", disclosure_request):
        opinion = disclosure_request.current_opinion()
        if opinion is None:
            raise ActionRefused(gettext("No opinion to approve."), cause="illegal_transition")
        proposed = [
            ItemData(i.description, i.data_category, i.necessity, i.legal_basis)
            for i in opinion.items.select_related("legal_basis")
        ]
        items = proposed if amended_items is None else list(amended_items)
        amended = amended_items is not None and _item_keys(items) != _item_keys(proposed)
        if opinion.proposal != Proposal.REFUSE and not items:
            raise ActionRefused(
                gettext(
                    "A disclosure must keep at least one piece of information; otherwise, "
                    "refuse the disclosure."
                ),
                cause="invalid_decision",
                http_status=400,
            )
        if opinion.proposal == Proposal.REFUSE:
            items = []
        bases = list(opinion.legal_bases.all())
        chosen = {b.pk for b in bases}
        if any(i.legal_basis is None or i.legal_basis.pk not in chosen for i in items):
            raise ActionRefused(
                gettext("Each piece of information must rest on one of the bases of the opinion."),
                cause="invalid_decision",
                http_status=400,
            )
        answers = [
            ChecklistData(a.legal_basis, a.position, a.answer, a.note)
            for a in opinion.checklist_answers.select_related("legal_basis")
        ]
        found = opinion_flags(disclosure_request, bases, items)
        blocking = _blocking_reasons(found, answers)
        _check_override(opinion.proposal, found, blocking, override_reason)
        _check_legal_analysis(items, legal_analysis)
        with transaction.atomic():
            review = Review.objects.create(
                request=disclosure_request,
                opinion=opinion,
                reviewer=actor,
                outcome=Review.Outcome.AMENDED if amended else Review.Outcome.APPROVED,
                remarks=remarks,
                override_reason=override_reason.strip() if blocking else "",
                legal_analysis=legal_analysis.strip(),
            )
            approved = _transition(
                disclosure_request,
                disclosure_request.approve,
                actor=actor,
                details={
                    "opinion_id": opinion.pk,
                    "review_id": review.pk,
                    "outcome": review.outcome,
                    "items": len(items),
                    **_override_details(blocking, review.override_reason),
                },
            )
            _create_reply(
                disclosure_request,
                kind=_reply_kind_for(opinion.proposal),
                review=review,
                legal_bases=bases,
                items=items,
            )
            log.append(**approved)
    return review


def _item_keys(items: Sequence[ItemData]) -> list[tuple[str, str, int | None]]:
    return [
        (i.description.strip(), i.data_category, i.legal_basis.pk if i.legal_basis else None)
        for i in items
    ]


def refuse_disclosure(
    disclosure_request: DisclosureRequest, *, actor: User, remarks: str
) -> Review:
    with recording_refusals(actor, "refuse_disclosure", disclosure_request):
        opinion = disclosure_request.current_opinion()
        if opinion is None:
            raise ActionRefused(gettext("No opinion to review."), cause="illegal_transition")
        if not remarks.strip():
            raise ActionRefused(
                gettext("Give the reasons for refusing the disclosure."),
                cause="invalid_decision",
                http_status=400,
            )
        with transaction.atomic():
            review = Review.objects.create(
                request=disclosure_request,
                opinion=opinion,
                reviewer=actor,
                outcome=Review.Outcome.REFUSED,
                remarks=remarks,
            )
            refused = _transition(
                disclosure_request,
                disclosure_request.refuse_disclosure,
                actor=actor,
                details={"opinion_id": opinion.pk, "review_id": review.pk},
            )
            _create_reply(
                disclosure_request,
                kind=ReplyKind.REFUSAL,
                review=review,
                legal_bases=list(opinion.legal_bases.all()),
                items=[],
            )
            log.append(**refused)
    return review


def return_for_revision(
    disclosure_request: DisclosureRequest, *, actor: User, remarks: str
) -> Review:
    with recording_refusals(actor, "return_for_revision", disclosure_request):
        opinion = disclosure_request.current_opinion()
        if opinion is None:
            raise ActionRefused(gettext("No opinion to return."), cause="illegal_transition")
        if not remarks.strip():
            raise ActionRefused(
                gettext("Give your remarks for the referent."),
                cause="invalid_decision",
                http_status=400,
            )
        with transaction.atomic():
            review = Review.objects.create(
                request=disclosure_request,
                opinion=opinion,
                reviewer=actor,
                outcome=Review.Outcome.RETURNED,
                remarks=remarks,
            )
            _run(
                disclosure_request,
                disclosure_request.return_for_revision,
                actor=actor,
                details={"opinion_id": opinion.pk, "review_id": review.pk},
            )
    return review


def confirm_inadmissibility(disclosure_request: DisclosureRequest, *, actor: User) -> Reply:
    """The DG confirms an inadmissibility whose letter a signer declined: a new
    inadmissibility letter, drawn up afresh, goes to both signatures."""
    with (
        recording_refusals(actor, "confirm_inadmissibility", disclosure_request),
        transaction.atomic(),
    ):
        confirmed = _transition(
            disclosure_request,
            disclosure_request.confirm_inadmissibility,
            actor=actor,
            details={"reason_codes": list(disclosure_request.inadmissibility_reasons)},
        )
        reply = _create_reply(disclosure_request, kind=ReplyKind.INADMISSIBILITY)
        confirmed["details"]["reply_id"] = reply.pk
        log.append(**confirmed)
    return reply


def reopen_examination(disclosure_request: DisclosureRequest, *, actor: User) -> DisclosureRequest:
    """The DG finds the inadmissibility wrong: the request waits for a referent.

    The inadmissibility letter still awaiting its signatures is superseded:
    it stays in the history and a signature already on it no longer counts.
    Nothing else is recomputed (due date, persons, cited provision).
    """
    with (
        recording_refusals(actor, "reopen_examination", disclosure_request),
        transaction.atomic(),
    ):
        letter = (
            Reply.objects.select_for_update()
            .filter(
                request=disclosure_request,
                kind=ReplyKind.INADMISSIBILITY,
                superseded_at__isnull=True,
            )
            .first()
        )
        reopened = _transition(
            disclosure_request,
            disclosure_request.reopen_examination,
            actor=actor,
            details={
                "previous_reason_codes": list(disclosure_request.inadmissibility_reasons),
                "superseded_reply_id": letter.pk if letter is not None else None,
            },
        )
        if letter is not None:
            letter.superseded_at = timezone.now()
            letter.save(update_fields=["superseded_at"])
        log.append(**reopened)
    return disclosure_request


# ---------------------------------------------------------------------------
# The reply


def _create_reply(
    disclosure_request: DisclosureRequest,
    *,
    kind: str,
    review: Review | None = None,
    opinion: Opinion | None = None,
    legal_bases: Sequence[LegalBasis] = (),
    items: Sequence[ItemData] = (),
    access: AccessReplyData | None = None,
) -> Reply:
    # The law the letter states is the law in force on the day of the decision.
    decided_on = timezone.localdate()
    with _producing_letters():
        body = letters.compose_reply_body(
            disclosure_request, kind, legal_bases, items, decided_on=decided_on, access=access
        )
    reply = Reply.objects.create(
        request=disclosure_request,
        kind=kind,
        decided_by_review=review,
        decided_by_opinion=opinion,
        body=body,
        decided_on=decided_on,
    )
    reply.legal_bases.set(legal_bases)
    ReplyItem.objects.bulk_create(
        ReplyItem(
            reply=reply,
            position=i,
            description=item.description,
            data_category=item.data_category,
            legal_basis=item.legal_basis,
        )
        for i, item in enumerate(items, start=1)
    )
    # Rendered in the decision's transaction, before its audit event: a letter
    # that cannot be produced must not leave a decision without its letter,
    # and the chain head is not locked while it renders.
    with _producing_letters():
        letters.create_reply_document(reply)
    return reply


def _confirm_step_up(
    actor: User, *, otp: str, session: SessionBase | None, address: str | None
) -> None:
    """The fresh second factor every signature asks for, or ActionRefused."""
    # Wrong codes are counted per signer and per source address; past the
    # limit the step-up is locked before any code is checked.
    if not throttling.step_up_allowed(actor, address):
        until = throttling.step_up_retry_at(actor, address) or timezone.now()
        raise ActionRefused(
            throttling.step_up_message(until), cause="step_up_throttled", http_status=429
        )
    if not accounts.check_step_up(actor, otp=otp, session=session):
        throttling.record_step_up_failure(actor, address)
        raise ActionRefused(
            gettext(
                "Second factor not confirmed: the signature was not applied. Type the "
                "code your authenticator app shows now, or use your security key."
            ),
            cause="reauthentication_failed",
            http_status=403,
        )


def sign_reply(
    disclosure_request: DisclosureRequest,
    *,
    actor: User,
    otp: str = "",
    session: SessionBase | None = None,
    address: str | None = None,
    letter_seen: str | None = None,
) -> Signature:
    """Sign the reply in the capacity the signer holds today.

    The signer gives a fresh second factor (step-up): `otp`, a code of their
    authenticator app or a recovery code, or else a WebAuthn assertion
    verified in `session` within the last 2 minutes, consumed here (see
    `accounts.services.check_step_up`). Two distinct people sign: the
    Président (or acting) and the DG (or acting); the referent never signs.
    """
    with recording_refusals(actor, "sign_reply", disclosure_request):
        _confirm_step_up(actor, otp=otp, session=session, address=address)
        with transaction.atomic():
            first = disclosure_request.state == State.AWAITING_SIGNATURES
            transition = disclosure_request.sign_first if first else disclosure_request.sign_second
            if not fsm.can_proceed(transition):
                raise ActionRefused(
                    gettext("This reply is not waiting for a signature."),
                    cause="illegal_transition",
                )
            if not fsm.has_transition_perm(transition, actor):
                raise NotAllowed(
                    gettext(
                        "You cannot sign this reply: it takes two distinct signers, the "
                        "President and the Director general (or their acting deputies), and "
                        "the referent never signs."
                    )
                )
            reply = disclosure_request.reply
            capacity = reply.open_capacities_for(actor)[0]
            is_acting = actor.is_acting(capacity)
            signed = _transition(
                disclosure_request,
                transition,
                actor=actor,
                details={"capacity": capacity, "acting": is_acting},
            )
            # Read again once the request's row is locked by the transition:
            # the letter the signer read is the one signed, not one the DG's
            # paragraph changed in the meantime.
            if letter_seen is not None and letter_seen != letter_version(
                Reply.objects.get(pk=reply.pk)
            ):
                raise ActionRefused(
                    gettext(
                        "The letter changed while you were reading it: read it again "
                        "before signing. Your signature was not applied."
                    ),
                    cause="letter_changed",
                )
            signature = Signature.objects.create(
                reply=reply, signer=actor, capacity=capacity, is_acting=is_acting
            )
            # The PAdES signature goes in the same transaction: if it fails,
            # the signature is not recorded.
            with _producing_letters():
                document = letters.sign_reply_document(signature)
            log.append_many(
                [
                    signed,
                    {
                        "actor_id": actor.pk,
                        "action": "sign_letter",
                        "object_type": OBJECT_TYPE,
                        "object_id": disclosure_request.pk,
                        "details": {
                            "reference": disclosure_request.reference,
                            "signature_id": signature.pk,
                            "field": letters.FIELD_FOR_CAPACITY[capacity],
                            "pdf_sha256": document.sha256,
                            "pdf_revision": document.revision,
                            "final": transition.__name__ == "sign_second",
                        },
                    },
                ]
            )
    return signature


# ---------------------------------------------------------------------------
# The acknowledgement of receipt: a letter of its own, signed and dispatched
# beside the examination. It never moves the request's state, so its steps
# check their rule (models.may_*_acknowledgement) themselves.


def _locked(disclosure_request: DisclosureRequest) -> DisclosureRequest:
    # Acknowledgement steps run no transition (no optimistic lock): the row
    # lock makes two of them on one request wait for each other.
    return DisclosureRequest.objects.select_for_update().get(pk=disclosure_request.pk)


def _create_acknowledgement(
    disclosure_request: DisclosureRequest, *, actor: User, at_registration: bool
) -> dict[str, Any]:
    """Compose, store and render the acknowledgement (unsigned); return its
    audit event for the caller to append last."""
    # The law it states is the law in force on the day the request was received.
    law_day = disclosure_request.received_on
    with _producing_letters():
        body = letters.compose_reply_body(
            disclosure_request, ReplyKind.ACKNOWLEDGEMENT, [], [], decided_on=law_day
        )
        reply = Reply.objects.create(
            request=disclosure_request,
            kind=ReplyKind.ACKNOWLEDGEMENT,
            body=body,
            decided_on=law_day,
        )
        document = letters.create_reply_document(reply)
    return {
        "actor_id": actor.pk,
        "action": "prepare_acknowledgement",
        "object_type": OBJECT_TYPE,
        "object_id": disclosure_request.pk,
        "details": {
            "reference": disclosure_request.reference,
            "reply_id": reply.pk,
            "law_day": law_day.isoformat(),
            "pdf_sha256": document.sha256,
            "at_registration": at_registration,
        },
    }


def _acknowledge_at_registration(
    disclosure_request: DisclosureRequest, *, actor: User
) -> list[dict[str, Any]]:
    """The acknowledgement of a request just accepted for examination, when
    the administrator asks for one for its requester kind."""
    if not queries.acknowledges_receipt(disclosure_request.requester_kind):
        return []
    try:
        with transaction.atomic():
            return [_create_acknowledgement(disclosure_request, actor=actor, at_registration=True)]
    except ActionRefused:
        # Incoming mail is registered even when no letter can be produced
        # (letterhead incomplete, no rule in the catalogue for the day of
        # receipt): the page says so, and the secretariat prepares the
        # acknowledgement later (`prepare_acknowledgement`).
        return []


def prepare_acknowledgement(disclosure_request: DisclosureRequest, *, actor: User) -> Reply:
    """The secretariat prepares the acknowledgement of a written, admissible
    open request that has none (the setting was off, or it could not be
    produced at registration)."""
    with recording_refusals(actor, "prepare_acknowledgement", disclosure_request):
        if not actor.has_role(Role.SECRETARIAT):
            raise NotAllowed()
        with transaction.atomic():
            current = _locked(disclosure_request)
            if not may_prepare_acknowledgement(current, actor):
                raise ActionRefused(
                    gettext(
                        "An acknowledgement of receipt can be prepared only for an open, "
                        "written and admissible request that has none yet."
                    ),
                    cause="illegal_transition",
                )
            prepared = _create_acknowledgement(current, actor=actor, at_registration=False)
            log.append(**prepared)
    acknowledgement = current.acknowledgement()
    assert acknowledgement is not None
    return acknowledgement


def sign_acknowledgement(
    disclosure_request: DisclosureRequest,
    *,
    actor: User,
    otp: str = "",
    session: SessionBase | None = None,
    address: str | None = None,
) -> Signature:
    """Sign the acknowledgement as the reply is signed (`sign_reply`): a fresh
    second factor, the Président and the DG (or acting), two distinct people,
    never the referent, the PAdES signature in the same transaction. The
    request's state does not move."""
    with recording_refusals(actor, "sign_acknowledgement", disclosure_request):
        _confirm_step_up(actor, otp=otp, session=session, address=address)
        with transaction.atomic():
            current = _locked(disclosure_request)
            acknowledgement = current.acknowledgement()
            if acknowledgement is None or not current.is_open or not acknowledgement.is_draft:
                raise ActionRefused(
                    gettext("This acknowledgement of receipt is not waiting for a signature."),
                    cause="illegal_transition",
                )
            if not may_sign_acknowledgement(current, actor):
                raise NotAllowed(
                    gettext(
                        "You cannot sign this acknowledgement of receipt: it takes two distinct "
                        "signers, the President and the Director general (or their acting "
                        "deputies), and the referent never signs."
                    )
                )
            capacity = acknowledgement.open_capacities_for(actor)[0]
            is_acting = actor.is_acting(capacity)
            signature = Signature.objects.create(
                reply=acknowledgement, signer=actor, capacity=capacity, is_acting=is_acting
            )
            # As for the reply: if the PAdES signature fails, nothing is recorded.
            with _producing_letters():
                document = letters.sign_reply_document(signature)
            log.append(
                actor_id=actor.pk,
                action="sign_letter",
                object_type=OBJECT_TYPE,
                object_id=current.pk,
                details={
                    "reference": current.reference,
                    "acknowledgement": True,
                    "reply_id": acknowledgement.pk,
                    "signature_id": signature.pk,
                    "capacity": capacity,
                    "acting": is_acting,
                    "field": letters.FIELD_FOR_CAPACITY[capacity],
                    "pdf_sha256": document.sha256,
                    "pdf_revision": document.revision,
                    "final": acknowledgement.signatures.count() == 2,
                },
            )
    return signature


def _check_dispatch(dispatched_on: date, channel: str, registered_mail_number: str) -> None:
    """How a letter left: the reply's dispatch and the acknowledgement's."""
    problems = []
    if dispatched_on > timezone.localdate():
        problems.append(gettext("The dispatch date cannot be in the future."))
    if channel not in DispatchChannel.values:
        problems.append(gettext("Choose the means of dispatch."))
    if channel == DispatchChannel.REGISTERED_POST and not registered_mail_number.strip():
        problems.append(gettext("Give the registered mail number."))
    if problems:
        raise ActionRefused(" ".join(problems), cause="invalid_dispatch", http_status=400)


def record_acknowledgement_dispatch(
    disclosure_request: DisclosureRequest,
    *,
    actor: User,
    dispatched_on: date,
    channel: str,
    registered_mail_number: str = "",
) -> Reply:
    """The secretariat records how and when the signed acknowledgement left."""
    with recording_refusals(actor, "record_acknowledgement_dispatch", disclosure_request):
        _check_dispatch(dispatched_on, channel, registered_mail_number)
        if not actor.has_role(Role.SECRETARIAT):
            raise NotAllowed()
        with transaction.atomic():
            current = _locked(disclosure_request)
            if not may_record_acknowledgement_dispatch(current, actor):
                raise ActionRefused(
                    gettext(
                        "The acknowledgement of receipt can be dispatched only once it bears "
                        "both signatures, and only once."
                    ),
                    cause="illegal_transition",
                )
            acknowledgement = current.acknowledgement()
            assert acknowledgement is not None
            signed_on = max(
                timezone.localdate(s.signed_at) for s in acknowledgement.signatures.all()
            )
            if dispatched_on < signed_on:
                raise ActionRefused(
                    gettext("The acknowledgement cannot have been sent before it was signed."),
                    cause="invalid_dispatch",
                    http_status=400,
                )
            acknowledgement.dispatched_on = dispatched_on
            acknowledgement.dispatch_channel = channel
            acknowledgement.registered_mail_number = registered_mail_number.strip()
            acknowledgement.save(
                update_fields=["dispatched_on", "dispatch_channel", "registered_mail_number"]
            )
            log.append(
                actor_id=actor.pk,
                action="record_acknowledgement_dispatch",
                object_type=OBJECT_TYPE,
                object_id=current.pk,
                details={
                    "reference": current.reference,
                    "reply_id": acknowledgement.pk,
                    "channel": channel,
                    "dispatched_on": dispatched_on.isoformat(),
                },
            )
    return acknowledgement


# ---------------------------------------------------------------------------
# Declining to sign; the DG's paragraph in the letter

# One paragraph of plain text: room for a few sentences, not a second letter.
LETTER_PARAGRAPH_MAX = 1200


def letter_version(reply: Reply) -> str:
    """What a signer read: which letter, with which paragraph of the DG. The
    signature page posts it back, and `sign_reply` refuses if it changed."""
    digest = hashlib.sha256(reply.dg_paragraph.encode()).hexdigest()[:16]
    return f"{reply.pk}-{digest}"


def decline_to_sign(
    disclosure_request: DisclosureRequest, *, actor: User, remarks: str
) -> SignatureDecline:
    """A signer declines to sign the letter: the request goes back to the DG's
    review, with the signer's remarks for the DG.

    The letter is superseded: it stays in the history, and a signature already
    on it no longer counts. The DG's next decision produces a new letter that
    needs two fresh signatures. No second factor is asked: declining signs and
    discloses nothing, and the signer's session was opened with one. The trail
    records the letter, the capacity and how many signatures were voided,
    never the remarks.
    """
    with recording_refusals(actor, "decline_to_sign", disclosure_request):
        if not remarks.strip():
            raise ActionRefused(
                gettext("Say why you decline to sign: your remarks go to the Director general."),
                cause="invalid_decline",
                http_status=400,
            )
        with transaction.atomic():
            reply = disclosure_request.current_reply()
            capacities = reply.open_capacities_for(actor) if reply is not None else []
            capacity = capacities[0] if capacities else ""
            voided = reply.signatures.count() if reply is not None else 0
            # A signature given meanwhile moved the state: the save below fails
            # (ConcurrentTransition), so `voided` is the count that is voided.
            declined = _transition(
                disclosure_request,
                disclosure_request.decline_to_sign,
                actor=actor,
                details={
                    "reply_id": reply.pk if reply is not None else None,
                    "capacity": capacity,
                    "acting": actor.is_acting(capacity) if capacity else False,
                    "signatures_voided": voided,
                },
            )
            assert reply is not None  # the transition's condition
            reply.superseded_at = timezone.now()
            reply.save(update_fields=["superseded_at"])
            decline = SignatureDecline.objects.create(
                reply=reply, declined_by=actor, capacity=capacity, remarks=remarks.strip()
            )
            declined["details"]["decline_id"] = decline.pk
            log.append(**declined)
    return decline


def set_letter_paragraph(
    disclosure_request: DisclosureRequest, *, actor: User, paragraph: str
) -> Reply:
    """The DG adds, changes or (with an empty text) removes their paragraph in
    the letter, while it awaits its signatures and nobody has signed it. The
    unsigned PDF is rendered again; the items and legal grounds stay as decided.

    The paragraph is one paragraph of plain text: line breaks are joined. The
    trail records whether a paragraph is set and the new PDF's fingerprint,
    never the text.
    """
    text = " ".join(paragraph.split())
    with recording_refusals(actor, "set_letter_paragraph", disclosure_request):
        if len(text) > LETTER_PARAGRAPH_MAX:
            raise ActionRefused(
                gettext(
                    "The paragraph is too long: %(max)d characters at most (it has %(length)d)."
                )
                % {"max": LETTER_PARAGRAPH_MAX, "length": len(text)},
                cause="invalid_paragraph",
                http_status=400,
            )
        if not actor.has_role(Role.DIRECTOR_GENERAL):
            raise NotAllowed()
        with transaction.atomic():
            # Locked: a signature given now waits, then signs the new letter's
            # bytes only if its signer read them (`letter_seen`).
            current = DisclosureRequest.objects.select_for_update().get(pk=disclosure_request.pk)
            if not letter_paragraph_editable(current):
                raise ActionRefused(
                    gettext(
                        "The letter can no longer be changed: it has been signed, or it is not "
                        "waiting for signatures."
                    ),
                    cause="illegal_transition",
                )
            reply = current.reply
            reply.dg_paragraph = text
            reply.save(update_fields=["dg_paragraph"])
            with _producing_letters():
                document = letters.rerender_reply_document(reply)
            log.append(
                actor_id=actor.pk,
                action="set_letter_paragraph",
                object_type=OBJECT_TYPE,
                object_id=current.pk,
                details={
                    "reference": current.reference,
                    "reply_id": reply.pk,
                    "paragraph_set": bool(text),
                    "pdf_sha256": document.sha256,
                    "pdf_revision": document.revision,
                },
            )
    return reply


# ---------------------------------------------------------------------------
# Dispatch, closing, withdrawal


def record_dispatch(
    disclosure_request: DisclosureRequest,
    *,
    actor: User,
    dispatched_on: date,
    channel: str,
    registered_mail_number: str = "",
) -> DisclosureRequest:
    with recording_refusals(actor, "record_dispatch", disclosure_request):
        _check_dispatch(dispatched_on, channel, registered_mail_number)
        with transaction.atomic():
            _run(
                disclosure_request,
                disclosure_request.record_dispatch,
                actor=actor,
                dispatched_on=dispatched_on,
                channel=channel,
                registered_mail_number=registered_mail_number,
                details={"channel": channel, "dispatched_on": dispatched_on.isoformat()},
            )
    return disclosure_request


def close(disclosure_request: DisclosureRequest, *, actor: User) -> DisclosureRequest:
    with recording_refusals(actor, "close", disclosure_request), transaction.atomic():
        _run(disclosure_request, disclosure_request.close, actor=actor)
    return disclosure_request


# The reasons staff may choose; NOT_RECORDED only marks older withdrawals.
WITHDRAWAL_REASONS = [r for r in WithdrawalReason if r != WithdrawalReason.NOT_RECORDED]


def withdraw(
    disclosure_request: DisclosureRequest, *, actor: User, reason: str
) -> DisclosureRequest:
    """Record the requester's withdrawal, with its reason code (the code only
    enters the audit trail: it is not free text)."""
    with recording_refusals(actor, "withdraw", disclosure_request):
        if reason not in WITHDRAWAL_REASONS:
            raise ActionRefused(
                gettext("Choose the reason for the withdrawal."),
                cause="invalid_withdrawal",
                http_status=400,
            )
        with transaction.atomic():
            _run(
                disclosure_request,
                disclosure_request.withdraw,
                actor=actor,
                reason=reason,
                details={"reason_code": reason},
            )
    return disclosure_request


# ---------------------------------------------------------------------------
# Second thoughts on the registration: corrections and annulment

# The registration data a correction may change, in the order the history
# lists them; "persons", "scan", and "due_on" and "inadmissibility_reasons"
# (recomputed) follow.
CORRECTABLE_FIELDS = [
    "received_on",
    "requester_kind",
    "requester_name",
    "requester_function",
    "requester_civility",
    "requester_organisation",
    "requester_address",
    "requester_reference",
    "requester_letter_date",
    "requester_deadline",
    "cited_provision",
    "documents",
    "information_requested",
]
# A letter drafted from the registration data is on its way.
_LETTER_STATES = {*SIGNING_STATES, State.SIGNED}


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _person_values(person: PersonData | ConcernedPerson) -> dict[str, Any]:
    return {
        "last_name": person.last_name,
        "first_names": person.first_names,
        "birth_date": _json_value(person.birth_date),
        "national_number": person.national_number,
        "cpas_file_number": person.cpas_file_number,
    }


def _check_may_correct(disclosure_request: DisclosureRequest, actor: User) -> None:
    """Refuse, with the reason the user needs, a correction that is not theirs now."""
    is_dg = actor.has_role(Role.DIRECTOR_GENERAL)
    if not (is_dg or actor.has_role(Role.SECRETARIAT)):
        raise NotAllowed()
    state = disclosure_request.state
    if state == State.SIGNED:
        raise ActionRefused(
            gettext(
                "The reply is signed: the registration data it was drafted from can no "
                "longer be corrected."
            ),
            cause="letter_drafted",
        )
    if state in _LETTER_STATES:
        raise ActionRefused(
            gettext(
                "A letter drafted from these data awaits its signatures: the registration "
                "data cannot be corrected under it. The letter must first be declined at "
                "signature (it returns to the Director general's review); it is then "
                "drafted again from the corrected data."
            ),
            cause="letter_drafted",
        )
    if state not in CORRECTABLE_STATES:
        raise ActionRefused(
            gettext("This action is not possible in the request's current state (%(state)s).")
            % {"state": disclosure_request.get_state_display()},
            cause="illegal_transition",
        )
    if not may_correct_registration(disclosure_request, actor):
        raise NotAllowed(
            gettext(
                "Once a referent is assigned, only the Director general may correct the "
                "registration data."
            )
        )


def _check_correction(changes: CorrectionData, channel: str) -> None:
    """Intake's checks, on the corrected data."""
    _check_intake(changes.as_intake(channel))
    dates = intake_date_errors(
        received_on=changes.received_on,
        requester_letter_date=changes.requester_letter_date,
        requester_deadline=changes.requester_deadline,
    )
    if dates:
        raise ActionRefused(
            " ".join(message for error in dates.values() for message in error.messages),
            cause="invalid_intake",
            http_status=400,
        )


def registration_changes(
    disclosure_request: DisclosureRequest, changes: CorrectionData
) -> dict[str, Any]:
    """The previous values of the fields `changes` corrects, by name (the
    scan aside: only its checked content can tell)."""
    previous: dict[str, Any] = {}
    for name in CORRECTABLE_FIELDS:
        old, new = getattr(disclosure_request, name), getattr(changes, name)
        if name == "documents":
            old, new = sorted(set(old)), sorted(set(new))
        if old != new:
            previous[name] = _json_value(old)
    persons = [_person_values(p) for p in disclosure_request.persons.all()]
    if persons != [_person_values(p) for p in changes.persons]:
        previous["persons"] = persons
    return previous


def decides_otherwise(
    disclosure_request: DisclosureRequest, data: CorrectionData | None = None
) -> bool:
    """Would intake, on these data (by default the request's own), find the
    request admissible where it found it inadmissible, or the reverse?"""
    if disclosure_request.is_oral():
        return False
    data = data or CorrectionData.of(disclosure_request)
    inadmissible = bool(inadmissibility_reasons(data.as_intake(disclosure_request.channel)))
    return inadmissible != bool(disclosure_request.inadmissibility_reasons)


def correct_registration(
    disclosure_request: DisclosureRequest,
    *,
    actor: User,
    reason: str,
    changes: CorrectionData,
) -> RegistrationCorrection:
    """Correct the registration data, with a reason.

    The secretariat corrects until a referent is assigned, the DG afterwards,
    and nobody while a letter drafted from these data awaits its signatures
    or its dispatch. `changes` holds every field; what differs from the
    request is changed, its previous value kept in the correction, and the
    audit event names the fields, never their values. The due date follows
    the reception date, the requester kind and the requester's deadline.

    The state never moves here: intake's decision stands (its reasons are
    updated only while the request stays inadmissible), and the intake flags
    say when the corrected data would decide otherwise. A replaced scan is
    deleted once the correction commits (only its hash is kept, in the
    correction and the audit event): like any file no row points at, it has
    no reason to stay (see sweep_orphan_files).
    """
    with recording_refusals(actor, "correct_registration", disclosure_request):
        _check_may_correct(disclosure_request, actor)
        if not reason.strip():
            raise ActionRefused(
                gettext("Give the reason for the correction."),
                cause="invalid_correction",
                http_status=400,
            )
        _check_correction(changes, disclosure_request.channel)
        # The authority on the scan, as at intake.
        checked = (
            scan_checks.check_upload(changes.scan, changes.scan_content_type)
            if changes.scan is not None
            else None
        )
        with transaction.atomic():
            current = DisclosureRequest.objects.select_for_update().get(pk=disclosure_request.pk)
            if current.state != disclosure_request.state:
                raise fsm.ConcurrentTransition("state changed")
            _check_may_correct(current, actor)
            previous = registration_changes(current, changes)
            for name in CORRECTABLE_FIELDS:
                if name in previous:
                    setattr(current, name, getattr(changes, name))
            current.documents = sorted(set(current.documents))
            scan_sha256 = hashlib.sha256(checked.data).hexdigest() if checked else ""
            old_scan = current.scan.name if current.scan else ""
            if checked is not None and scan_sha256 != current.scan_sha256:
                previous["scan"] = {
                    "sha256": current.scan_sha256,
                    "content_type": current.scan_content_type,
                }
            if not previous:
                raise ActionRefused(
                    gettext("Nothing was corrected: the data are the same as recorded."),
                    cause="nothing_to_correct",
                    http_status=400,
                )
            if previous.keys() & {"received_on", "requester_kind", "requester_deadline"}:
                due_on = deadlines.due_date(
                    current.requester_kind, current.received_on, current.requester_deadline
                )
                if due_on != current.due_on:
                    previous["due_on"] = _json_value(current.due_on)
                    current.due_on = due_on
            if current.is_written_and_inadmissible():
                # Still inadmissible: the letter to come names the reasons as they are now.
                reasons = inadmissibility_reasons(changes.as_intake(current.channel))
                if reasons and reasons != current.inadmissibility_reasons:
                    previous["inadmissibility_reasons"] = current.inadmissibility_reasons
                    current.inadmissibility_reasons = reasons
            if checked is not None and "scan" in previous:
                current.scan = ContentFile(checked.data, name="scan")
                current.scan_content_type = checked.content_type
                current.scan_sha256 = scan_sha256
            _save_storing_scan(current)
            if "scan" in previous:
                track_write(current.scan.name)
                if old_scan:
                    transaction.on_commit(lambda: private_storage.delete(old_scan))
            if "persons" in previous:
                current.persons.all().delete()
                ConcernedPerson.objects.bulk_create(
                    ConcernedPerson(
                        request=current,
                        last_name=p.last_name,
                        first_names=p.first_names,
                        birth_date=p.birth_date,
                        national_number=p.national_number,
                        cpas_file_number=p.cpas_file_number,
                    )
                    for p in changes.persons
                )
            correction = RegistrationCorrection.objects.create(
                request=current,
                corrected_by=actor,
                reason=reason.strip(),
                fields=list(previous),
                previous_values=previous,
            )
            details: dict[str, Any] = {
                "reference": current.reference,
                "fields": list(previous),
                "correction_id": correction.pk,
            }
            if "scan" in previous:
                details["scan_sha256"] = scan_sha256
                details["previous_scan_sha256"] = previous["scan"]["sha256"]
            redrawn = _redraw_acknowledgement(current)
            if redrawn is not None:
                details["acknowledgement_pdf_sha256"] = redrawn
            log.append(
                actor_id=actor.pk,
                action="correct_registration",
                object_type=OBJECT_TYPE,
                object_id=current.pk,
                details=details,
            )
    return correction


def _redraw_acknowledgement(disclosure_request: DisclosureRequest) -> str | None:
    """An acknowledgement nobody has signed yet is written again from the
    corrected data; return its new file's hash. A signed one stays as signed:
    a signature covers the text it signed."""
    acknowledgement = disclosure_request.acknowledgement()
    if acknowledgement is None or acknowledgement.signatures.exists():
        return None
    law_day = disclosure_request.received_on
    with _producing_letters():
        acknowledgement.body = letters.compose_reply_body(
            disclosure_request, ReplyKind.ACKNOWLEDGEMENT, [], [], decided_on=law_day
        )
        acknowledgement.decided_on = law_day
        acknowledgement.save(update_fields=["body", "decided_on"])
        return letters.rerender_reply_document(acknowledgement).sha256


def annul(disclosure_request: DisclosureRequest, *, actor: User, reason: str) -> DisclosureRequest:
    """Annul a registration error (a letter that was no request, an entry made
    twice): the request ends here, for good, and no letter is produced.

    A letter not dispatched (the answer being signed or signed, an
    acknowledgement not sent) is superseded: it stays in the history and
    nothing remains to sign or send. The reason is kept on the request; the
    audit event does not carry it.
    """
    with recording_refusals(actor, "annul", disclosure_request):
        if not fsm.can_proceed(disclosure_request.annul):
            raise ActionRefused(
                gettext("This action is not possible in the request's current state (%(state)s).")
                % {"state": disclosure_request.get_state_display()},
                cause="illegal_transition",
            )
        if not fsm.has_transition_perm(disclosure_request.annul, actor):
            raise NotAllowed()
        if not reason.strip():
            raise ActionRefused(
                gettext("Give the reason for the annulment."),
                cause="invalid_annulment",
                http_status=400,
            )
        with transaction.atomic():
            annulled = _transition(
                disclosure_request, disclosure_request.annul, actor=actor, reason=reason.strip()
            )
            pending = Reply.objects.filter(
                request=disclosure_request, superseded_at__isnull=True
            ).exclude(kind=ReplyKind.ACKNOWLEDGEMENT, dispatched_on__isnull=False)
            superseded = sorted(pending.values_list("pk", flat=True))
            pending.update(superseded_at=timezone.now())
            annulled["details"]["superseded_reply_ids"] = superseded
            log.append(**annulled)
    return disclosure_request


# ---------------------------------------------------------------------------
# The person's own access request (the GDPR's right of access)


def extend_access_deadline(
    disclosure_request: DisclosureRequest, *, actor: User, reason: str
) -> DisclosureRequest:
    """Extend an access request's deadline by two further months (the GDPR's
    deadline): once, with a reason, before the deadline passes. The reason stays
    on the request (the person must be told of it); the trail records that one
    was given, never its text."""
    with recording_refusals(actor, "extend_access_deadline", disclosure_request):
        if not (actor.has_role(Role.DIRECTOR_GENERAL) or actor.has_role(Role.DPO)):
            raise NotAllowed()
        if not reason.strip():
            raise ActionRefused(
                gettext("Give the reason for extending the deadline: the person must be told."),
                cause="invalid_extension",
                http_status=400,
            )
        with transaction.atomic():
            current = _locked(disclosure_request)
            if not current.is_subject_access():
                raise ActionRefused(
                    gettext(
                        "Only the deadline of an access request of the person can be extended."
                    ),
                    cause="illegal_transition",
                )
            if not current.is_open:
                raise ActionRefused(
                    gettext(
                        "This action is not possible in the request's current state (%(state)s)."
                    )
                    % {"state": current.get_state_display()},
                    cause="illegal_transition",
                )
            if current.deadline_extended_at is not None:
                raise ActionRefused(
                    gettext("The deadline has already been extended once: it cannot be again."),
                    cause="already_extended",
                )
            previous = current.due_on
            if previous is None or timezone.localdate() > previous:
                raise ActionRefused(
                    gettext("The deadline has passed: it can be extended only before it expires."),
                    cause="deadline_passed",
                )
            current.due_on = deadlines.extended_access_due_date(current.received_on)
            current.deadline_extended_at = timezone.now()
            current.deadline_extended_by = actor
            current.deadline_extension_reason = reason.strip()
            current.save(
                update_fields=[
                    "due_on",
                    "deadline_extended_at",
                    "deadline_extended_by",
                    "deadline_extension_reason",
                ]
            )
            log.append(
                actor_id=actor.pk,
                action="extend_access_deadline",
                object_type=OBJECT_TYPE,
                object_id=current.pk,
                details={
                    "reference": current.reference,
                    "previous_due_on": previous.isoformat(),
                    "due_on": current.due_on.isoformat(),
                    "reason_given": True,
                },
            )
    disclosure_request.refresh_from_db()
    return disclosure_request


def access_reply_data(disclosure_request: DisclosureRequest) -> tuple[AccessReplyData, list[int]]:
    """What the access reply lists, and the requests it leaves out because
    the law keeps them secret from the person (their ids, for the DG)."""
    summary = queries.access_summary(disclosure_request)
    # One line per letter that left the CPAS, with the categories it disclosed.
    letters_sent: dict[int, list[queries.Disclosure]] = {}
    for disclosure in summary.recipients:
        letters_sent.setdefault(disclosure.request_id, []).append(disclosure)
    data = AccessReplyData(
        categories=list(summary.categories),
        recipients=[
            RecipientData(
                dispatched_on=items[0].dispatched_on,
                requester_kind=items[0].requester_kind,
                requester_organisation=items[0].requester_organisation,
                data_categories=tuple(dict.fromkeys(d.data_category for d in items)),
            )
            for items in letters_sent.values()
        ],
    )
    return data, list(summary.withheld_request_ids)


def prepare_access_reply(disclosure_request: DisclosureRequest, *, actor: User) -> Reply:
    """The DG draws up the reply to the person's access request: the categories
    of data held about them, the purposes, the recipients of their data; never
    data about third parties, nor what the law keeps secret from the person
    (ADMINISTRATIVE_ONLY bases), which is left out without a word in the letter and recorded on
    the request for the DG. The letter then takes both signatures and is
    dispatched as every reply."""
    with (
        recording_refusals(actor, "prepare_access_reply", disclosure_request),
        transaction.atomic(),
    ):
        data, withheld = access_reply_data(disclosure_request)
        disclosure_request.access_withheld_request_ids = withheld
        prepared = _transition(
            disclosure_request,
            disclosure_request.prepare_access_reply,
            actor=actor,
            details={
                "categories": list(data.categories),
                "recipients": len(data.recipients),
                "withheld": len(withheld),
                "withheld_request_ids": withheld,
            },
        )
        try:
            reply = _create_reply(
                disclosure_request,
                kind=ReplyKind.ACCESS,
                legal_bases=queries.access_bases(timezone.localdate()),
                access=data,
            )
        except ValueError as error:
            # letters.rendering draws only the kinds it lists (LETTER_KINDS):
            # a kind it does not know is a letter that cannot be produced.
            raise ActionRefused(
                gettext("The letter could not be produced. Notify the administrator."),
                cause="letter_rendering_failed",
                http_status=503,
            ) from error
        prepared["details"]["reply_id"] = reply.pk
        log.append(**prepared)
    return reply


# ---------------------------------------------------------------------------
# Checking a signed letter again


def revalidate_letter(disclosure_request: DisclosureRequest, *, actor: User) -> DocumentValidation:
    """Validate the signatures of the request's current letter again, for
    whoever reads the reply (`access.sees_reply`): the button of the request
    page. The page otherwise shows the validation recorded when the letter
    was signed, or by the nightly `verify_letters`. Records the result and
    audits it: the outcome and the hash of the file checked, nothing else.
    """
    with recording_refusals(actor, "revalidate_letter", disclosure_request):
        if not sees_reply(actor, disclosure_request):
            raise NotAllowed()
        reply = _fresh(disclosure_request).current_reply()
        document = ReplyDocument.objects.filter(reply=reply).first() if reply else None
        if reply is None or document is None or not reply.signatures.exists():
            raise ActionRefused(
                gettext("This request has no signed letter to check."),
                cause="no_signed_letter",
            )
        with transaction.atomic():
            # The validation (tens of milliseconds) runs before the append.
            with _producing_letters():
                checked = letters.revalidate_document(
                    document, trigger=DocumentValidation.Trigger.ON_DEMAND
                )
            log.append(
                actor_id=actor.pk,
                action="revalidate_letter",
                object_type=OBJECT_TYPE,
                object_id=disclosure_request.pk,
                details={
                    "reference": disclosure_request.reference,
                    "reply_id": reply.pk,
                    "validation_id": checked.pk,
                    "pdf_sha256": checked.sha256,
                    "pdf_revision": checked.revision,
                    "signatures_valid": checked.ok,
                    "signatures_complete": checked.complete,
                },
            )
    return checked


# ---------------------------------------------------------------------------
# Searches worth an audit event


def record_content_search(actor: User, *, results: int, results_exact: bool = True) -> None:
    """A register search on persons, legal bases or cited text: who looked for whom
    matters in a breach inquiry. The criteria themselves are personal data and are
    not recorded; the count of matches is. The register counts up to a limit
    (queries.COUNT_LIMIT): beyond it the event says "more than" that many
    (`results_over`), never an estimate passed for a count.
    """
    with transaction.atomic():
        log.append(
            actor_id=actor.pk,
            action="search_content",
            object_type="register",
            details={"results" if results_exact else "results_over": results},
        )
