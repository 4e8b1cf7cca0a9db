"""Decision support: points to check on a request and on a draft opinion.

Pure functions of the data they are given; they read nothing and write
nothing. A flag never decides: it tells the secretariat, the referent or the
DG what to look at, and where the rule comes from. Whatever the catalogue can
express (requester kinds, data categories, validity, facts to verify) is read
from the chosen `LegalBasis` rows, not repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .models import (
    BasisRole,
    DataCategory,
    Effect,
    Feature,
    LegalBasis,
    RequesterKind,
    SupportingDocument,
)

Severity = Literal["blocking", "warning", "information"]

BLOCKING: Severity = "blocking"
WARNING: Severity = "warning"
INFORMATION: Severity = "information"

_SEVERITY_ORDER = {BLOCKING: 0, WARNING: 1, INFORMATION: 2}

DEADLINE_NEAR_DAYS = 3

# The circular's title names a document published in French: it is quoted,
# never translated.
CIRCULAR_TITLE = "Secret professionnel dans les CPAS – recommandations"
CIRCULAR_URL = "https://uvcw.be/aide-sociale/actus/art-7456"
CIRCULAR_SHORT = _("Walloon circular of 2 June 2022")

# The one channel that carries no written request (requests_app's Channel).
ORAL_CHANNEL = "oral"


@dataclass(frozen=True)
class Flag:
    code: str
    severity: Severity
    message: str
    source: str
    # A blocking flag that is not overridable stops a disclosure whatever the
    # reason given: the law leaves no room for judgement there.
    overridable: bool = True

    @property
    def is_blocking(self) -> bool:
        return self.severity == BLOCKING

    @property
    def forbids(self) -> bool:
        return self.is_blocking and not self.overridable


def _sorted(flags: list[Flag]) -> list[Flag]:
    return sorted(flags, key=lambda flag: _SEVERITY_ORDER[flag.severity])


def _category_label(category: str) -> str:
    try:
        return str(DataCategory(category).label).lower()
    except ValueError:
        return category


def _kind_label(kind: str) -> str:
    try:
        return str(RequesterKind(kind).label)
    except ValueError:
        return kind


def _basis_source(basis: LegalBasis) -> str:
    urls = [str(s.get("url", "")) for s in basis.sources if s.get("url")]
    return f"{basis.citation} – {urls[0]}" if urls else basis.citation


def _document_label(document: str) -> str:
    try:
        return str(SupportingDocument(document).label)
    except ValueError:
        return document


def _basis_flag(
    code: str, severity: Severity, basis: LegalBasis, text: str, overridable: bool = True
) -> Flag:
    return Flag(
        overridable=overridable,
        code=code,
        severity=severity,
        message=gettext("%(text)s (source: %(citation)s, entry %(code)s v%(version)s)")
        % {
            "text": text,
            "citation": basis.citation,
            "code": basis.code,
            "version": basis.version,
        },
        source=_basis_source(basis),
    )


def _circular_source() -> str:
    return gettext("Circular of the SPW Intérieur of 2 June 2022, “%(title)s” – %(url)s") % {
        "title": CIRCULAR_TITLE,
        "url": CIRCULAR_URL,
    }


def _circular_flag(code: str, severity: Severity, text: str, *, overridable: bool = True) -> Flag:
    return Flag(
        overridable=overridable,
        code=code,
        severity=severity,
        message=gettext("%(text)s (source: %(source)s)")
        % {"text": text, "source": CIRCULAR_SHORT},
        source=_circular_source(),
    )


def _deadline_flags(requester_deadline: date | None, today: date) -> list[Flag]:
    if requester_deadline is None:
        return []
    days_left = (requester_deadline - today).days
    deadline = f"{requester_deadline:%d/%m/%Y}"
    if days_left < 0:
        return [
            _circular_flag(
                "deadline_passed",
                WARNING,
                gettext(
                    "The deadline set by the requester (%(deadline)s) has passed. The "
                    "procedure (reasoned opinion, legality review, double signature) still "
                    "applies in full: inform the requester if necessary"
                )
                % {"deadline": deadline},
            )
        ]
    if days_left <= DEADLINE_NEAR_DAYS:
        return [
            _circular_flag(
                "deadline_near",
                WARNING,
                ngettext(
                    "The deadline set by the requester (%(deadline)s) falls in %(days)d "
                    "day. It exempts from no step of the procedure (reasoned opinion, "
                    "legality review, double signature)",
                    "The deadline set by the requester (%(deadline)s) falls in %(days)d "
                    "days. It exempts from no step of the procedure (reasoned opinion, "
                    "legality review, double signature)",
                    days_left,
                )
                % {"deadline": deadline, "days": days_left},
            )
        ]
    return []


def cites_a_ground(cited_provision: str, requester_kind: str, documents: frozenset[str]) -> bool:
    """Whether a written request states a ground to be examined: a legal
    provision, or instead the written consent of the person, or the person
    asking about themself (their own access right)."""
    return bool(
        cited_provision.strip()
        or SupportingDocument.CONSENT in documents
        or requester_kind == RequesterKind.PERSON_CONCERNED
    )


def intake_flags(
    *,
    channel: str,
    requester_kind: str,
    cited_provision: str,
    persons_identified: bool,
    requester_deadline: date | None,
    received_on: date,
    today: date,
    documents: frozenset[str] = frozenset(),
) -> list[Flag]:
    """Points to check when the secretariat registers a request.

    `received_on` is taken for symmetry with `opinion_flags`; no intake rule
    depends on it today.
    """
    flags: list[Flag] = []
    if channel == "oral":
        flags.append(
            _circular_flag(
                "oral_request",
                BLOCKING,
                gettext(
                    "Oral request: it cannot be processed. The requester must send a written "
                    "request to the President of the CPAS"
                ),
            )
        )
    if not cites_a_ground(cited_provision, requester_kind, documents):
        flags.append(
            _circular_flag(
                "no_legal_provision",
                BLOCKING,
                gettext(
                    "The request cites no legal provision allowing the information to be "
                    "passed on, and carries no written consent of the person"
                ),
            )
        )
    if not persons_identified:
        flags.append(
            _circular_flag(
                "person_not_identified",
                BLOCKING,
                gettext(
                    "The person concerned is not unambiguously identified (last name, first "
                    "names and date of birth or national register number): risk of disclosing "
                    "another beneficiary's data"
                ),
            )
        )
    if requester_kind == RequesterKind.POLICE:
        flags.append(
            _circular_flag(
                "police_request",
                INFORMATION,
                gettext(
                    "A request from the police is not an exception to professional secrecy: "
                    "a disclosure can only be considered on the order of an investigating "
                    "judge or within a case consultation organised by law or authorised by "
                    "the Crown prosecutor"
                ),
            )
        )
    flags.extend(_deadline_flags(requester_deadline, today))
    return _sorted(flags)


def _item_label(position: int, category: str) -> str:
    # The item's description may hold personal data: cite its position only.
    return gettext("Item no. %(position)s (%(category)s)") % {
        "position": position,
        "category": _category_label(category),
    }


def _grounding_flags(items: list[ProposedItem], cited: list[LegalBasis]) -> list[Flag]:
    """Each item must rest on one cited basis that grounds a disclosure."""
    flags = []
    cited_ids = {b.pk for b in cited}
    for position, item in enumerate(items, start=1):
        basis = item.basis
        label = _item_label(position, item.category)
        if basis is None or basis.pk not in cited_ids:
            flags.append(
                _circular_flag(
                    "item_without_basis",
                    BLOCKING,
                    gettext("%(item)s names no chosen basis that allows it") % {"item": label},
                    overridable=False,
                )
            )
            continue
        if basis.role == BasisRole.INITIATIVE_ONLY:
            text = gettext(
                "%(item)s rests on “%(title)s”, which the centre may use only on its own "
                "initiative: it is never a ground to answer a request"
            )
        elif basis.role == BasisRole.GATEWAY:
            text = gettext(
                "%(item)s rests on “%(title)s”, a gateway that is valid only together with "
                "the specific provision: ground the item on that provision's entry"
            )
        elif not basis.grounds_disclosure:
            text = gettext(
                "%(item)s rests on “%(title)s”, which does not allow a disclosure (%(effect)s)"
            )
        else:
            continue
        values = {"item": label, "title": basis.title_fr, "effect": basis.get_effect_display()}
        flags.append(
            _basis_flag("item_basis_cannot_ground", BLOCKING, basis, text % values, False)
        )
    return flags


def _data_flags(items: list[ProposedItem]) -> list[Flag]:
    """Each item's category is checked against its own basis only."""
    flags = []
    for position, item in enumerate(items, start=1):
        basis = item.basis
        if basis is None or basis.allows_category(item.category):
            continue
        if item.category in basis.excluded_data_categories:
            limit = gettext("category excluded by this basis")
        else:
            allowed = ", ".join(_category_label(c) for c in basis.allowed_data_categories)
            limit = gettext("this basis only permits: %(allowed)s") % {"allowed": allowed}
        flags.append(
            _basis_flag(
                "item_outside_basis",
                BLOCKING,
                basis,
                gettext("%(item)s outside the data that “%(title)s” permits: %(limit)s")
                % {
                    "item": _item_label(position, item.category),
                    "title": basis.title_fr,
                    "limit": limit,
                },
            )
        )
    return flags


def _document_flags(grounds: list[LegalBasis], documents: frozenset[str]) -> list[Flag]:
    flags = []
    for basis in grounds:
        for document in basis.required_documents:
            if document in documents:
                continue
            flags.append(
                _basis_flag(
                    "document_missing",
                    BLOCKING,
                    basis,
                    gettext(
                        "“%(title)s” allows a disclosure only with this document on file, "
                        "which the request does not carry: %(document)s"
                    )
                    % {"title": basis.title_fr, "document": _document_label(document)},
                    False,
                )
            )
    return flags


def _contested_flags(grounds: list[LegalBasis]) -> list[Flag]:
    return [
        _basis_flag(
            "contested_basis",
            WARNING,
            basis,
            gettext(
                "The application of “%(title)s” to the centre's secrecy is contested: the "
                "Director general must record a written legal analysis before any disclosure"
            )
            % {"title": basis.title_fr},
        )
        for basis in grounds
        if basis.effect == Effect.CONTESTED
    ]


def _police_flags(requester_kind: str, grounds: list[LegalBasis]) -> list[Flag]:
    if requester_kind != RequesterKind.POLICE or not grounds:
        return []
    if any(b.has_feature(Feature.POLICE_ROUTE) for b in grounds):
        return []
    return [
        _circular_flag(
            "police_not_an_exception",
            BLOCKING,
            gettext(
                "A request from the police is not an exception to professional secrecy. "
                "Disclosure only on the written order of an investigating judge or within a "
                "case consultation organised by law or authorised by the Crown prosecutor; "
                "see the catalogue entries for the police"
            ),
        )
    ]


def _requester_flags(
    requester_kind: str, cited: list[LegalBasis], grounds: list[LegalBasis]
) -> list[Flag]:
    flags = []
    ground_ids = {b.pk for b in grounds}
    for basis in cited:
        if basis.applies_to(requester_kind):
            continue
        kinds = ", ".join(_kind_label(k) for k in basis.requester_kinds)
        if requester_kind == RequesterKind.POLICE and basis.has_feature(Feature.POLICE_ROUTE):
            # The police may execute the order of the requester the basis names.
            flags.append(
                _basis_flag(
                    "basis_not_for_requester",
                    WARNING,
                    basis,
                    gettext(
                        "This basis concerns: %(kinds)s. The police invoking it must produce "
                        "the written act of that authority (order of the investigating judge)"
                    )
                    % {"kinds": kinds},
                )
            )
            continue
        flags.append(
            _basis_flag(
                "basis_not_for_requester",
                BLOCKING if basis.pk in ground_ids else WARNING,
                basis,
                gettext(
                    "The basis “%(title)s” does not apply to this kind of requester "
                    "(%(kind)s); it concerns: %(kinds)s"
                )
                % {"title": basis.title_fr, "kind": _kind_label(requester_kind), "kinds": kinds},
            )
        )
    return flags


def _no_basis_flags(cited: list[LegalBasis]) -> list[Flag]:
    if cited:
        return []
    return [
        _circular_flag(
            "no_basis_chosen",
            BLOCKING,
            gettext(
                "The reasoned opinion must refer to the legal framework: choose at least one basis"
            ),
        )
    ]


def _justification_flags(grounds: list[LegalBasis]) -> list[Flag]:
    if not grounds or any(b.effect != Effect.JUSTIFICATION for b in grounds):
        return []
    return [
        _basis_flag(
            "justification_only",
            WARNING,
            grounds[0],
            gettext(
                "The disclosure rests only on a justification, weighed after the fact and "
                "case by case by the judge: document the danger, the absence of any other "
                "means and the proportionality"
            ),
        )
    ]


def _validity_flags(bases: list[LegalBasis], today: date) -> list[Flag]:
    flags = []
    for basis in bases:
        if not basis.is_in_force_on(today):
            successor = basis.in_force_version_on(today)
            values = {
                "title": basis.title_fr,
                "day": f"{today:%d/%m/%Y}",
                "successor": successor.code,
                "version": successor.version,
            }
            if successor.pk != basis.pk:
                text = gettext(
                    "The version cited of “%(title)s” is not in force on %(day)s: the rule in "
                    "force is entry %(successor)s v%(version)s"
                )
            elif basis.replacement_to_verify:
                text = gettext(
                    "The basis “%(title)s” is not in force on %(day)s; its replacement is to "
                    "be verified"
                )
            else:
                text = gettext("The basis “%(title)s” is not in force on %(day)s")
            flags.append(_basis_flag("basis_not_in_force", WARNING, basis, text % values))
        if not basis.is_current:
            flags.append(
                _basis_flag(
                    "basis_not_current",
                    WARNING,
                    basis,
                    gettext("A more recent version of the entry “%(title)s” exists")
                    % {"title": basis.title_fr},
                )
            )
        if basis.has_facts_to_verify():
            flags.append(
                _basis_flag(
                    "basis_to_verify",
                    WARNING,
                    basis,
                    gettext(
                        "The entry “%(title)s” contains statements marked [V] (to verify "
                        "against the official text): check before relying on it"
                    )
                    % {"title": basis.title_fr},
                )
            )
    return flags


def _statutory_deadline_flags(
    bases: list[LegalBasis], received_on: date, today: date
) -> list[Flag]:
    flags = []
    for basis in bases:
        if not basis.statutory_deadline_days:
            continue
        due = received_on + timedelta(days=basis.statutory_deadline_days)
        days_left = (due - today).days
        if days_left > DEADLINE_NEAR_DAYS:
            continue
        values = {"title": basis.title_fr, "due": f"{due:%d/%m/%Y}"}
        text = (
            gettext("The deadline the law sets under “%(title)s” (%(due)s) has passed")
            if days_left < 0
            else gettext("The deadline the law sets under “%(title)s” falls on %(due)s")
        )
        flags.append(_basis_flag("statutory_deadline", WARNING, basis, text % values))
    return flags


def _shared_secret_flags(bases: list[LegalBasis], requester_bound_by_secrecy: bool) -> list[Flag]:
    shared = [b for b in bases if b.has_feature(Feature.SHARED_SECRET)]
    if not shared:
        return []
    if not requester_bound_by_secrecy:
        return [
            _basis_flag(
                "shared_secret_requester_not_bound",
                BLOCKING,
                shared[0],
                gettext(
                    "Shared secrecy requires the requester to be bound by professional "
                    "secrecy themselves"
                ),
            )
        ]
    return [
        _basis_flag(
            "shared_secret_not_automatic",
            WARNING,
            shared[0],
            gettext(
                "The requester being bound by secrecy too does not create shared secrecy: "
                "check the identical mission, the strictly necessary, the beneficiary's "
                "interest and that they are informed"
            ),
        )
    ]


def _administrative_only_flags(bases: list[LegalBasis], channel: str) -> list[Flag]:
    basis = next((b for b in bases if b.has_feature(Feature.ADMINISTRATIVE_ONLY)), None)
    if basis is None:
        return []
    flags = [
        _basis_flag(
            "request_secret_from_person",
            INFORMATION,
            basis,
            gettext(
                "Whoever knows of this request must keep it secret: the person concerned is "
                "not told of it, and it is left out of any reply to their own access request"
            ),
        )
    ]
    if channel == ORAL_CHANNEL:
        flags.append(
            _basis_flag(
                "written_request_required",
                BLOCKING,
                basis,
                gettext("This basis requires a written and reasoned request"),
                False,
            )
        )
    return flags


def _concertation_flags(bases: list[LegalBasis], documents: frozenset[str]) -> list[Flag]:
    basis = next((b for b in bases if b.has_feature(Feature.CONCERTATION)), None)
    if basis is None or set(basis.required_documents) - documents:
        # Missing documents are reported by _document_flags when it grounds an item.
        return []
    return [
        _basis_flag(
            "concertation_scope",
            INFORMATION,
            basis,
            gettext(
                "Share only within the consultation, only what its purpose requires; what is "
                "shared there stays confidential"
            ),
        )
    ]


def _cited_provision_flags(
    cited_provision: str, cited: list[LegalBasis], catalogue: list[LegalBasis]
) -> list[Flag]:
    text = cited_provision.lower()
    if not text.strip():
        return []
    cited_codes = {b.code for b in cited}
    return [
        _basis_flag(
            "cited_provision_not_examined",
            INFORMATION,
            basis,
            gettext(
                "The request cites a provision that matches the entry “%(title)s”, which is "
                "not among the chosen bases: say in the reasoning why it does or does not apply"
            )
            % {"title": basis.title_fr},
        )
        for basis in matching_bases(text, catalogue)
        if basis.code not in cited_codes
    ]


def matching_bases(cited_provision: str, catalogue: list[LegalBasis]) -> list[LegalBasis]:
    """Catalogue entries whose keywords appear in the provision a request cites."""
    text = cited_provision.lower()
    return [
        basis
        for basis in catalogue
        if any(keyword and keyword.lower() in text for keyword in basis.provision_keywords)
    ]


# Requesters who are themselves bound by professional secrecy: that alone
# does not make a shared secret (circular of 2022, section 3).
SECRECY_BOUND_REQUESTERS = frozenset({"health_professional", "other_cpas", "lawyer"})


@dataclass(frozen=True)
class ProposedItem:
    """An item proposed for disclosure, as the flags see it: no description."""

    category: str
    basis: LegalBasis | None


def opinion_flags(
    *,
    requester_kind: str,
    channel: str,
    received_on: date,
    requester_deadline: date | None,
    today: date,
    legal_bases: list[LegalBasis],
    items: list[ProposedItem],
    documents: frozenset[str] = frozenset(),
    cited_provision: str = "",
    catalogue: list[LegalBasis] | None = None,
    requester_bound_by_secrecy: bool = False,
) -> list[Flag]:
    """Points to check on a draft opinion.

    `items` are proposed for disclosure, each with the basis that allows it;
    no items means the opinion proposes a refusal. `today` is the day of the
    decision: the law that applies is the law in force that day. `catalogue`
    (the entries in force) lets the flags point at a provision the request
    cites that the opinion leaves out.
    """
    grounds = list({i.basis.pk: i.basis for i in items if i.basis is not None}.values())
    flags = [
        *_no_basis_flags(legal_bases),
        *_grounding_flags(items, legal_bases),
        *_police_flags(requester_kind, grounds),
        *_requester_flags(requester_kind, legal_bases, grounds),
        *_data_flags(items),
        *_document_flags(grounds, documents),
        *_contested_flags(grounds),
        *_justification_flags(grounds),
        *_administrative_only_flags(legal_bases, channel),
        *_concertation_flags(legal_bases, documents),
        *_shared_secret_flags(legal_bases, requester_bound_by_secrecy),
        *_cited_provision_flags(cited_provision, legal_bases, catalogue or []),
        *_validity_flags(legal_bases, today),
        *_statutory_deadline_flags(legal_bases, received_on, today),
        *_deadline_flags(requester_deadline, today),
    ]
    return _sorted(flags)
