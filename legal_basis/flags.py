"""Decision support: points to check on a request and on a draft opinion.

Pure functions of the data they are given; they read nothing and write
nothing. A flag never decides: it tells the secretariat, the referent or the
DG what to look at, and where the rule comes from. Whatever the catalogue can
express (requester kinds, data categories, validity, facts to verify) is read
from the chosen `LegalBasis` rows, not repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .models import DataCategory, Effect, LegalBasis, RequesterKind

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

# Bases through which a police request can lead to a disclosure (the police
# executes a juge d'instruction's order, or sits in an authorised concertation).
POLICE_ROUTES = frozenset({"ji-search-seizure", "cp-458ter"})
# Emergency justifications, weighed by a judge after the fact.
EMERGENCY_BASES = frozenset({"cp-422bis", "necessity"})
# Effects under which the CPAS may hand information over.
ENABLING_EFFECTS = frozenset(
    e.value
    for e in (Effect.PERMITS, Effect.OBLIGES, Effect.JUSTIFICATION, Effect.COMPELLED_ACCESS)
)


@dataclass(frozen=True)
class Flag:
    code: str
    severity: Severity
    message: str
    source: str

    @property
    def is_blocking(self) -> bool:
        return self.severity == BLOCKING


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


def _basis_flag(code: str, severity: Severity, basis: LegalBasis, text: str) -> Flag:
    return Flag(
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


def _circular_flag(code: str, severity: Severity, text: str) -> Flag:
    return Flag(
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


def intake_flags(
    *,
    channel: str,
    requester_kind: str,
    cited_provision: str,
    persons_identified: bool,
    requester_deadline: date | None,
    received_on: date,
    today: date,
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
    if not cited_provision.strip():
        flags.append(
            _circular_flag(
                "no_legal_provision",
                BLOCKING,
                gettext(
                    "The request cites no legal provision allowing the information to be passed on"
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
                    "judge or within an authorised case consultation (art. 458ter of the "
                    "Criminal Code)"
                ),
            )
        )
    flags.extend(_deadline_flags(requester_deadline, today))
    return _sorted(flags)


def _police_flags(
    requester_kind: str, codes: set[str], disclosing: bool, bases: list[LegalBasis]
) -> list[Flag]:
    if requester_kind != RequesterKind.POLICE or not disclosing or codes & POLICE_ROUTES:
        return []
    emergency = [b for b in bases if b.code in EMERGENCY_BASES]
    if emergency:
        return [
            _basis_flag(
                "police_emergency_justification",
                WARNING,
                emergency[0],
                gettext(
                    "Police request based on an emergency: the justification will be weighed "
                    "after the fact. Check the serious and current danger and limit the "
                    "disclosure to what is needed to avert it"
                ),
            )
        ]
    return [
        _circular_flag(
            "police_not_an_exception",
            BLOCKING,
            gettext(
                "A request from the police is not an exception to professional secrecy. "
                "Disclosure only on the written order of an investigating judge "
                "(ji-search-seizure) or within an authorised case consultation "
                "(cp-458ter, art. 458ter of the Criminal Code); see the entry police-request"
            ),
        )
    ]


def _requester_flags(requester_kind: str, bases: list[LegalBasis], disclosing: bool) -> list[Flag]:
    flags = []
    for basis in bases:
        if basis.applies_to(requester_kind):
            continue
        kinds = ", ".join(_kind_label(k) for k in basis.requester_kinds)
        if requester_kind == RequesterKind.POLICE and basis.code in POLICE_ROUTES:
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
                BLOCKING if disclosing else WARNING,
                basis,
                gettext(
                    "The basis “%(title)s” does not apply to this kind of requester "
                    "(%(kind)s); it concerns: %(kinds)s"
                )
                % {"title": basis.title_fr, "kind": _kind_label(requester_kind), "kinds": kinds},
            )
        )
    return flags


def _data_flags(bases: list[LegalBasis], items: list[tuple[str, str]]) -> list[Flag]:
    flags = []
    for basis in bases:
        for position, (_description, category) in enumerate(items, start=1):
            if basis.allows_category(category):
                continue
            if category in basis.excluded_data_categories:
                limit = gettext("category excluded by this basis")
            else:
                allowed = ", ".join(_category_label(c) for c in basis.allowed_data_categories)
                limit = gettext("this basis only permits: %(allowed)s") % {"allowed": allowed}
            # The item's description may hold personal data: cite its position only.
            flags.append(
                _basis_flag(
                    "item_outside_basis",
                    BLOCKING,
                    basis,
                    gettext(
                        "Item no. %(position)s (%(category)s) outside the data that "
                        "“%(title)s” permits: %(limit)s"
                    )
                    % {
                        "position": position,
                        "category": _category_label(category),
                        "title": basis.title_fr,
                        "limit": limit,
                    },
                )
            )
    return flags


def _enabling_flags(bases: list[LegalBasis], disclosing: bool) -> list[Flag]:
    if not bases:
        return [
            _circular_flag(
                "no_basis_chosen",
                BLOCKING,
                gettext(
                    "The reasoned opinion must refer to the legal framework: choose at least "
                    "one basis"
                ),
            )
        ]
    if not disclosing:
        return []
    enabling = [b for b in bases if b.effect in ENABLING_EFFECTS]
    if not enabling:
        return [
            _circular_flag(
                "no_enabling_basis",
                BLOCKING,
                gettext(
                    "Information is proposed for disclosure, but none of the chosen bases "
                    "permits, obliges or justifies a disclosure; exceptions to secrecy are "
                    "interpreted strictly"
                ),
            )
        ]
    if all(b.effect == Effect.JUSTIFICATION for b in enabling):
        return [
            _basis_flag(
                "justification_only",
                WARNING,
                enabling[0],
                gettext(
                    "The disclosure rests only on a justification, weighed after the fact and "
                    "case by case by the judge: document the danger, the absence of any other "
                    "means and the proportionality"
                ),
            )
        ]
    return []


def _validity_flags(bases: list[LegalBasis], received_on: date) -> list[Flag]:
    flags = []
    for basis in bases:
        if not basis.is_in_force_on(received_on):
            values = {
                "title": basis.title_fr,
                "received_on": f"{received_on:%d/%m/%Y}",
                "replacement": basis.replaced_by_code,
            }
            if not basis.replaced_by_code:
                text = gettext(
                    "The basis “%(title)s” was not in force on the date of the request "
                    "(%(received_on)s)"
                )
            elif not basis.replacement_to_verify:
                text = gettext(
                    "The basis “%(title)s” was not in force on the date of the request "
                    "(%(received_on)s); it has been replaced (see the entry %(replacement)s)"
                )
            else:
                text = gettext(
                    "The basis “%(title)s” was not in force on the date of the request "
                    "(%(received_on)s); it has been replaced (see the entry %(replacement)s), "
                    "new reference to verify"
                )
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


def _shared_secret_flags(bases: list[LegalBasis], requester_bound_by_secrecy: bool) -> list[Flag]:
    shared = [b for b in bases if b.code == "shared-secret"]
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


def _consent_flags(bases: list[LegalBasis], consent_document: bool | None) -> list[Flag]:
    consent = [b for b in bases if b.code == "consent"]
    if not consent or consent_document is True:
        return []
    if consent_document is False:
        text = gettext(
            "Consent of the person missing: it must be written, dated, signed and cover "
            "precisely the data requested, the recipient and the purpose"
        )
    else:
        text = gettext(
            "Consent of the person not verified: it must be written, dated, signed and "
            "cover precisely the data requested, the recipient and the purpose"
        )
    return [_basis_flag("consent_not_documented", WARNING, consent[0], text)]


def _cic46bis1_flags(bases: list[LegalBasis]) -> list[Flag]:
    basis = next((b for b in bases if b.code == "cic-46bis1"), None)
    if basis is None:
        return []
    return [
        _basis_flag(
            "cic46bis1_conditions",
            INFORMATION,
            basis,
            gettext(
                "Check the written, reasoned decision of the Crown prosecutor and that it "
                "concerns a terrorist offence; administrative information only, never "
                "medical data"
            ),
        )
    ]


# Requesters who are themselves bound by professional secrecy: that alone
# does not make a shared secret (circular of 2022, section 3).
SECRECY_BOUND_REQUESTERS = frozenset({"health_professional", "other_cpas", "lawyer"})


def opinion_flags(
    *,
    requester_kind: str,
    received_on: date,
    requester_deadline: date | None,
    today: date,
    legal_bases: list[LegalBasis],
    items: list[tuple[str, str]],
    requester_bound_by_secrecy: bool = False,
    consent_document: bool | None = None,
) -> list[Flag]:
    """Points to check on a draft opinion.

    `items` are (description, data_category) pairs proposed for disclosure; no
    items means the opinion proposes a refusal. Descriptions are never copied
    into a message.
    """
    codes = {basis.code for basis in legal_bases}
    disclosing = bool(items)
    flags = [
        *_enabling_flags(legal_bases, disclosing),
        *_police_flags(requester_kind, codes, disclosing, legal_bases),
        *_requester_flags(requester_kind, legal_bases, disclosing),
        *_data_flags(legal_bases, items),
        *_cic46bis1_flags(legal_bases),
        *_shared_secret_flags(legal_bases, requester_bound_by_secrecy),
        *_consent_flags(legal_bases, consent_document),
        *_validity_flags(legal_bases, received_on),
        *_deadline_flags(requester_deadline, today),
    ]
    return _sorted(flags)
