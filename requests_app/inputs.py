"""What the forms and the API hand to the services: plain data, checked by the
services. Forms and serializers build these; they never call a service."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from legal_basis.models import LegalBasis


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
