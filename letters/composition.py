"""The text of a reply, composed from the decision and the catalogue.

The body is stored on the Reply when the decision is taken, and shown to the
signers; the letter template lays it out (`rendering.letter_blocks`). Every
statute it names, and every paragraph it quotes from the catalogue, is the
version in force on the decision date (`letters.citations`).

The body is plain text: one paragraph per line, "- " starts a list item.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext, ngettext

from legal_basis.models import DataCategory, LegalBasis, RequesterKind
from requests_app.inputs import AccessReplyData, ItemData, RecipientData
from requests_app.models import DisclosureRequest, InadmissibilityReason, ReplyKind

from . import citations
from .dates import french_date
from .protocol import is_judicial_requester, is_private_requester

POLICE = "police"


def request_phrase(disclosure_request: DisclosureRequest) -> str:
    """« votre lettre du 3 mars 2026 » when the requester's letter is dated,
    else « votre demande du 5 mars 2026 » (the day it was received)."""
    if disclosure_request.requester_letter_date:
        return gettext("your letter of %(date)s") % {
            "date": french_date(disclosure_request.requester_letter_date)
        }
    return gettext("your request of %(date)s") % {
        "date": french_date(disclosure_request.received_on)
    }


def subject_phrase(disclosure_request: DisclosureRequest) -> str:
    """The request as the subject line names it, with the requester's
    reference when there is one: « votre lettre du 3 mars 2026, réf. JI/… »."""
    phrase = request_phrase(disclosure_request)
    reference = disclosure_request.requester_reference.strip()
    if reference:
        return gettext("%(request)s, ref. %(reference)s") % {
            "request": phrase,
            "reference": reference,
        }
    return phrase


def _line(text: str) -> str:
    """One paragraph or list item on one line of the body."""
    return " ".join(text.split())


def _contact(disclosure_request: DisclosureRequest) -> str:
    return gettext(
        "For any question about this reply, please contact the office of the Director "
        "general, quoting the reference %(reference)s."
    ) % {"reference": disclosure_request.reference}


def _inadmissibility(disclosure_request: DisclosureRequest, day: date) -> list[str]:
    rule = citations.secrecy_rule(day)
    lines = [
        gettext(
            "We acknowledge receipt of %(request)s. We cannot process your request as it "
            "stands: to examine it, we need a complete written request, and the following "
            "points need to be completed:"
        )
        % {"request": request_phrase(disclosure_request)}
    ]
    for reason in disclosure_request.inadmissibility_reasons:
        lines.append(f"- {InadmissibilityReason(reason).label}.")
    lines.append(
        gettext(
            "The members of the staff and of the organs of the centre are bound by "
            "professional secrecy (%(rule)s): information may be disclosed only in the cases "
            "provided by law, which we must be able to verify from your request."
        )
        % {"rule": rule}
    )
    lines.append(
        gettext(
            "Please send us a written request, addressed to the President of the centre, "
            "that identifies the person concerned precisely (surname, first names, and date "
            "of birth or national register number) and either cites the legal provision that "
            "would allow the information to be disclosed or encloses the written, dated and "
            "signed consent of the person concerned."
        )
    )
    kind = disclosure_request.requester_kind
    if is_judicial_requester(kind):
        lines.append(
            gettext(
                "If your request rests on a judicial act or decision, it is enough to tell us "
                "which one or to send us a copy of it."
            )
        )
    if kind == POLICE:
        routes = citations.routes_for(POLICE, day, explicit_only=True)
        if routes:
            lines.append(
                ngettext(
                    "A request from a police service can lead to disclosure through the "
                    "following route:",
                    "A request from a police service can lead to disclosure through one of the "
                    "following routes:",
                    len(routes),
                )
            )
            lines.extend(f"- {route}" for route in routes)
    lines.append(_contact(disclosure_request))
    return lines


def _refusal(
    disclosure_request: DisclosureRequest, day: date, legal_bases: Sequence[LegalBasis]
) -> list[str]:
    rule = citations.secrecy_rule(day)
    kind = disclosure_request.requester_kind
    lines = [
        gettext("We have examined %(request)s.") % {"request": request_phrase(disclosure_request)},
        gettext(
            "The members of the staff and of the organs of the centre are bound by "
            "professional secrecy (%(rule)s). Disclosing information covered by this secrecy "
            "outside the cases provided by law is a criminal offence on the part of whoever "
            "discloses it. This refusal is therefore not a lack of cooperation but a legal "
            "obligation."
        )
        % {"rule": rule},
        gettext(
            "After examination, no exception to this secrecy allows your request to be granted."
        ),
    ]
    lines.extend(_paragraphs(legal_bases, day, "reply_paragraph_refused"))
    lines.append(gettext("We are therefore unable to disclose any information to you."))
    routes = citations.routes_for(kind, day)
    if routes:
        lines.append(
            ngettext(
                "Information of this kind can lawfully be obtained only in the following way:",
                "Information of this kind can lawfully be obtained only in one of the following "
                "ways:",
                len(routes),
            )
        )
        lines.extend(f"- {route}" for route in routes)
    if is_private_requester(kind):
        lines.append(
            gettext(
                "This reply neither confirms nor denies any relation between the person named "
                "in your request and the centre."
            )
        )
    lines.append(_contact(disclosure_request))
    return lines


def _paragraphs(legal_bases: Sequence[LegalBasis], day: date, field: str) -> list[str]:
    """The catalogue's paragraphs of `field` for the bases, as in force on
    `day`, each once, in the order of the bases."""
    paragraphs: list[str] = []
    for basis in legal_bases:
        paragraph = _line(getattr(citations.in_force(basis, day), field))
        if paragraph and paragraph not in paragraphs:
            paragraphs.append(paragraph)
    return paragraphs


def _disclosure(
    day: date, legal_bases: Sequence[LegalBasis], items: Sequence[ItemData]
) -> list[str]:
    printed = citations.printed_citations(legal_bases, day)
    if printed:
        lines = [
            gettext(
                "After examining your request, and on the basis of: %(citations)s, we "
                "disclose the following information to you:"
            )
            % {"citations": citations.join_citations(printed)}
        ]
    else:
        lines = [gettext("After examining your request, we disclose the following information:")]
    lines.extend(f"- {_line(item.description)}" for item in items)
    lines.extend(_paragraphs(legal_bases, day, "reply_paragraph_accepted"))
    # letters.rendering looks for "strictly necessary" (translated) in the
    # body: keep those words in every language's version of this sentence.
    lines.append(
        gettext(
            "This information is disclosed to you solely for the purpose stated in your "
            "request and may not be used for any other purpose; it is limited to what is "
            "strictly necessary for that purpose."
        )
    )
    return lines


def _acknowledgement(disclosure_request: DisclosureRequest, day: date) -> list[str]:
    values = {
        "received_on": french_date(disclosure_request.received_on),
        "channel": disclosure_request.get_channel_display().lower(),
        "reference": disclosure_request.reference,
    }
    return [
        gettext(
            "We acknowledge receipt of your request, received on %(received_on)s "
            "(%(channel)s), registered under reference %(reference)s."
        )
        % values,
        gettext(
            "The members of the staff and of the organs of the centre are bound by "
            "professional secrecy (%(rule)s). Your request will be examined in the light "
            "of the legal provision it invokes; only the information that is strictly "
            "necessary, and whose disclosure a legal provision allows or requires, may be"
            " sent to you."
        )
        % {"rule": citations.secrecy_rule(day)},
        gettext(
            "The reply will be sent to you in writing, signed by the President and the "
            "Director General. No information will be given by telephone or orally."
        ),
        gettext(
            "Please quote the reference %(reference)s in all correspondence about this request."
        )
        % values,
    ]


def _recipient(disclosure: RecipientData) -> str:
    """One letter that disclosed information about the person, as the access
    reply lists it: when, to whom (kind and organisation, never a person's
    name), which categories of data."""
    recipient = str(RequesterKind(disclosure.requester_kind).label)
    if disclosure.requester_organisation.strip():
        recipient = f"{recipient}, {_line(disclosure.requester_organisation)}"
    return gettext("%(date)s: %(recipient)s — %(category)s") % {
        "date": french_date(disclosure.dispatched_on),
        "recipient": recipient,
        "category": ", ".join(
            str(DataCategory(category).label) for category in disclosure.data_categories
        ),
    }


def _access(
    disclosure_request: DisclosureRequest,
    day: date,
    legal_bases: Sequence[LegalBasis],
    summary: AccessReplyData,
) -> list[str]:
    """The reply to the person's own access request (the GDPR's right of access).

    It reads the same whether or not something is withheld: what the law keeps
    secret from the person (ADMINISTRATIVE_ONLY bases) is left out without a word, and the
    withholding is recorded on the request for the DG, never in the letter."""
    lines = [
        gettext(
            "We acknowledge receipt of %(request)s, by which you ask to access the personal "
            "data about you that the centre processes in its register of requests for "
            "information covered by professional secrecy."
        )
        % {"request": request_phrase(disclosure_request)},
    ]
    lines.extend(_paragraphs(legal_bases, day, "reply_paragraph_accepted"))
    lines.append(gettext("Categories of personal data about you held in this register:"))
    lines.extend(f"- {DataCategory(category).label}" for category in summary.categories)
    lines.append(gettext("These data are processed for the following purposes:"))
    lines.append(
        "- "
        + gettext(
            "examining the requests of authorities and third parties for information about "
            "you covered by professional secrecy, and answering them within what the law allows"
        )
    )
    lines.append(
        "- "
        + gettext(
            "keeping the record of these requests and of the information disclosed, for "
            "which the centre must account"
        )
    )
    if summary.recipients:
        lines.append(
            ngettext(
                "The following recipient received information about you from the centre:",
                "The following recipients received information about you from the centre:",
                len(summary.recipients),
            )
        )
        lines.extend(f"- {_recipient(d)}" for d in summary.recipients)
    else:
        lines.append(
            gettext("No information about you from this register has been disclosed to anyone.")
        )
    lines.append(
        gettext(
            "These data come from the requests addressed to the centre about you and from "
            "the centre's own files. Data concerning other persons are not included in this "
            "reply."
        )
    )
    lines.append(
        gettext(
            "You may ask for inaccurate data about you to be corrected. For any question about "
            "the processing of your data, you may contact the centre's data protection "
            "officer, whose details appear at the foot of this letter. You may also lodge a "
            "complaint with the Data Protection Authority."
        )
    )
    lines.append(_contact(disclosure_request))
    return lines


def compose_reply_body(
    disclosure_request: DisclosureRequest,
    kind: str,
    legal_bases: Sequence[LegalBasis],
    items: Sequence[ItemData],
    *,
    decided_on: date | None = None,
    access: AccessReplyData | None = None,
) -> str:
    """The reply's text, built only from the decision, in the active language,
    with the law in force on `decided_on` (the Reply's decision date; today
    when not given, as Reply.decided_on's default). An access reply lists
    `access`, which the service reads (requests_app.queries.access_summary).

    Raises LetterUnavailable when the catalogue has no rule of secrecy in
    force on that date.
    """
    day = decided_on or timezone.localdate()
    if kind == ReplyKind.ACKNOWLEDGEMENT:
        lines = _acknowledgement(disclosure_request, day)
    elif kind == ReplyKind.INADMISSIBILITY:
        lines = _inadmissibility(disclosure_request, day)
    elif kind == ReplyKind.REFUSAL:
        lines = _refusal(disclosure_request, day, legal_bases)
    elif kind == ReplyKind.ACCESS:
        lines = _access(disclosure_request, day, legal_bases, access or AccessReplyData())
    else:
        lines = _disclosure(day, legal_bases, items)
    return "\n".join(lines)
