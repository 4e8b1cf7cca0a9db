"""Reads of the DPO's desk: the register of disclosures about a person, and
the description of this processing for the register of processing activities.

The register rests on `requests_app.queries.disclosures_about`: the items of
dispatched disclosure letters about the person, the letters resting on a
basis secret from the person left out (the catalogue's feature says which).
Its use cases (the audited search and export) are in `dpo/services.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from accounts.models import Role, User
from legal_basis.models import (
    DataCategory,
    Feature,
    LegalBasis,
    LegalBasisRelease,
    RequesterKind,
)
from letters.models import Letterhead
from requests_app.models import (
    OPEN_STATES,
    ConcernedPerson,
    DisclosureRequest,
    RequestKind,
    may_extend_access_deadline,
)
from requests_app.queries import (
    Disclosure,
    disclosures_about,
    person_lookup,
    secret_from_the_person,
)

from .audit_vocabulary import (
    SEARCHED_BY_NAME_BIRTH_DATE,
    SEARCHED_BY_NATIONAL_NUMBER,
)

# ---------------------------------------------------------------------------
# The register of disclosures

# How long the session keeps a search's criteria (dpo/views.py): they are
# personal data, the results page and the exports read them by a random key.
SEARCH_SECONDS = 15 * 60


@dataclass(frozen=True)
class PersonCriteria:
    """Whom the DPO looks for: a national number, or a last name and a birth date."""

    national_number: str = ""
    last_name: str = ""
    birth_date: date | None = None

    @property
    def searched_by(self) -> str:
        """How the person was searched, as the audit trail records it."""
        return SEARCHED_BY_NATIONAL_NUMBER if self.national_number else SEARCHED_BY_NAME_BIRTH_DATE

    def lookup(self) -> Q:
        return person_lookup(
            national_number=self.national_number,
            last_name=self.last_name,
            birth_date=self.birth_date,
        )

    def as_session(self) -> dict[str, str]:
        """The criteria as the session keeps them (JSON)."""
        if self.national_number:
            return {"national_number": self.national_number}
        assert self.birth_date is not None
        return {"last_name": self.last_name, "birth_date": self.birth_date.isoformat()}

    @classmethod
    def from_session(cls, kept: Any) -> PersonCriteria | None:
        """Criteria read back from the session; None when they do not make a search."""
        if not isinstance(kept, dict):
            return None
        national_number = kept.get("national_number")
        if isinstance(national_number, str) and national_number:
            return cls(national_number=national_number)
        last_name, birth = kept.get("last_name"), kept.get("birth_date")
        if not (isinstance(last_name, str) and last_name and isinstance(birth, str)):
            return None
        try:
            return cls(last_name=last_name, birth_date=date.fromisoformat(birth))
        except ValueError:
            return None


@dataclass(frozen=True)
class RegisterRow:
    """One disclosure: what one dispatched letter disclosed on one legal basis."""

    request_id: int
    reference: str
    dispatched_on: date
    requester_kind: str
    requester_kind_label: str
    organisation: str
    basis_code: str
    basis_title: str
    basis_citation: str
    categories: tuple[str, ...]  # the data categories' labels, in the letter's order


@dataclass(frozen=True)
class MatchedPerson:
    last_name: str
    first_names: str
    birth_date: date | None


@dataclass(frozen=True)
class DisclosureRegister:
    criteria: PersonCriteria
    rows: list[RegisterRow]
    # The persons of the listed requests the search designates (several
    # when a name and birth date fit more than one person).
    persons: list[MatchedPerson]
    generated_at: datetime = field(default_factory=timezone.now)

    @property
    def request_count(self) -> int:
        return len({row.request_id for row in self.rows})


def _labels(choices: list[tuple[str, Any]]) -> dict[str, str]:
    return {value: str(label) for value, label in choices}


def register_rows(disclosures: list[Disclosure]) -> list[RegisterRow]:
    """The items grouped by letter and legal basis, oldest first; each
    category once per group, in the letter's order."""
    kinds = _labels(RequesterKind.choices)
    categories = _labels(DataCategory.choices)
    groups: dict[tuple[int, str, str, str], list[Disclosure]] = {}
    for item in disclosures:
        key = (
            item.request_id,
            item.legal_basis_code,
            item.legal_basis_title,
            item.legal_basis_citation,
        )
        groups.setdefault(key, []).append(item)
    rows = []
    for (request_id, code, title, citation), items in groups.items():
        first = items[0]
        labels = dict.fromkeys(categories.get(i.data_category, i.data_category) for i in items)
        rows.append(
            RegisterRow(
                request_id=request_id,
                reference=first.reference,
                dispatched_on=first.dispatched_on,
                requester_kind=first.requester_kind,
                requester_kind_label=kinds.get(first.requester_kind, first.requester_kind),
                organisation=first.requester_organisation,
                basis_code=code,
                basis_title=title,
                basis_citation=citation,
                categories=tuple(labels),
            )
        )
    return rows


def disclosure_register(criteria: PersonCriteria) -> DisclosureRegister:
    """Every disclosure about the person the criteria designate (no audit:
    see `search_disclosures`)."""
    lookup = criteria.lookup()
    rows = register_rows(disclosures_about(lookup))
    request_ids = {row.request_id for row in rows}
    persons = [
        MatchedPerson(*values)
        for values in ConcernedPerson.objects.filter(lookup, request_id__in=request_ids)
        .order_by("last_name", "first_names", "birth_date")
        .values_list("last_name", "first_names", "birth_date")
        .distinct()
    ]
    return DisclosureRegister(criteria=criteria, rows=rows, persons=persons)


@dataclass(frozen=True)
class BasisLine:
    code: str
    title: str
    citation: str


def _basis_lines(bases: Any) -> list[BasisLine]:
    seen: dict[str, BasisLine] = {}
    for basis in bases:
        seen.setdefault(basis.code, BasisLine(basis.code, basis.title_fr, basis.citation))
    return list(seen.values())


def secret_bases() -> list[BasisLine]:
    """The catalogue's bases whose disclosures the register never lists."""
    ids = secret_from_the_person()
    return _basis_lines(
        LegalBasis.objects.filter(pk__in=ids, is_current=True).order_by("code", "-version")
    )


# ---------------------------------------------------------------------------
# The register of processing activities: this processing, described from the
# configuration (letterhead, catalogue, data categories, requester kinds,
# settings, the retention schedule when there is one).


@dataclass(frozen=True)
class Controller:
    name: str
    address: list[str]
    phone: str
    email: str
    website: str
    enterprise_number: str
    dpo_contact: str
    missing: list[str]


@dataclass(frozen=True)
class Category:
    label: str
    special: bool = False


@dataclass(frozen=True)
class RetentionLine:
    label: str
    period: str


@dataclass(frozen=True)
class ProcessingRecord:
    generated_at: datetime
    controller: Controller
    secrecy_rules: list[BasisLine]
    disclosure_bases: list[BasisLine]
    secret_bases: list[BasisLine]
    catalogue_release: str
    catalogue_published_on: date | None
    recipient_kinds: list[str]
    staff_roles: list[str]
    person_data: list[str]
    disclosed_categories: list[Category]
    requester_data: list[str]
    staff_data: list[str]
    retention: list[RetentionLine] | None
    security: list[str]


def _controller() -> Controller:
    letterhead = Letterhead.load()
    return Controller(
        name=letterhead.name,
        address=letterhead.address_lines(),
        phone=letterhead.phone,
        email=letterhead.email,
        website=letterhead.website,
        enterprise_number=letterhead.enterprise_number,
        dpo_contact=letterhead.dpo_contact.strip(),
        missing=letterhead.missing_fields(),
    )


def _rule_line(rule: Any) -> RetentionLine:
    """A rule of the retention schedule (dpo.models.RetentionRule: an outcome
    and the years its requests are kept after they ended)."""
    display = getattr(rule, "get_outcome_display", None)
    label = str(display()) if callable(display) else str(rule)
    years = getattr(rule, "years", None)
    period = (
        ngettext(
            "%(n)d year after the request ended", "%(n)d years after the request ended", years
        )
        % {"n": years}
        if isinstance(years, int)
        else ""
    )
    return RetentionLine(label=label, period=period)


def retention_schedule() -> list[RetentionLine] | None:
    """The retention schedule's rules, or None when no schedule is configured.

    The schedule lives in dpo/models.py (`RetentionRule`), built apart from
    this page: read only if it is there."""
    try:
        from .models import RetentionRule  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    rules = [_rule_line(rule) for rule in RetentionRule.objects.all()]
    return rules or None


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    minutes = max(seconds // 60, 1)
    return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}


def security_measures() -> list[str]:
    """The technical and organisational measures the configuration applies."""
    measures = [
        gettext(
            "Access by role and need to know: each role sees only the requests and "
            "the parts of them it works on; the data protection officer sees the "
            "register of disclosures and the figures, never an opinion or a letter."
        ),
        gettext("Every account signs in with a password and a second factor."),
    ]
    hasher = (settings.PASSWORD_HASHERS or [""])[0]
    if "argon2" in hasher.lower():
        measures.append(gettext("Passwords are stored as Argon2 hashes."))
    failures = getattr(settings, "AXES_FAILURE_LIMIT", None)
    cooloff = getattr(settings, "AXES_COOLOFF_TIME", None)
    if failures and cooloff is not None:
        measures.append(
            gettext("Sign-in is blocked for %(duration)s after %(failures)d failed attempts.")
            % {"failures": failures, "duration": _duration(int(cooloff.total_seconds()))}
        )
    measures.append(
        gettext("A session ends after %(idle)s without activity, and after %(total)s in any case.")
        % {
            "idle": _duration(settings.SESSION_IDLE_SECONDS),
            "total": _duration(settings.SESSION_ABSOLUTE_SECONDS),
        }
    )
    if settings.SECURE_SSL_REDIRECT and settings.SECURE_HSTS_SECONDS:
        measures.append(gettext("Connections are encrypted (HTTPS only, HSTS)."))
    else:
        measures.append(
            gettext("HTTPS is not enforced by this installation (development settings).")
        )
    measures.append(
        gettext(
            "The pages forbid inline scripts and outside resources "
            "(Content-Security-Policy) and cannot be framed."
        )
    )
    measures.append(
        gettext(
            "Scans, letters and the letterhead are kept in private storage, "
            "never served directly; each download is checked against the role."
        )
    )
    measures.append(
        gettext(
            "Every action is recorded on an append-only audit trail, chained by hashes; "
            "the trail holds codes, ids and counts, never names or the content of requests."
        )
    )
    if getattr(settings, "HUISCLOS_AUDIT_SIGNING_KEY", ""):
        measures.append(gettext("The audit trail is sealed by signed checkpoints."))
    measures.append(
        gettext(
            "Replies are archival PDF signed electronically by the Director general "
            "and the President, each signature confirmed with the second factor."
        )
    )
    if getattr(settings, "HUISCLOS_TSA_URL", ""):
        measures.append(gettext("Signatures carry a time stamp from a time-stamping authority."))
    measures.append(
        gettext(
            "Searches on persons never appear in page addresses; their criteria are kept "
            "in the session for %(duration)s at most, and each search of the register "
            "of disclosures is recorded (how and how many, not whom)."
        )
        % {"duration": _duration(SEARCH_SECONDS)}
    )
    days = getattr(settings, "HUISCLOS_API_TOKEN_DAYS", None)
    if days:
        measures.append(
            ngettext(
                "API tokens expire after %(days)d day and are stored as digests.",
                "API tokens expire after %(days)d days and are stored as digests.",
                days,
            )
            % {"days": days}
        )
    return measures


def processing_record() -> ProcessingRecord:
    today = timezone.localdate()
    in_force = LegalBasis.objects.in_force_on(today).order_by("code")
    secrecy = [b for b in in_force if b.has_feature(Feature.SECRECY_RULE)]
    grounds = [b for b in in_force if b.grounds_disclosure]
    release = LegalBasisRelease.objects.first()
    categories = [
        Category(str(label), special=value == DataCategory.HEALTH)
        for value, label in DataCategory.choices
    ]
    return ProcessingRecord(
        generated_at=timezone.now(),
        controller=_controller(),
        secrecy_rules=_basis_lines(secrecy),
        disclosure_bases=_basis_lines(grounds),
        secret_bases=secret_bases(),
        catalogue_release=release.label if release else "",
        catalogue_published_on=release.published_on if release else None,
        recipient_kinds=[
            str(label) for value, label in RequesterKind.choices if value != RequesterKind.OTHER
        ]
        + [str(RequesterKind.OTHER.label)],
        staff_roles=[str(label) for _value, label in Role.choices],
        person_data=[
            gettext("last name and first names"),
            gettext("birth date"),
            gettext("national register number"),
            gettext("CPAS file number"),
        ],
        disclosed_categories=categories,
        requester_data=[
            gettext("name, function and organisation"),
            gettext("postal address and reference"),
            gettext("the request's letter (scan) and the information requested"),
        ],
        staff_data=[
            gettext("name and user name"),
            gettext("roles and acting designations"),
            gettext("opinions, decisions and signatures"),
            gettext("actions on the audit trail"),
        ],
        retention=retention_schedule(),
        security=security_measures(),
    )


# --- The persons' own access requests, for the DPO to follow ------------------------------


@dataclass(frozen=True)
class AccessRequestRow:
    """An open access request as the DPO follows it: no name, its deadline."""

    pk: int
    reference: str
    received_on: date
    due_on: date | None
    state_label: str
    extended: bool
    overdue: bool
    may_extend: bool


def open_access_requests(user: User) -> list[AccessRequestRow]:
    """The persons' own access requests still open, the earliest deadline first."""
    today = timezone.localdate()
    requests = DisclosureRequest.objects.filter(
        kind=RequestKind.SUBJECT_ACCESS, state__in=OPEN_STATES
    ).order_by("due_on", "pk")
    return [
        AccessRequestRow(
            pk=dr.pk,
            reference=dr.reference,
            received_on=dr.received_on,
            due_on=dr.due_on,
            state_label=dr.get_state_display(),
            extended=dr.deadline_extended_at is not None,
            overdue=dr.due_on is not None and dr.due_on < today,
            may_extend=may_extend_access_deadline(dr, user),
        )
        for dr in requests.only(
            "reference", "received_on", "due_on", "state", "kind", "deadline_extended_at"
        )
    ]
