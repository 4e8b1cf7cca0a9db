"""Disclosure requests, their opinions, decisions and replies.

The allowed moves of a request are declared once, here, with
`@fsm.transition`. The functions in `requests_app.services` are the only
callers of those transitions: they check the actor's right, run the
transition, save and write the audit event in one transaction.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import django_fsm as fsm
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from accounts.models import Role, User
from common.storage import storage as private_storage_callable
from legal_basis.models import DataCategory, LegalBasis, RequesterKind

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django_fsm import Transition
    from django_stubs_ext.db.models.manager import RelatedManager


def new_scan_name(instance: DisclosureRequest, filename: str) -> str:
    # Stored names are server-generated: the uploaded name is never used.
    return f"scans/{uuid.uuid4().hex}"


class Channel(models.TextChoices):
    POST = "post", _("Post")
    REGISTERED_POST = "registered_post", _("Registered post")
    EMAIL = "email", _("E-mail")
    HAND_DELIVERY = "hand_delivery", _("Hand delivery")
    FAX = "fax", _("Fax")
    ORAL = "oral", _("Oral (telephone, front desk)")


class DispatchChannel(models.TextChoices):
    POST = "post", _("Post")
    REGISTERED_POST = "registered_post", _("Registered post")
    EMAIL = "email", _("E-mail")
    HAND_DELIVERY = "hand_delivery", _("Hand delivery")


class State(models.TextChoices):
    RECEIVED = "received", _("Received")
    CLOSED_ORAL = "closed_oral", _("Closed: oral request, cannot be processed")
    AWAITING_ASSIGNMENT = "awaiting_assignment", _("Waiting for a referent")
    # A data-subject access request (the GDPR's right of access): the DG prepares the reply.
    AWAITING_ACCESS_REPLY = "awaiting_access_reply", _("Access request: reply to prepare (DG)")
    AWAITING_OPINION = "awaiting_opinion", _("Opinion in preparation")
    AWAITING_REVIEW = "awaiting_review", _("Legality review (DG)")
    AWAITING_SIGNATURES = "awaiting_signatures", _("Reply to sign")
    PARTIALLY_SIGNED = "partially_signed", _("Reply signed once")
    SIGNED = "signed", _("Reply signed, to dispatch")
    DISPATCHED = "dispatched", _("Reply dispatched")
    CLOSED = "closed", _("Closed")
    WITHDRAWN = "withdrawn", _("Withdrawn by the requester")
    ANNULLED = "annulled", _("Annulled: registration error")


OPEN_STATES = [
    State.AWAITING_ASSIGNMENT,
    State.AWAITING_ACCESS_REPLY,
    State.AWAITING_OPINION,
    State.AWAITING_REVIEW,
    State.AWAITING_SIGNATURES,
    State.PARTIALLY_SIGNED,
    State.SIGNED,
]
WITHDRAWABLE_STATES = OPEN_STATES
# A registration error can be annulled until the reply leaves the CPAS.
ANNULLABLE_STATES = OPEN_STATES
# The states in which a reply awaits its signatures: a signer may decline.
SIGNING_STATES = [State.AWAITING_SIGNATURES, State.PARTIALLY_SIGNED]


class RequestKind(models.TextChoices):
    """What the requester asks for: the path the request follows."""

    LIFT_SECRECY = "lift_secrecy", _("Request to lift professional secrecy")
    # The person asks about themself (the GDPR's right of access): not a request to lift
    # the secret, and answered within one month (the GDPR's deadline).
    SUBJECT_ACCESS = "subject_access", _("Access request of the person concerned")


class IdentityVerification(models.TextChoices):
    """How the identity of a person asking for their own data was verified."""

    ID_CARD_AT_DESK = "id_card_at_desk", _("Identity card shown at the desk")
    EID_SIGNED_LETTER = "eid_signed_letter", _("Letter signed with the electronic identity card")
    ID_CARD_COPY = "id_card_copy", _("Copy of the identity card enclosed")


class WithdrawalReason(models.TextChoices):
    WITHDRAWN_IN_WRITING = (
        "withdrawn_in_writing",
        _("The requester withdrew the request in writing"),
    )
    INFORMATION_OBTAINED = (
        "information_obtained",
        _("The requester obtained the information otherwise"),
    )
    PROCEEDINGS_ENDED = "proceedings_ended", _("The proceedings behind the request have ended")
    DUPLICATE = "duplicate", _("Duplicate of another request")
    # Only for requests withdrawn before reasons were recorded (migration 0005).
    NOT_RECORDED = "not_recorded", _("Reason not recorded")


class InadmissibilityReason(models.TextChoices):
    PERSON_NOT_IDENTIFIED = (
        "person_not_identified",
        _("The person concerned is not precisely identified"),
    )
    NO_LEGAL_PROVISION = (
        "no_legal_provision",
        _("The request cites no legal provision"),
    )


class Proposal(models.TextChoices):
    DISCLOSE = "disclose", _("Disclose")
    DISCLOSE_IN_PART = "disclose_in_part", _("Disclose in part")
    REFUSE = "refuse", _("Refuse")


class ReplyKind(models.TextChoices):
    DISCLOSURE = "disclosure", _("Disclosure of information")
    REFUSAL = "refusal", _("Refusal to disclose")
    INADMISSIBILITY = "inadmissibility", _("Request inadmissible as it stands")
    # Sent alongside the examination; it decides nothing.
    ACKNOWLEDGEMENT = "acknowledgement", _("Acknowledgement of receipt")
    # The reply to the person's own access request (the GDPR's right of access).
    ACCESS = "access", _("Reply to an access request")


# Transition permissions. django-fsm calls these with (instance, user); the
# services check them before running a transition.


def _is_president_or_dg(request: Any, user: Any) -> bool:
    return bool(user.has_role(Role.PRESIDENT) or user.has_role(Role.DIRECTOR_GENERAL))


def _is_dg(request: Any, user: Any) -> bool:
    return bool(user.has_role(Role.DIRECTOR_GENERAL))


def _is_secretariat(request: Any, user: Any) -> bool:
    return bool(user.has_role(Role.SECRETARIAT))


def _is_assigned_referent(request: Any, user: Any) -> bool:
    return request.referent_id is not None and request.referent_id == user.pk


def _is_assigned_referent_not_dg(request: Any, user: Any) -> bool:
    return _is_assigned_referent(request, user) and not user.has_role(Role.DIRECTOR_GENERAL)


def _is_assigned_referent_and_dg(request: Any, user: Any) -> bool:
    return _is_assigned_referent(request, user) and user.has_role(Role.DIRECTOR_GENERAL)


def may_sign_letter(request: Any, letter: Reply | None, user: Any) -> bool:
    """Whether `user` may sign `letter` (the reply or the acknowledgement) now."""
    # Segregation of duties: the referent never signs, and nobody signs twice.
    if _is_assigned_referent(request, user):
        return False
    if not (_is_president_or_dg(request, user)):
        return False
    if letter is None:
        return False
    return bool(letter.open_capacities_for(user))


def _may_sign(request: Any, user: Any) -> bool:
    return may_sign_letter(request, getattr(request, "reply", None), user)


# The acknowledgement of receipt runs beside the examination and moves no
# state, so its steps are no transitions: their rules are written here once,
# for the services that check them and the pages and queues that offer them.
# A request no longer open (withdrawn, annulled, answered) has no
# acknowledgement left to sign or send.


def may_prepare_acknowledgement(request: DisclosureRequest, user: User) -> bool:
    return (
        _is_secretariat(request, user)
        and request.is_open
        and request.is_written_and_admissible()
        # One per request, a superseded one included (a database constraint).
        and not any(r.kind == ReplyKind.ACKNOWLEDGEMENT for r in request.replies.all())
    )


def may_sign_acknowledgement(request: DisclosureRequest, user: User) -> bool:
    return request.is_open and may_sign_letter(request, request.acknowledgement(), user)


def may_record_acknowledgement_dispatch(request: DisclosureRequest, user: User) -> bool:
    acknowledgement = request.acknowledgement()
    return (
        _is_secretariat(request, user)
        and request.is_open
        and acknowledgement is not None
        and not acknowledgement.is_draft
        and acknowledgement.dispatched_on is None
    )


def may_extend_access_deadline(request: DisclosureRequest, user: User) -> bool:
    """The DG or the DPO may extend an access request's deadline by two
    months (the GDPR's deadline): once, while it is open and not yet late."""
    return (
        (user.has_role(Role.DIRECTOR_GENERAL) or user.has_role(Role.DPO))
        and request.is_subject_access()
        and request.is_open
        and request.deadline_extended_at is None
        and request.due_on is not None
        and timezone.localdate() <= request.due_on
    )


def _may_decline(request: Any, user: Any) -> bool:
    # Whoever may sign the letter now may decline to sign it.
    return _may_sign(request, user)


def _may_withdraw(request: Any, user: Any) -> bool:
    return _is_secretariat(request, user) or _is_president_or_dg(request, user)


class RequesterFunction(models.TextChoices):
    """The requester's office, which sets the letter's title and salutation."""

    INVESTIGATING_JUDGE = "investigating_judge", _("Investigating judge")
    JUDGE = "judge", _("Judge")
    CROWN_PROSECUTOR = "crown_prosecutor", _("Crown prosecutor")
    DEPUTY_PROSECUTOR = "deputy_prosecutor", _("Deputy Crown prosecutor")
    LABOUR_PROSECUTOR = "labour_prosecutor", _("Labour prosecutor")
    POLICE_COMMISSIONER = "police_commissioner", _("Police commissioner")
    POLICE_OFFICER = "police_officer", _("Police officer")
    BAILIFF = "bailiff", _("Bailiff")
    LAWYER = "lawyer", _("Lawyer")
    MAYOR = "mayor", _("Mayor")
    DIRECTOR = "director", _("Head of a public body")


class Civility(models.TextChoices):
    MADAM = "madam", _("Madam")
    SIR = "sir", _("Sir")


# The register sorts on the due date with the requests that have none last
# (first when descending): a NULL has no place in the keyset comparison
# `(due, year, number) > (...)`, so the sort and its index use this expression.
NO_DUE_DATE = date(9999, 12, 31)
REGISTER_DUE_ON = Coalesce(models.F("due_on"), models.Value(NO_DUE_DATE))


class DisclosureRequest(fsm.ConcurrentTransitionMixin, models.Model):
    reference = models.CharField(max_length=20, unique=True, editable=False)
    year = models.PositiveSmallIntegerField(editable=False)
    number = models.PositiveIntegerField(editable=False)

    received_on = models.DateField()
    channel = models.CharField(max_length=32, choices=Channel.choices)
    # db_default: rows written by raw SQL (the benches, the scale tests) too.
    kind = models.CharField(
        max_length=20,
        choices=RequestKind.choices,
        default=RequestKind.LIFT_SECRECY,
        db_default=RequestKind.LIFT_SECRECY,
    )

    requester_kind = models.CharField(max_length=32, choices=RequesterKind.choices)
    requester_name = models.CharField(max_length=200)
    requester_organisation = models.CharField(max_length=200, blank=True)
    requester_address = models.TextField(blank=True)
    requester_reference = models.CharField(max_length=100, blank=True)
    # The requester's own letter: its date goes in the reply's subject line.
    requester_letter_date = models.DateField(null=True, blank=True)
    # How the letter addresses the requester (protocol, see letters.protocol).
    requester_function = models.CharField(
        max_length=32, choices=RequesterFunction.choices, blank=True
    )
    requester_civility = models.CharField(max_length=8, choices=Civility.choices, blank=True)

    cited_provision = models.TextField(blank=True)
    # Documents that came with the request (SupportingDocument values): some
    # bases ground a disclosure only when their document is on file.
    documents = models.JSONField(default=list, blank=True)
    information_requested = models.TextField()
    requester_deadline = models.DateField(null=True, blank=True)

    scan = models.FileField(storage=private_storage_callable, upload_to=new_scan_name, blank=True)
    scan_content_type = models.CharField(max_length=40, blank=True)
    scan_sha256 = models.CharField(max_length=64, blank=True)

    inadmissibility_reasons = models.JSONField(default=list, blank=True)

    state = fsm.FSMField(
        max_length=32, choices=State.choices, default=State.RECEIVED, protected=True
    )
    referent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_requests",
    )
    follows = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="follow_ups"
    )

    dispatched_on = models.DateField(null=True, blank=True)
    dispatch_channel = models.CharField(max_length=32, choices=DispatchChannel.choices, blank=True)
    registered_mail_number = models.CharField(max_length=60, blank=True)
    # The requester's deadline, or the default for the requester kind counted
    # in Belgian working days from reception; set at intake.
    due_on = models.DateField(null=True, blank=True)

    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    withdrawal_reason = models.CharField(
        max_length=32, choices=WithdrawalReason.choices, blank=True
    )
    # The DG's reason for annulling a registration error; content, never audited.
    annulment_reason = models.TextField(blank=True)
    # Set when the retention schedule removed the persons' data, the scan and
    # the letters (dpo/retention.py): what is left serves the statistics.
    personal_data_removed_at = models.DateTimeField(null=True, blank=True, editable=False)

    # An access request (kind SUBJECT_ACCESS): how the person's identity was
    # verified, by whom and when, recorded at intake.
    identity_verification = models.CharField(
        max_length=32, choices=IdentityVerification.choices, blank=True, db_default=""
    )
    identity_verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    identity_verified_at = models.DateTimeField(null=True, blank=True)
    # The one extension of an access request's deadline (the GDPR's deadline):
    # when, by whom, and why (content: never in the audit trail).
    deadline_extended_at = models.DateTimeField(null=True, blank=True)
    deadline_extended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    deadline_extension_reason = models.TextField(blank=True, db_default="")
    # Requests about the person left out of the access reply because the law
    # keeps them secret from the person (the catalogue's ADMINISTRATIVE_ONLY bases): their
    # ids, for the DG; set when the reply is prepared.
    access_withheld_request_ids = models.JSONField(
        default=list, blank=True, db_default=models.Value([], models.JSONField())
    )

    if TYPE_CHECKING:
        persons: RelatedManager[ConcernedPerson]
        opinions: RelatedManager[Opinion]
        reviews: RelatedManager[Review]
        replies: RelatedManager[Reply]
        corrections: RelatedManager[RegistrationCorrection]
        referent_id: int | None
        identity_verified_by_id: int | None

        def get_available_user_state_transitions(self, user: User) -> Iterator[Transition]: ...

    class Meta:
        ordering = ["-year", "-number"]
        verbose_name = _("request to lift secrecy")
        verbose_name_plural = _("requests to lift secrecy")
        permissions = [
            ("view_register", "Can see the register of all requests (metadata)"),
            ("view_content", "Can see the content of a request"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["year", "number"], name="disclosure_request_number_per_year"
            ),
            models.CheckConstraint(
                condition=models.Q(channel=Channel.ORAL)
                | ~models.Q(scan="")
                | models.Q(personal_data_removed_at__isnull=False),
                name="disclosure_request_written_needs_scan",
            ),
            models.CheckConstraint(
                condition=~models.Q(state__in=[State.AWAITING_OPINION, State.AWAITING_REVIEW])
                | models.Q(referent__isnull=False)
                # A declined inadmissibility letter comes back to the DG
                # without ever having been examined by a referent.
                | (models.Q(state=State.AWAITING_REVIEW) & ~models.Q(inadmissibility_reasons=[])),
                name="disclosure_request_referent_when_examined",
            ),
            models.CheckConstraint(
                condition=~models.Q(state=State.CLOSED_ORAL) | models.Q(channel=Channel.ORAL),
                name="disclosure_request_closed_oral_only_if_oral",
            ),
            models.CheckConstraint(
                condition=~models.Q(state=State.WITHDRAWN) | ~models.Q(withdrawal_reason=""),
                name="disclosure_request_withdrawal_has_reason",
            ),
            # An access request comes from the person, in writing, with the
            # verification of their identity recorded.
            models.CheckConstraint(
                condition=~models.Q(kind=RequestKind.SUBJECT_ACCESS)
                | (
                    models.Q(requester_kind=RequesterKind.PERSON_CONCERNED)
                    & ~models.Q(channel=Channel.ORAL)
                    & ~models.Q(identity_verification="")
                    & models.Q(identity_verified_by__isnull=False)
                    & models.Q(identity_verified_at__isnull=False)
                ),
                name="disclosure_request_access_identity_verified",
            ),
            models.CheckConstraint(
                condition=models.Q(kind=RequestKind.SUBJECT_ACCESS)
                | models.Q(identity_verification="", deadline_extended_at__isnull=True),
                name="disclosure_request_access_fields_only_for_access",
            ),
            models.CheckConstraint(
                condition=models.Q(deadline_extended_at__isnull=True)
                | (
                    ~models.Q(deadline_extension_reason="")
                    & models.Q(deadline_extended_by__isnull=False)
                ),
                name="disclosure_request_extension_has_reason",
            ),
            models.CheckConstraint(
                condition=~models.Q(state=State.AWAITING_ACCESS_REPLY)
                | models.Q(kind=RequestKind.SUBJECT_ACCESS),
                name="disclosure_request_access_reply_only_for_access",
            ),
            models.CheckConstraint(
                condition=~models.Q(state=State.ANNULLED)
                | ~models.Q(annulment_reason="")
                | models.Q(personal_data_removed_at__isnull=False),
                name="disclosure_request_annulment_has_reason",
            ),
        ]
        # The register's sorts (queries.REGISTER_SORTS): one btree per order,
        # read forwards or backwards for either direction, ending in the
        # unique (year, number) so that keyset pagination seeks straight to a
        # page. The reference order is the unique constraint's own index; the
        # state index also serves the state filter with the reference order.
        indexes = [
            models.Index(fields=["state", "year", "number"], name="request_register_state"),
            models.Index(
                fields=["received_on", "year", "number"], name="request_register_received"
            ),
            models.Index(
                REGISTER_DUE_ON, models.F("year"), models.F("number"), name="request_register_due"
            ),
            models.Index(
                fields=["requester_name", "year", "number"], name="request_register_requester"
            ),
            # A referent's open requests (the assignment page's workload), among
            # the thousands they held over the years.
            models.Index(fields=["referent", "state"], name="request_referent_state"),
        ]

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        return reverse("requests_app:detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_overdue(self) -> bool:
        due = self.due_on
        return self.is_open and due is not None and due < timezone.localdate()

    @property
    def is_nearly_late(self) -> bool:
        """Open and due within three calendar days."""
        due = self.due_on
        today = timezone.localdate()
        return self.is_open and due is not None and today <= due <= today + timedelta(days=3)

    def is_oral(self) -> bool:
        return self.channel == Channel.ORAL

    def is_subject_access(self) -> bool:
        return self.kind == RequestKind.SUBJECT_ACCESS

    def has_identity_verified(self) -> bool:
        return bool(
            self.identity_verification
            and self.identity_verified_by_id is not None
            and self.identity_verified_at is not None
        )

    def is_written_and_admissible(self) -> bool:
        return not (self.is_oral() or self.inadmissibility_reasons or self.is_subject_access())

    def is_written_and_inadmissible(self) -> bool:
        return not self.is_oral() and bool(self.inadmissibility_reasons)

    def has_current_opinion(self) -> bool:
        return self.current_opinion() is not None

    def is_step_of(self, transition_name: str, user: User) -> bool:
        """Whether `user` is the one to take this step now: the transition starts
        from the current state and its declared permission admits the user.

        Conditions are left out: they say whether the step can be completed
        (an opinion written, a letter ready), not whose step it is.
        """
        meta = getattr(self, transition_name)._django_fsm
        return bool(meta.has_transition_perm(self, self.state, user))

    def current_opinion(self) -> Opinion | None:
        opinions = list(self.opinions.all())
        return max(opinions, key=lambda o: o.number) if opinions else None

    def current_reply(self) -> Reply | None:
        """The letter that answers the request: not superseded (declined at
        signature, or an inadmissibility withdrawn), not an acknowledgement.
        Reads `replies.all()` so that a prefetch serves it."""
        for reply in self.replies.all():
            if reply.superseded_at is None and reply.kind != ReplyKind.ACKNOWLEDGEMENT:
                return reply
        return None

    @property
    def reply(self) -> Reply:
        reply = self.current_reply()
        if reply is None:
            raise NoCurrentReply(gettext("This request has no current reply."))
        return reply

    def acknowledgement(self) -> Reply | None:
        for reply in self.replies.all():
            if reply.superseded_at is None and reply.kind == ReplyKind.ACKNOWLEDGEMENT:
                return reply
        return None

    def has_reply(self) -> bool:
        return self.current_reply() is not None

    def has_two_signatures(self) -> bool:
        reply = self.current_reply()
        return reply is not None and reply.signatures.count() == 2

    def has_inadmissibility_reply(self) -> bool:
        reply = self.current_reply()
        return reply is not None and reply.kind == ReplyKind.INADMISSIBILITY

    def is_inadmissible_without_opinion(self) -> bool:
        """Back at the DG after the inadmissibility letter was declined."""
        return self.is_written_and_inadmissible() and not self.opinions.exists()

    # Intake

    @fsm.transition(
        field=state,
        source=State.RECEIVED,
        target=State.CLOSED_ORAL,
        conditions=[is_oral],  # type: ignore[list-item]  # fsm types conditions loosely
        permission=_is_secretariat,
    )
    def close_as_oral(self) -> None:
        self.closed_at = timezone.now()

    @fsm.transition(
        field=state,
        source=State.RECEIVED,
        target=State.AWAITING_ASSIGNMENT,
        conditions=[is_written_and_admissible],  # type: ignore[list-item]
        permission=_is_secretariat,
    )
    def accept_for_examination(self) -> None:
        pass

    @fsm.transition(
        field=state,
        source=State.RECEIVED,
        target=State.AWAITING_SIGNATURES,
        conditions=[is_written_and_inadmissible],  # type: ignore[list-item]
        permission=_is_secretariat,
    )
    def declare_inadmissible(self) -> None:
        pass

    @fsm.transition(
        field=state,
        source=State.RECEIVED,
        target=State.AWAITING_ACCESS_REPLY,
        conditions=[is_subject_access, has_identity_verified],  # type: ignore[list-item]
        permission=_is_secretariat,
    )
    def accept_access_request(self) -> None:
        """The person's own request (the GDPR's right of access), their identity verified:
        no referent, no opinion; the DG prepares the reply."""

    @fsm.transition(
        field=state,
        source=State.AWAITING_ACCESS_REPLY,
        target=State.AWAITING_SIGNATURES,
        conditions=[is_subject_access, has_identity_verified],  # type: ignore[list-item]
        permission=_is_dg,
    )
    def prepare_access_reply(self) -> None:
        """The DG draws up the access reply: it goes to both signatures."""

    # Examination

    @fsm.transition(
        field=state,
        source=[State.AWAITING_ASSIGNMENT, State.AWAITING_OPINION],
        target=State.AWAITING_OPINION,
        permission=_is_president_or_dg,
    )
    def assign_referent(self, referent: User) -> None:
        self.referent = referent

    @fsm.transition(
        field=state,
        source=State.AWAITING_OPINION,
        target=State.AWAITING_REVIEW,
        conditions=[has_current_opinion],  # type: ignore[list-item]
        permission=_is_assigned_referent_not_dg,
    )
    def submit_opinion(self) -> None:
        pass

    @fsm.transition(
        field=state,
        source=State.AWAITING_OPINION,
        target=State.AWAITING_SIGNATURES,
        conditions=[has_current_opinion],  # type: ignore[list-item]
        permission=_is_assigned_referent_and_dg,
    )
    def submit_opinion_as_review(self) -> None:
        """The DG was the referent: their opinion is the legality review."""

    @fsm.transition(
        field=state,
        source=State.AWAITING_REVIEW,
        target=State.AWAITING_SIGNATURES,
        permission=_is_dg,
    )
    def approve(self) -> None:
        pass

    @fsm.transition(
        field=state,
        source=State.AWAITING_REVIEW,
        target=State.AWAITING_SIGNATURES,
        permission=_is_dg,
    )
    def refuse_disclosure(self) -> None:
        pass

    @fsm.transition(
        field=state,
        source=State.AWAITING_REVIEW,
        target=State.AWAITING_OPINION,
        permission=_is_dg,
    )
    def return_for_revision(self) -> None:
        pass

    # Signatures and dispatch

    @fsm.transition(
        field=state,
        source=State.AWAITING_SIGNATURES,
        target=State.PARTIALLY_SIGNED,
        conditions=[has_reply],  # type: ignore[list-item]
        permission=_may_sign,
    )
    def sign_first(self) -> None:
        pass

    @fsm.transition(
        field=state,
        source=State.PARTIALLY_SIGNED,
        target=State.SIGNED,
        conditions=[has_reply],  # type: ignore[list-item]
        permission=_may_sign,
    )
    def sign_second(self) -> None:
        pass

    @fsm.transition(
        field=state,
        source=State.SIGNED,
        target=State.DISPATCHED,
        conditions=[has_two_signatures],  # type: ignore[list-item]
        permission=_is_secretariat,
    )
    def record_dispatch(
        self, *, dispatched_on: date, channel: str, registered_mail_number: str
    ) -> None:
        self.dispatched_on = dispatched_on
        self.dispatch_channel = channel
        self.registered_mail_number = registered_mail_number

    @fsm.transition(
        field=state,
        source=State.DISPATCHED,
        target=State.CLOSED,
        permission=_is_secretariat,
    )
    def close(self) -> None:
        self.closed_at = timezone.now()

    @fsm.transition(
        field=state,
        source=WITHDRAWABLE_STATES,
        target=State.WITHDRAWN,
        permission=_may_withdraw,
    )
    def withdraw(self, reason: str) -> None:
        self.withdrawal_reason = reason
        self.closed_at = timezone.now()

    # Second thoughts

    @fsm.transition(
        field=state,
        source=ANNULLABLE_STATES,
        target=State.ANNULLED,
        permission=_is_dg,
    )
    def annul(self, reason: str) -> None:
        """A registration error (not a request at all, a duplicate entry): no letter."""
        self.annulment_reason = reason
        self.closed_at = timezone.now()

    @fsm.transition(
        field=state,
        source=SIGNING_STATES,
        # An access reply goes back to the DG, who prepares it again.
        target=fsm.GET_STATE(
            lambda self: (
                State.AWAITING_ACCESS_REPLY if self.is_subject_access() else State.AWAITING_REVIEW
            ),
            states=[State.AWAITING_REVIEW, State.AWAITING_ACCESS_REPLY],
        ),
        conditions=[has_reply],  # type: ignore[list-item]
        permission=_may_decline,
    )
    def decline_to_sign(self) -> None:
        """A signer sends the letter back to the DG's review; the service
        supersedes the letter, so a signature already given no longer counts."""

    @fsm.transition(
        field=state,
        source=[*SIGNING_STATES, State.AWAITING_REVIEW],
        target=State.AWAITING_ASSIGNMENT,
        conditions=[is_written_and_inadmissible],  # type: ignore[list-item]
        permission=_is_dg,
    )
    def reopen_examination(self) -> None:
        """The DG finds the inadmissibility wrong: the request is examined."""
        self.inadmissibility_reasons = []

    @fsm.transition(
        field=state,
        source=State.AWAITING_REVIEW,
        target=State.AWAITING_SIGNATURES,
        conditions=[is_inadmissible_without_opinion],  # type: ignore[list-item]
        permission=_is_dg,
    )
    def confirm_inadmissibility(self) -> None:
        """After a declined inadmissibility letter: a new letter is prepared."""


class DefaultDeadline(models.Model):
    """Working days allowed to answer, per requester kind, when the letter sets none."""

    requester_kind = models.CharField(max_length=32, choices=RequesterKind.choices, unique=True)
    working_days = models.PositiveSmallIntegerField()
    # Set by the administrator: an acknowledgement of receipt is prepared for
    # signature when a written, admissible request of this kind is registered.
    acknowledge_receipt = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("default deadline")
        verbose_name_plural = _("default deadlines")

    def __str__(self) -> str:
        return ngettext(
            "%(kind)s: %(days)d working day", "%(kind)s: %(days)d working days", self.working_days
        ) % {"kind": self.get_requester_kind_display(), "days": self.working_days}


class PublicHoliday(models.Model):
    """Extra non-working days kept by the administrator (local holidays, closures)."""

    day = models.DateField(unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["day"]
        verbose_name = _("public holiday or closure day")
        verbose_name_plural = _("public holidays or closure days")

    def __str__(self) -> str:
        return f"{self.day} {self.name}"


class ReferenceCounter(models.Model):
    """Last reference number handed out per year.

    Locked with SELECT ... FOR UPDATE by the transaction that creates a
    request, so numbers stay unique and, since a rolled-back creation also
    rolls back the counter, gap-free.
    """

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


def search_key(text: str) -> str:
    """`text` as the person search compares it: case folded, accents and
    other marks dropped (NFKD), runs of spaces made one: "  Dupré  MARIE" and
    "dupre marie" give the same key."""
    # Case folding first: it can itself produce combining marks ("İ" -> "i̇").
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


def person_search_name(last_name: str, first_names: str) -> str:
    return search_key(f"{last_name} {first_names}")


class ConcernedPersonQuerySet(models.QuerySet["ConcernedPerson"]):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[ConcernedPerson]:
        # bulk_create skips save(): the search key is filled here for every caller.
        objs = list(objs)
        for person in objs:
            person.search_name = person_search_name(person.last_name, person.first_names)
        return super().bulk_create(objs, *args, **kwargs)


class ConcernedPerson(models.Model):
    request = models.ForeignKey(DisclosureRequest, models.CASCADE, related_name="persons")
    last_name = models.CharField(max_length=150)
    first_names = models.CharField(max_length=200, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    national_number = models.CharField(max_length=11, blank=True)
    cpas_file_number = models.CharField(max_length=50, blank=True)
    # "last first" as `search_key` writes it, kept by save() and bulk_create:
    # the register's person search matches it with LIKE '%...%', which a
    # trigram index serves on PostgreSQL (migration 0007).
    search_name = models.TextField(editable=False, blank=True, default="")

    objects = ConcernedPersonQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("person concerned")
        verbose_name_plural = _("persons concerned")
        indexes = [models.Index(fields=["national_number"], name="person_national_number")]

    def __str__(self) -> str:
        return f"{self.last_name} {self.first_names}".strip()

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.search_name = person_search_name(self.last_name, self.first_names)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"last_name", "first_names"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "search_name"}
        super().save(*args, **kwargs)

    def is_precisely_identified(self) -> bool:
        """Last name and first names, plus a birth date or a national number."""
        return bool(
            self.last_name.strip()
            and self.first_names.strip()
            and (self.birth_date or self.national_number)
        )


class Opinion(models.Model):
    """A referent's reasoned opinion. Each submission is a new, frozen row."""

    request = models.ForeignKey(DisclosureRequest, models.PROTECT, related_name="opinions")
    number = models.PositiveSmallIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    legal_bases = models.ManyToManyField(LegalBasis, related_name="opinions")
    proposal = models.CharField(max_length=32, choices=Proposal.choices)
    reasoning = models.TextField()
    is_review = models.BooleanField(
        default=False, help_text="Written by the DG as referent: it is the review."
    )
    # Why disclosure is proposed despite a blocking flag or an unmet
    # condition; shown to both signers.
    override_reason = models.TextField(blank=True)
    # Written by the DG as referent when an item rests on a contested basis.
    legal_analysis = models.TextField(blank=True)
    submitted_at = models.DateTimeField(default=timezone.now)

    if TYPE_CHECKING:
        items: RelatedManager[OpinionItem]
        checklist_answers: RelatedManager[ChecklistAnswer]

    class Meta:
        ordering = ["request", "number"]
        verbose_name = _("reasoned opinion")
        verbose_name_plural = _("reasoned opinions")
        constraints = [
            models.UniqueConstraint(
                fields=["request", "number"], name="opinion_number_per_request"
            )
        ]
        # The DG's home lists the open requests with an override
        # (queries._overriding): a few percent of the opinions ever written.
        indexes = [
            # With the opinion's number, the DG's home page finds the current
            # overriding opinions from the index alone (bench/home_bench.py).
            models.Index(
                fields=["request", "number"],
                condition=~models.Q(override_reason=""),
                name="opinion_override",
            )
        ]

    def __str__(self) -> str:
        return gettext("%(request)s opinion %(number)s") % {
            "request": self.request,
            "number": self.number,
        }


class ChecklistAnswer(models.Model):
    """The referent's answer to one condition of a cited basis's checklist."""

    class Answer(models.TextChoices):
        MET = "met", _("Met")
        NOT_MET = "not_met", _("Not met")
        NOT_APPLICABLE = "not_applicable", _("Not applicable")

    opinion = models.ForeignKey(Opinion, models.CASCADE, related_name="checklist_answers")
    legal_basis = models.ForeignKey(LegalBasis, models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    answer = models.CharField(max_length=16, choices=Answer.choices)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["opinion", "legal_basis", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["opinion", "legal_basis", "position"],
                name="checklist_answer_once_per_condition",
            )
        ]

    def __str__(self) -> str:
        return f"{self.legal_basis_id}#{self.position}: {self.answer}"

    @property
    def condition(self) -> str:
        checklist = self.legal_basis.checklist
        if 0 <= self.position < len(checklist):
            return str(checklist[self.position].get("text", ""))
        return ""


class OpinionItem(models.Model):
    """One piece of information proposed for disclosure."""

    opinion = models.ForeignKey(Opinion, models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    description = models.TextField()
    data_category = models.CharField(max_length=32, choices=DataCategory.choices)
    necessity = models.TextField(help_text="Why it is strictly necessary.")
    # The basis that allows this item; one of the opinion's bases.
    legal_basis = models.ForeignKey(LegalBasis, models.PROTECT, related_name="opinion_items")

    class Meta:
        ordering = ["opinion", "position"]

    def __str__(self) -> str:
        return f"item {self.position}"


class Review(models.Model):
    """The DG's legality review of one opinion."""

    class Outcome(models.TextChoices):
        APPROVED = "approved", _("Approved")
        AMENDED = "amended", _("Amended and approved")
        REFUSED = "refused", _("Disclosure refused")
        RETURNED = "returned", _("Returned to the referent")

    request = models.ForeignKey(DisclosureRequest, models.PROTECT, related_name="reviews")
    opinion = models.ForeignKey(Opinion, models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    remarks = models.TextField(blank=True)
    override_reason = models.TextField(blank=True)
    # The DG's written legal analysis, required when an approved item rests
    # on a contested basis.
    legal_analysis = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["request", "reviewed_at"]
        verbose_name = _("legality review")
        indexes = [
            # With the opinion reviewed: read from the index alone, as above.
            models.Index(
                fields=["request", "opinion"],
                condition=~models.Q(override_reason=""),
                name="review_override",
            )
        ]

    def __str__(self) -> str:
        return f"{self.request} {self.outcome}"


class Reply(models.Model):
    """The official reply: it exists only as the result of a decision."""

    request = models.ForeignKey(DisclosureRequest, models.PROTECT, related_name="replies")
    kind = models.CharField(max_length=20, choices=ReplyKind.choices)
    decided_by_review = models.OneToOneField(
        Review, models.PROTECT, null=True, blank=True, related_name="reply"
    )
    decided_by_opinion = models.OneToOneField(
        Opinion, models.PROTECT, null=True, blank=True, related_name="reply"
    )
    legal_bases = models.ManyToManyField(LegalBasis, related_name="replies", blank=True)
    body = models.TextField()
    # The law the letter prints is the law in force on this day.
    decided_on = models.DateField(default=timezone.localdate)
    created_at = models.DateTimeField(default=timezone.now)
    # One paragraph the DG may add before anyone signs (for instance pointing
    # to the competent magistrate); items and grounds stay as decided.
    dg_paragraph = models.TextField(blank=True)
    # Set when the letter is declined at signature or withdrawn with an
    # inadmissibility found wrong: it stays in the history and counts no more.
    superseded_at = models.DateTimeField(null=True, blank=True)
    # An acknowledgement's own dispatch; the answer's dispatch is on the request.
    dispatched_on = models.DateField(null=True, blank=True)
    dispatch_channel = models.CharField(max_length=32, choices=DispatchChannel.choices, blank=True)
    registered_mail_number = models.CharField(max_length=60, blank=True)

    if TYPE_CHECKING:
        items: RelatedManager[ReplyItem]
        signatures: RelatedManager[Signature]
        declines: RelatedManager[SignatureDecline]
        request_id: int

    class Meta:
        verbose_name = _("official reply")
        verbose_name_plural = _("official replies")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    kind__in=[
                        ReplyKind.INADMISSIBILITY,
                        ReplyKind.ACKNOWLEDGEMENT,
                        # The DG's preparation of the access reply is its decision.
                        ReplyKind.ACCESS,
                    ]
                )
                | models.Q(decided_by_review__isnull=False)
                | models.Q(decided_by_opinion__isnull=False),
                name="reply_follows_a_decision",
            ),
            models.UniqueConstraint(
                fields=["request"],
                condition=models.Q(superseded_at__isnull=True)
                & ~models.Q(kind=ReplyKind.ACKNOWLEDGEMENT),
                name="reply_one_current_per_request",
            ),
            models.UniqueConstraint(
                fields=["request"],
                condition=models.Q(kind=ReplyKind.ACKNOWLEDGEMENT),
                name="reply_one_acknowledgement_per_request",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request} {self.kind}"

    @property
    def is_draft(self) -> bool:
        """A letter is a draft until its second signature."""
        return len(self.signatures.all()) < 2

    def open_capacities_for(self, user: User) -> list[str]:
        """Capacities in which `user` may still sign this reply."""
        signatures = list(self.signatures.all())
        if any(s.signer_id == user.pk for s in signatures):
            return []
        taken = {s.capacity for s in signatures}
        return [
            capacity
            for capacity in (Role.DIRECTOR_GENERAL, Role.PRESIDENT)
            if capacity not in taken and user.has_role(capacity)
        ]


class ReplyItem(models.Model):
    """An approved item: the only information the reply may contain."""

    reply = models.ForeignKey(Reply, models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    description = models.TextField()
    data_category = models.CharField(max_length=32, choices=DataCategory.choices)
    legal_basis = models.ForeignKey(LegalBasis, models.PROTECT, related_name="reply_items")

    class Meta:
        ordering = ["reply", "position"]

    def __str__(self) -> str:
        return f"item {self.position}"


class Signature(models.Model):
    class Capacity(models.TextChoices):
        PRESIDENT = Role.PRESIDENT.value, _("The President")
        DIRECTOR_GENERAL = Role.DIRECTOR_GENERAL.value, _("The Director general")

    reply = models.ForeignKey(Reply, models.PROTECT, related_name="signatures")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    capacity = models.CharField(max_length=32, choices=Capacity.choices)
    is_acting = models.BooleanField(default=False)
    signed_at = models.DateTimeField(default=timezone.now)

    if TYPE_CHECKING:
        signer_id: int

    class Meta:
        ordering = ["signed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["reply", "capacity"], name="signature_one_per_capacity"
            ),
            models.UniqueConstraint(fields=["reply", "signer"], name="signature_distinct_signers"),
        ]

    def __str__(self) -> str:
        return f"{self.reply} {self.capacity}"


class NoCurrentReply(ObjectDoesNotExist, AttributeError):
    """`getattr(request, "reply", None)` reads None, as with a reverse one-to-one."""


class SignatureDecline(models.Model):
    """A signer declined to sign a letter and sent it back to the DG's review.

    The remarks are for the DG; they never enter the audit trail.
    """

    reply = models.ForeignKey(Reply, models.PROTECT, related_name="declines")
    declined_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    capacity = models.CharField(max_length=32, choices=Signature.Capacity.choices)
    remarks = models.TextField()
    declined_at = models.DateTimeField(default=timezone.now)

    if TYPE_CHECKING:
        declined_by_id: int

    class Meta:
        ordering = ["declined_at"]
        verbose_name = _("signature declined")
        verbose_name_plural = _("signatures declined")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(remarks=""), name="signature_decline_has_remarks"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reply} declined"


class RegistrationCorrection(models.Model):
    """A correction of the registration data, with the values it replaced.

    The audit event names the fields only; the previous values are here,
    readable by the roles who see the request's content.
    """

    request = models.ForeignKey(DisclosureRequest, models.PROTECT, related_name="corrections")
    corrected_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    corrected_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField()
    # Names of the fields changed ("persons" and "scan" included).
    fields = models.JSONField(default=list)
    # The values before the correction, by field name: persons as a list of
    # dicts, the scan as its hash and content type.
    previous_values = models.JSONField(default=dict)

    class Meta:
        ordering = ["request", "corrected_at"]
        verbose_name = _("registration correction")
        verbose_name_plural = _("registration corrections")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(reason=""), name="registration_correction_has_reason"
            )
        ]

    def __str__(self) -> str:
        return f"{self.request} correction"


class DisclosureRequestUserObjectPermission(UserObjectPermissionBase):
    # A direct foreign key gives real joins instead of guardian's generic
    # varchar object_pk (see shared/reference/dependencies.md §2).
    content_object = models.ForeignKey(DisclosureRequest, models.CASCADE)


class DisclosureRequestGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(DisclosureRequest, models.CASCADE)
