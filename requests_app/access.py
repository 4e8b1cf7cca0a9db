"""The door, for the pages and the API alike: load a request for a user, check
their right, and record the read or the refusal in the audit trail.

A request the user may not see is a 404 (recorded as a denied read), so nobody
learns that it exists; a visible request whose step is not the user's now is
`StepNotAvailable` (403). Who sees what is `permissions`; who may act is the
transitions' permissions on the model.
"""

from __future__ import annotations

from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from audit import log
from letters import preview
from letters.models import ReplyDocument

from .audit_objects import OBJECT_TYPE
from .errors import NotAllowed
from .models import (
    DisclosureRequest,
    State,
    may_extend_access_deadline,
    may_prepare_acknowledgement,
    may_record_acknowledgement_dispatch,
    may_sign_acknowledgement,
)
from .permissions import can_see_content, get_request_for_user

# ---------------------------------------------------------------------------
# Reads worth an audit event: what was read, and what was refused


def record_access(
    disclosure_request: DisclosureRequest, *, actor: User, what: str, content: bool | None = None
) -> None:
    """A sensitive read: a request's page or API detail, a scan, a reply.

    `content`: `can_see_content(actor, disclosure_request)` when the caller
    already knows it (for a referent it costs two queries of permissions)."""
    if content is None:
        content = can_see_content(actor, disclosure_request)
    with transaction.atomic():
        log.append(
            actor_id=actor.pk,
            action=f"read_{what}",
            object_type=OBJECT_TYPE,
            object_id=disclosure_request.pk,
            details={"reference": disclosure_request.reference, "content": content},
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


ACKNOWLEDGEMENT_STEPS = {
    "prepare_acknowledgement": may_prepare_acknowledgement,
    "sign_acknowledgement": may_sign_acknowledgement,
    "record_acknowledgement_dispatch": may_record_acknowledgement_dispatch,
}


def available_actions(disclosure_request: DisclosureRequest, user: User) -> set[str]:
    """The steps the user may take now; drives the buttons on the request page."""
    actions = {t.name for t in disclosure_request.get_available_user_state_transitions(user)}
    # Writing the opinion is what makes its submission possible.
    if (
        disclosure_request.state == State.AWAITING_OPINION
        and disclosure_request.referent_id == user.pk
    ):
        actions.add("submit_opinion")
    if may_set_letter_paragraph(user, disclosure_request):
        actions.add("set_letter_paragraph")
    # The acknowledgement of receipt: steps beside the request's transitions.
    for name, rule in ACKNOWLEDGEMENT_STEPS.items():
        if rule(disclosure_request, user):
            actions.add(name)
    if may_correct_registration(disclosure_request, user):
        actions.add("correct_registration")
    if may_extend_access_deadline(disclosure_request, user):
        actions.add("extend_access_deadline")
    return actions


# While no letter drafted from them is on its way to signature or dispatch.
CORRECTABLE_STATES = frozenset(
    {State.AWAITING_ASSIGNMENT, State.AWAITING_OPINION, State.AWAITING_REVIEW}
)


def may_correct_registration(disclosure_request: DisclosureRequest, user: User) -> bool:
    """The secretariat corrects what it registered until a referent is assigned;
    the DG, who answers for the examination, afterwards."""
    if disclosure_request.state not in CORRECTABLE_STATES:
        return False
    if user.has_role(Role.DIRECTOR_GENERAL):
        return True
    return (
        user.has_role(Role.SECRETARIAT)
        and disclosure_request.state == State.AWAITING_ASSIGNMENT
        and disclosure_request.referent_id is None
    )


def letter_paragraph_editable(disclosure_request: DisclosureRequest) -> bool:
    """The letter awaits its signatures and nobody has signed it yet."""
    reply = disclosure_request.current_reply()
    return (
        disclosure_request.state == State.AWAITING_SIGNATURES
        and reply is not None
        and not reply.signatures.all()
    )


def may_set_letter_paragraph(user: User, disclosure_request: DisclosureRequest) -> bool:
    """The DG (or acting) may add a paragraph to the letter before anyone signs it."""
    return user.has_role(Role.DIRECTOR_GENERAL) and letter_paragraph_editable(disclosure_request)


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
    """No role in the procedure (none, or only the auditor's or the DPO's):
    the procedure's pages and API do not exist."""
    return not (user.roles_on() - {Role.AUDITOR, Role.DPO})


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


def sees_reply(
    user: User, disclosure_request: DisclosureRequest, *, content: bool | None = None
) -> bool:
    """Who reads a reply's content, on any page, in the API or as the PDF.

    Content roles at any time; the secretariat, which sends the reply, only
    once both signatures are on it: before that the text is a draft the
    signatories may still refuse. One rule for the request page, the
    summary, the API and the signed PDF (`may_download_reply`). `content`:
    `can_see_content(user, disclosure_request)` if the caller knows it.
    """
    if content is None:
        content = can_see_content(user, disclosure_request)
    return content or (
        user.has_role(Role.SECRETARIAT)
        and disclosure_request.state in REPLY_PDF_STATES_FOR_SECRETARIAT
    )


def may_download_reply(user: User, disclosure_request: DisclosureRequest) -> bool:
    """The signed PDF: the same rule as the reply's content (`sees_reply`)."""
    return sees_reply(user, disclosure_request)


def reply_pdf_response(user: User, disclosure_request: DisclosureRequest) -> FileResponse:
    """The stored (signed) letter as an attachment; 404, recorded, for anyone else."""
    reply = disclosure_request.current_reply()
    document = ReplyDocument.objects.filter(reply=reply).first() if reply else None
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


def _current_document(disclosure_request: DisclosureRequest) -> ReplyDocument | None:
    reply = disclosure_request.current_reply()
    return ReplyDocument.objects.filter(reply=reply).first() if reply else None


def _page_count(document: ReplyDocument | None, allowed: bool) -> int:
    if document is None or not allowed:
        return 0
    try:
        return preview.page_count(document.read())
    except (preview.PreviewUnavailable, OSError):
        return 0


def _page_response(
    user: User,
    disclosure_request: DisclosureRequest,
    document: ReplyDocument | None,
    *,
    allowed: bool,
    what: str,
    number: int,
) -> HttpResponse:
    """Page `number` of a letter as PNG, drawn on the server for its signature
    page, under the rule and the trail of the letter's PDF: 404, recorded, for
    anyone else; 404 as well for a page the letter does not have."""
    if document is None or not allowed:
        record_denied_read(user, what=what, object_id=disclosure_request.pk)
        raise Http404
    try:
        png = preview.page_png(document.read(), number)
    except IndexError:
        raise Http404 from None
    except (preview.PreviewUnavailable, OSError):
        return HttpResponse(status=503, headers={"Cache-Control": "no-store"})
    record_access(disclosure_request, actor=user, what=what)
    return HttpResponse(png, content_type="image/png", headers={"Cache-Control": "no-store"})


def reply_page_count(user: User, disclosure_request: DisclosureRequest) -> int:
    """How many pages of the current letter the user may see as images (0: none)."""
    return _page_count(
        _current_document(disclosure_request), may_download_reply(user, disclosure_request)
    )


def reply_page_response(
    user: User, disclosure_request: DisclosureRequest, number: int
) -> HttpResponse:
    """Page `number` of the current letter (`may_download_reply`, as its PDF)."""
    return _page_response(
        user,
        disclosure_request,
        _current_document(disclosure_request),
        allowed=may_download_reply(user, disclosure_request),
        what="reply_page",
        number=number,
    )


def may_download_acknowledgement(
    user: User, disclosure_request: DisclosureRequest, *, content: bool | None = None
) -> bool:
    """The acknowledgement's PDF, as the reply's (`sees_reply`): content roles
    at any time; the secretariat, which sends it, once both signatures are on it."""
    acknowledgement = disclosure_request.acknowledgement()
    if acknowledgement is None:
        return False
    if content is None:
        content = can_see_content(user, disclosure_request)
    return content or (user.has_role(Role.SECRETARIAT) and not acknowledgement.is_draft)


def _acknowledgement_document(disclosure_request: DisclosureRequest) -> ReplyDocument | None:
    acknowledgement = disclosure_request.acknowledgement()
    return ReplyDocument.objects.filter(reply=acknowledgement).first() if acknowledgement else None


def acknowledgement_page_count(user: User, disclosure_request: DisclosureRequest) -> int:
    """How many pages of the acknowledgement the user may see as images (0: none)."""
    return _page_count(
        _acknowledgement_document(disclosure_request),
        may_download_acknowledgement(user, disclosure_request),
    )


def acknowledgement_page_response(
    user: User, disclosure_request: DisclosureRequest, number: int
) -> HttpResponse:
    """Page `number` of the acknowledgement (`may_download_acknowledgement`)."""
    return _page_response(
        user,
        disclosure_request,
        _acknowledgement_document(disclosure_request),
        allowed=may_download_acknowledgement(user, disclosure_request),
        what="acknowledgement_page",
        number=number,
    )


def acknowledgement_pdf_response(
    user: User, disclosure_request: DisclosureRequest
) -> FileResponse:
    """The stored acknowledgement as an attachment; 404, recorded, for anyone else."""
    document = _acknowledgement_document(disclosure_request)
    if document is None or not may_download_acknowledgement(user, disclosure_request):
        record_denied_read(user, what="acknowledgement_pdf", object_id=disclosure_request.pk)
        raise Http404
    record_access(disclosure_request, actor=user, what="acknowledgement_pdf")
    return FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        # Translators: the name of the downloaded file.
        filename=_("%(reference)s-acknowledgement.pdf")
        % {"reference": disclosure_request.reference},
        content_type="application/pdf",
    )
