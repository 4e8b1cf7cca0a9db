"""The words of the procedure's audit events, for the auditor's pages
(audit.vocabulary): actions, states, and the keys and values of details.

The letters' events (signing, rendering) are the procedure's too: they are
labelled here.
"""

from __future__ import annotations

from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import Role
from audit import vocabulary
from legal_basis.models import DataCategory, RequesterKind
from letters import signing

from .models import (
    Channel,
    ChecklistAnswer,
    DispatchChannel,
    InadmissibilityReason,
    Proposal,
    ReplyKind,
    Review,
    State,
    WithdrawalReason,
)

ACTIONS = {
    "register_request": _("Request registered"),
    "close_as_oral": _("Oral request closed"),
    "accept_for_examination": _("Request accepted for examination"),
    "declare_inadmissible": _("Request declared inadmissible"),
    "assign_referent": _("Referent assigned"),
    "submit_opinion": _("Opinion submitted"),
    "submit_opinion_as_review": _("Opinion submitted as the legality review"),
    "approve": _("Opinion approved"),
    "refuse_disclosure": _("Disclosure refused"),
    "return_for_revision": _("Opinion returned to the referent"),
    "sign_reply": _("Reply signed"),
    "sign_first": _("First signature"),
    "sign_second": _("Second signature"),
    "sign_letter": _("Electronic signature put on the letter"),
    "revalidate_letter": _("Signatures of the letter checked again"),
    "record_dispatch": _("Dispatch recorded"),
    "close": _("Request closed"),
    "withdraw": _("Withdrawal recorded"),
    "annul": _("Registration annulled"),
    "decline_to_sign": _("Signature declined"),
    "reopen_examination": _("Inadmissibility withdrawn: back to examination"),
    "confirm_inadmissibility": _("Inadmissibility confirmed"),
    "correct_registration": _("Registration corrected"),
    "set_letter_paragraph": _("Director general's paragraph set"),
    "prepare_acknowledgement": _("Acknowledgement of receipt prepared"),
    "sign_acknowledgement": _("Acknowledgement of receipt signed"),
    "record_acknowledgement_dispatch": _("Dispatch of the acknowledgement recorded"),
    "search_content": _("Register searched by content"),
    "read_request": _("Request viewed"),
    "read_scan": _("Scan of the letter viewed"),
    "read_summary": _("Printable summary viewed"),
    "read_reply_pdf": _("Reply (PDF) downloaded"),
    "read_reply_page": _("Page of the reply viewed"),
    "read_acknowledgement_page": _("Page of the acknowledgement viewed"),
    "read_acknowledgement_pdf": _("Acknowledgement (PDF) downloaded"),
    "read_correction_form": _("Correction form opened"),
    "legal_basis_release_apply": _("Catalogue release applied"),
    "legal_basis_create": _("Legal basis added to the catalogue"),
    "legal_basis_new_version": _("New version of a legal basis"),
    "legal_basis_retire": _("Legal basis withdrawn from the catalogue"),
}

OBJECT_TYPES = {
    "disclosure_request": _("Request"),
    "register": _("Register"),
    "legal_basis": _("Legal basis"),
    "legal_basis_release": _("Catalogue release"),
    "letterhead": _("Letterhead"),
    "signing_credential": _("Signing certificate"),
    "default_deadline": _("Default deadline"),
    "public_holiday": _("Public holiday"),
}

KEYS = {
    "acknowledgement": _("Acknowledgement of receipt"),
    "acting": _("Acting"),
    "at_registration": _("At registration"),
    "capacity": _("Capacity"),
    "channel": _("Channel"),
    "content": _("Content shown"),
    "correction_id": _("Correction"),
    "decline_id": _("Decline"),
    "dispatched_on": _("Dispatched on"),
    "field": _("Signature field"),
    "final": _("Last signature"),
    "follows": _("Follows up on"),
    "items": _("Pieces of information"),
    "kind": _("Kind"),
    "law_day": _("Law in force on"),
    "legal_bases": _("Legal bases"),
    "opinion_id": _("Opinion"),
    "outcome": _("Outcome"),
    "override_reason_sha256": _("Fingerprint of the override reason"),
    "overrides": _("Overrides"),
    "paragraph_set": _("Paragraph present"),
    "pdf_revision": _("PDF revision"),
    "pdf_sha256": _("Fingerprint of the PDF"),
    "persons": _("Persons concerned"),
    "previous_reason_codes": _("Previous reasons"),
    "previous_referent_id": _("Previous referent"),
    "proposal": _("Proposal"),
    "reason_code": _("Reason"),
    "reason_codes": _("Reasons"),
    "reasons": _("Reasons"),
    "referent_id": _("Referent"),
    "reply_id": _("Letter"),
    "requester_kind": _("Kind of requester"),
    "results": _("Results"),
    "results_over": _("Results (more than)"),
    "review_id": _("Review"),
    "scan_sha256": _("Fingerprint of the scan"),
    "signature_id": _("Signature"),
    "signatures_voided": _("Signatures voided"),
    "signatures_valid": _("Signatures valid"),
    "signatures_complete": _("Both signatures present"),
    "validation_id": _("Check of the signatures"),
    "superseded_reply_id": _("Letter superseded"),
    "superseded_reply_ids": _("Letters superseded"),
    "version": _("Version"),
    "code": _("Code"),
    "release": _("Release"),
    "changes": _("Changes"),
}

CAUSES = {
    "step_not_available": _("step not available to this person"),
    "not_found_or_denied": _("not found or not allowed"),
    "reauthentication_failed": _("second factor not confirmed"),
    "step_up_throttled": _("too many wrong codes"),
    "invalid_decision": _("invalid decision"),
    "invalid_opinion": _("invalid opinion"),
    "invalid_intake": _("invalid registration"),
    "invalid_referent": _("invalid referent"),
    "invalid_dispatch": _("invalid dispatch"),
    "invalid_withdrawal": _("invalid withdrawal"),
    "invalid_annulment": _("invalid annulment"),
    "invalid_correction": _("invalid correction"),
    "invalid_decline": _("invalid decline"),
    "invalid_paragraph": _("invalid paragraph"),
    "invalid_scan": _("invalid scan"),
    "nothing_to_correct": _("nothing to correct"),
    "letter_drafted": _("a letter awaits its signatures or its dispatch"),
    "letter_already_signed": _("the letter is already signed"),
    "letter_changed": _("the letter changed meanwhile"),
    "letter_hash_mismatch": _("the letter does not match its fingerprint"),
    "letter_file_unreadable": _("the letter's file cannot be read"),
    "no_signed_letter": _("no signed letter"),
    "letter_rendering_failed": _("the letter could not be produced"),
    "letter_citation_missing": _("a legal basis has no citation for letters"),
    "letterhead_incomplete": _("the letterhead is incomplete"),
    "secrecy_rule_missing": _("the rule on professional secrecy is missing"),
    "no_signing_credential": _("no signing certificate"),
    "signing_credential_expired": _("signing certificate expired"),
    "signing_failed": _("the electronic signature failed"),
    "storage_unavailable": _("storage unavailable"),
    "scan_missing": _("scan missing"),
    "checklist_incomplete": _("checklist incomplete"),
    "checklist_invalid": _("checklist invalid"),
    "override_missing": _("override reason missing"),
    "legal_analysis_missing": _("legal analysis missing"),
    "disclosure_forbidden": _("disclosure forbidden"),
}

SIGNATURE_FIELDS = signing.FIELD_LABELS


def register() -> None:
    from .forms import IntakeForm, correction_field_label

    corrected = ["persons", "scan", "due_on", "inadmissibility_reasons", *IntakeForm.base_fields]
    vocabulary.register(
        actions=ACTIONS,
        object_types=OBJECT_TYPES,
        states=State.choices,
        keys=KEYS,
        values={
            "channel": [*Channel.choices, *DispatchChannel.choices],
            "requester_kind": RequesterKind.choices,
            "proposal": Proposal.choices,
            "outcome": Review.Outcome.choices,
            "capacity": Role.choices,
            "reasons": InadmissibilityReason.choices,
            "reason_codes": InadmissibilityReason.choices,
            "previous_reason_codes": InadmissibilityReason.choices,
            "reason_code": WithdrawalReason.choices,
            "kind": ReplyKind.choices,
            "field": SIGNATURE_FIELDS,
            "fields": {name: lazy(correction_field_label, str)(name) for name in corrected},
            "answer": ChecklistAnswer.Answer.choices,
            "data_category": DataCategory.choices,
            "cause": CAUSES,
        },
    )
