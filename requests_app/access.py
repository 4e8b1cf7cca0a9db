"""The door, for the pages and the API alike: load a request for a user, check
their right, and record the read or the refusal in the audit trail.

A request the user may not see is a 404 (recorded as a denied read), so nobody
learns that it exists; a visible request whose step is not the user's now is
`StepNotAvailable` (403). Who sees what is `permissions`; who may act is the
transitions' permissions on the model.
"""

from __future__ import annotations

from django.db import transaction
from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from audit import log
from letters.models import ReplyDocument

from .audit_objects import OBJECT_TYPE
from .errors import NotAllowed
from .models import DisclosureRequest, State
from .permissions import can_see_content, get_request_for_user

# ---------------------------------------------------------------------------
# Reads worth an audit event: what was read, and what was refused


def record_access(disclosure_request: DisclosureRequest, *, actor: User, what: str) -> None:
    """A sensitive read: a request's page or API detail, a scan, a reply."""
    with transaction.atomic():
        log.append(
            actor_id=actor.pk,
            action=f"read_{what}",
            object_type=OBJECT_TYPE,
            object_id=disclosure_request.pk,
            details={
                "reference": disclosure_request.reference,
                "content": can_see_content(actor, disclosure_request),
            },
        )


def record_refusal(
    actor: User, action: str, disclosure_request: DisclosureRequest | None, cause: str
) -> None:
    """A refused attempt at a step, recorded with the request's state as it stands
    (the services call it after their transaction rolled back)."""
    state = ""
    if disclosure_request is not None and disclosure_request.pk is not None:
        state = (
            DisclosureRequest.objects.filter(pk=disclosure_request.pk)
            .values_list("state", flat=True)
            .first()
        ) or ""
    with transaction.atomic():
        log.append(
            actor_id=actor.pk,
            action="refused",
            object_type=OBJECT_TYPE if disclosure_request else "",
            object_id=disclosure_request.pk if disclosure_request else "",
            from_state=state,
            details={"attempted": action, "cause": cause},
        )


def record_refused_attempt(
    actor: User, *, action: str, disclosure_request: DisclosureRequest
) -> None:
    """A step attempted by someone, or at a time, it doesn't belong to."""
    record_refusal(actor, action, disclosure_request, "step_not_available")


def record_denied_read(actor: User, *, what: str, object_id: int | str) -> None:
    with transaction.atomic():
        log.append(
            actor_id=actor.pk,
            action="refused",
            object_type=OBJECT_TYPE,
            object_id=object_id,
            details={"attempted": f"read_{what}", "cause": "not_found_or_denied"},
        )


# ---------------------------------------------------------------------------
# Loading for a user

NOT_YOUR_STEP = gettext_lazy("This step is not (or no longer) yours for this request.")


def load_for(user: User, pk: int, what: str) -> DisclosureRequest:
    """The request if the user may see it; otherwise a 404, recorded as refused.

    The API turns Http404 into a JSON 404.
    """
    try:
        return get_request_for_user(user, pk)
    except Http404:
        record_denied_read(user, what=what, object_id=pk)
        raise


def load_content_for(user: User, pk: int, what: str) -> DisclosureRequest:
    """As load_for, and the user may see the request's content."""
    disclosure_request = load_for(user, pk, what)
    if not can_see_content(user, disclosure_request):
        record_denied_read(user, what=what, object_id=pk)
        raise Http404
    return disclosure_request


class StepNotAvailable(NotAllowed):
    """The request is visible to the user, but this step is not theirs now."""

    def __init__(self, disclosure_request: DisclosureRequest) -> None:
        super().__init__(str(NOT_YOUR_STEP))
        self.disclosure_request = disclosure_request


def available_actions(disclosure_request: DisclosureRequest, user: User) -> set[str]:
    """The steps the user may take now; drives the buttons on the request page."""
    actions = {t.name for t in disclosure_request.get_available_user_state_transitions(user)}
    # Writing the opinion is what makes its submission possible.
    if (
        disclosure_request.state == State.AWAITING_OPINION
        and disclosure_request.referent_id == user.pk
    ):
        actions.add("submit_opinion")
    return actions


def load_step_for(
    user: User,
    pk: int,
    action: str,
    steps: set[str],
    *,
    content: bool = True,
    record_refusal: bool = True,
) -> DisclosureRequest:
    """Load a request for one of `steps`: 404 if hidden, StepNotAvailable (403) if
    none of the steps is the user's now, checked before any input is read.
    """
    disclosure_request = (
        load_content_for(user, pk, action) if content else load_for(user, pk, action)
    )
    if not steps & available_actions(disclosure_request, user):
        if record_refusal:
            record_refused_attempt(user, action=action, disclosure_request=disclosure_request)
        raise StepNotAvailable(disclosure_request)
    return disclosure_request


def has_no_role(user: User) -> bool:
    """No role, or the auditor's only: the procedure's pages and API do not exist."""
    roles = user.roles_on()
    return not roles or roles == {Role.AUDITOR}


SCAN_EXTENSIONS = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/tiff": "tif",
}


def scan_response(user: User, disclosure_request: DisclosureRequest) -> FileResponse:
    """The letter's scan as an attachment, for a user already allowed to see content."""
    if not disclosure_request.scan:
        raise Http404
    record_access(disclosure_request, actor=user, what="scan")
    extension = SCAN_EXTENSIONS.get(disclosure_request.scan_content_type, "bin")
    return FileResponse(
        disclosure_request.scan.open("rb"),
        as_attachment=True,
        # Translators: the name of the downloaded file.
        filename=_("%(reference)s-letter.%(extension)s")
        % {"reference": disclosure_request.reference, "extension": extension},
        content_type=disclosure_request.scan_content_type or "application/octet-stream",
    )


REPLY_PDF_STATES_FOR_SECRETARIAT = {State.SIGNED, State.DISPATCHED, State.CLOSED}


def sees_reply(user: User, disclosure_request: DisclosureRequest) -> bool:
    """Who reads a reply's content, on any page, in the API or as the PDF.

    Content roles at any time; the secretariat, which sends the reply, only
    once both signatures are on it: before that the text is a draft the
    signatories may still refuse. One rule for the request page, the
    summary, the API and the signed PDF (`may_download_reply`).
    """
    return can_see_content(user, disclosure_request) or (
        user.has_role(Role.SECRETARIAT)
        and disclosure_request.state in REPLY_PDF_STATES_FOR_SECRETARIAT
    )


def may_download_reply(user: User, disclosure_request: DisclosureRequest) -> bool:
    """The signed PDF: the same rule as the reply's content (`sees_reply`)."""
    return sees_reply(user, disclosure_request)


def reply_pdf_response(user: User, disclosure_request: DisclosureRequest) -> FileResponse:
    """The stored (signed) letter as an attachment; 404, recorded, for anyone else."""
    document = ReplyDocument.objects.filter(reply__request=disclosure_request).first()
    if document is None or not may_download_reply(user, disclosure_request):
        record_denied_read(user, what="reply_pdf", object_id=disclosure_request.pk)
        raise Http404
    record_access(disclosure_request, actor=user, what="reply_pdf")
    return FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        # Translators: the name of the downloaded file.
        filename=_("%(reference)s-reply.pdf") % {"reference": disclosure_request.reference},
        content_type="application/pdf",
    )
