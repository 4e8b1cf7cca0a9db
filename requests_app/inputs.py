"""What the forms and the API hand to the services: plain data, checked by the
services. Forms and serializers build these; they never call a service."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from legal_basis.models import LegalBasis

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

    from .models import DisclosureRequest


@dataclass
class PersonData:
    last_name: str
    first_names: str = ""
    birth_date: date | None = None
    national_number: str = ""
    cpas_file_number: str = ""


@dataclass
class IntakeData:
    received_on: date
    channel: str
    requester_kind: str
    requester_name: str
    information_requested: str
    requester_organisation: str = ""
    requester_address: str = ""
    requester_reference: str = ""
    cited_provision: str = ""
    requester_deadline: date | None = None
    requester_letter_date: date | None = None
    requester_function: str = ""
    requester_civility: str = ""
    documents: list[str] = field(default_factory=list)
    persons: list[PersonData] = field(default_factory=list)
    # models.RequestKind: a request to lift the secret, or the person's own
    # access request (the GDPR's right of access), which needs the verification of identity.
    kind: str = "lift_secrecy"
    identity_verification: str = ""


@dataclass(frozen=True)
class RecipientData:
    """One disclosure about the person, as their access reply lists it."""

    dispatched_on: date
    requester_kind: str
    requester_organisation: str
    # The DataCategory values of the information this letter disclosed.
    data_categories: tuple[str, ...]


@dataclass
class AccessReplyData:
    """What the reply to an access request lists (queries.access_summary):
    the categories of data held, the recipients; never what is withheld."""

    categories: list[str] = field(default_factory=list)
    recipients: list[RecipientData] = field(default_factory=list)


@dataclass
class ItemData:
    description: str
    data_category: str
    necessity: str = ""
    # The basis that allows the item: one of the opinion's bases.
    legal_basis: LegalBasis | None = None


@dataclass
class ChecklistData:
    legal_basis: LegalBasis
    position: int
    answer: str
    note: str = ""


@dataclass
class CorrectionData:
    """The registration data as they should read: every field, changed or not
    (the service compares them with the request's). The channel is not among
    them: it decided the request's path at intake."""

    received_on: date
    requester_kind: str
    requester_name: str
    information_requested: str
    requester_organisation: str = ""
    requester_address: str = ""
    requester_reference: str = ""
    cited_provision: str = ""
    requester_deadline: date | None = None
    requester_letter_date: date | None = None
    requester_function: str = ""
    requester_civility: str = ""
    documents: list[str] = field(default_factory=list)
    persons: list[PersonData] = field(default_factory=list)
    # A new scan of the letter, to replace the stored one; None keeps it.
    scan: UploadedFile[bytes] | None = None
    scan_content_type: str = ""

    @classmethod
    def of(cls, disclosure_request: DisclosureRequest) -> CorrectionData:
        """The request's registration data as they stand."""
        dr = disclosure_request
        return cls(
            received_on=dr.received_on,
            requester_kind=dr.requester_kind,
            requester_name=dr.requester_name,
            information_requested=dr.information_requested,
            requester_organisation=dr.requester_organisation,
            requester_address=dr.requester_address,
            requester_reference=dr.requester_reference,
            cited_provision=dr.cited_provision,
            requester_deadline=dr.requester_deadline,
            requester_letter_date=dr.requester_letter_date,
            requester_function=dr.requester_function,
            requester_civility=dr.requester_civility,
            documents=list(dr.documents),
            persons=[
                PersonData(
                    last_name=p.last_name,
                    first_names=p.first_names,
                    birth_date=p.birth_date,
                    national_number=p.national_number,
                    cpas_file_number=p.cpas_file_number,
                )
                for p in dr.persons.all()
            ],
        )

    def as_intake(self, channel: str) -> IntakeData:
        """The same data as intake reads them, for intake's checks."""
        return IntakeData(
            received_on=self.received_on,
            channel=channel,
            requester_kind=self.requester_kind,
            requester_name=self.requester_name,
            information_requested=self.information_requested,
            requester_organisation=self.requester_organisation,
            requester_address=self.requester_address,
            requester_reference=self.requester_reference,
            cited_provision=self.cited_provision,
            requester_deadline=self.requester_deadline,
            requester_letter_date=self.requester_letter_date,
            requester_function=self.requester_function,
            requester_civility=self.requester_civility,
            documents=list(self.documents),
            persons=list(self.persons),
        )
