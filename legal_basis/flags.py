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

from .models import DataCategory, Effect, LegalBasis, RequesterKind

Severity = Literal["blocking", "warning", "information"]

BLOCKING: Severity = "blocking"
WARNING: Severity = "warning"
INFORMATION: Severity = "information"

_SEVERITY_ORDER = {BLOCKING: 0, WARNING: 1, INFORMATION: 2}

DEADLINE_NEAR_DAYS = 3

CIRCULAR = (
    "Circulaire du SPW Intérieur du 2 juin 2022, « Secret professionnel dans les CPAS – "
    "recommandations » – https://uvcw.be/aide-sociale/actus/art-7456"
)
CIRCULAR_SHORT = "circulaire wallonne du 2 juin 2022"

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
        message=f"{text} (source : {basis.citation}, fiche {basis.code} v{basis.version})",
        source=_basis_source(basis),
    )


def _circular_flag(code: str, severity: Severity, text: str) -> Flag:
    return Flag(
        code=code,
        severity=severity,
        message=f"{text} (source : {CIRCULAR_SHORT})",
        source=CIRCULAR,
    )


def _deadline_flags(requester_deadline: date | None, today: date) -> list[Flag]:
    if requester_deadline is None:
        return []
    days_left = (requester_deadline - today).days
    if days_left < 0:
        return [
            _circular_flag(
                "deadline_passed",
                WARNING,
                f"L'échéance fixée par le demandeur ({requester_deadline:%d/%m/%Y}) est "
                "dépassée. La procédure (avis motivé, contrôle de légalité, double "
                "signature) reste entière : informer le demandeur si nécessaire",
            )
        ]
    if days_left <= DEADLINE_NEAR_DAYS:
        return [
            _circular_flag(
                "deadline_near",
                WARNING,
                f"L'échéance fixée par le demandeur ({requester_deadline:%d/%m/%Y}) tombe "
                f"dans {days_left} jour(s). Elle ne dispense d'aucune étape de la "
                "procédure (avis motivé, contrôle de légalité, double signature)",
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
                "Demande orale : elle ne peut pas être traitée. Le demandeur doit adresser "
                "une demande écrite au Président du CPAS",
            )
        )
    if not cited_provision.strip():
        flags.append(
            _circular_flag(
                "no_legal_provision",
                BLOCKING,
                "La demande ne cite aucune disposition légale permettant la transmission "
                "des informations",
            )
        )
    if not persons_identified:
        flags.append(
            _circular_flag(
                "person_not_identified",
                BLOCKING,
                "La personne concernée n'est pas identifiée sans équivoque (nom, prénoms et "
                "date de naissance ou numéro de registre national) : risque de communiquer "
                "des données d'un autre bénéficiaire",
            )
        )
    if requester_kind == RequesterKind.POLICE:
        flags.append(
            _circular_flag(
                "police_request",
                INFORMATION,
                "Une demande émanant de la police n'est pas une exception au secret "
                "professionnel : une communication n'est envisageable que sur ordonnance "
                "d'un juge d'instruction ou au sein d'une concertation de cas autorisée "
                "(art. 458ter du Code pénal)",
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
                "Demande de la police fondée sur une situation d'urgence : la justification "
                "sera appréciée après coup. Vérifier le péril grave et actuel et limiter la "
                "communication à ce qui permet d'y parer",
            )
        ]
    return [
        _circular_flag(
            "police_not_an_exception",
            BLOCKING,
            "Une demande de la police n'est pas une exception au secret professionnel. "
            "Communication seulement sur ordonnance écrite d'un juge d'instruction "
            "(ji-search-seizure) ou au sein d'une concertation de cas autorisée "
            "(cp-458ter, art. 458ter du Code pénal) ; voir la fiche police-request",
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
                    f"Cette base vise : {kinds}. La police qui l'invoque doit présenter "
                    "l'acte écrit de cette autorité (ordonnance du juge d'instruction)",
                )
            )
            continue
        flags.append(
            _basis_flag(
                "basis_not_for_requester",
                BLOCKING if disclosing else WARNING,
                basis,
                f"La base « {basis.title_fr} » ne s'applique pas à ce type de demandeur "
                f"({_kind_label(requester_kind)}) ; elle vise : {kinds}",
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
                limit = "catégorie exclue par cette base"
            else:
                allowed = ", ".join(_category_label(c) for c in basis.allowed_data_categories)
                limit = f"cette base ne permet que : {allowed}"
            # The item's description may hold personal data: cite its position only.
            flags.append(
                _basis_flag(
                    "item_outside_basis",
                    BLOCKING,
                    basis,
                    f"Élément n° {position} ({_category_label(category)}) hors des données "
                    f"que permet « {basis.title_fr} » : {limit}",
                )
            )
    return flags


def _enabling_flags(bases: list[LegalBasis], disclosing: bool) -> list[Flag]:
    if not bases:
        return [
            _circular_flag(
                "no_basis_chosen",
                BLOCKING,
                "L'avis motivé doit se référer au cadre légal : choisir au moins une base",
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
                "Des informations sont proposées à la communication, mais aucune des bases "
                "choisies ne permet, n'oblige ni ne justifie une communication ; les "
                "exceptions au secret sont d'interprétation stricte",
            )
        ]
    if all(b.effect == Effect.JUSTIFICATION for b in enabling):
        return [
            _basis_flag(
                "justification_only",
                WARNING,
                enabling[0],
                "La communication ne repose que sur une cause de justification, appréciée "
                "après coup et au cas par cas par le juge : documenter le danger, l'absence "
                "d'autre moyen et la proportionnalité",
            )
        ]
    return []


def _validity_flags(bases: list[LegalBasis], received_on: date) -> list[Flag]:
    flags = []
    for basis in bases:
        if not basis.is_in_force_on(received_on):
            text = (
                f"La base « {basis.title_fr} » n'était pas en vigueur à la date de la demande "
                f"({received_on:%d/%m/%Y})"
            )
            if basis.replaced_by_code:
                text += f" ; elle est remplacée (voir la fiche {basis.replaced_by_code})"
                if basis.replacement_to_verify:
                    text += ", nouvelle référence à vérifier"
            flags.append(_basis_flag("basis_not_in_force", WARNING, basis, text))
        if not basis.is_current:
            flags.append(
                _basis_flag(
                    "basis_not_current",
                    WARNING,
                    basis,
                    f"Une version plus récente de la fiche « {basis.title_fr} » existe",
                )
            )
        if basis.has_facts_to_verify():
            flags.append(
                _basis_flag(
                    "basis_to_verify",
                    WARNING,
                    basis,
                    f"La fiche « {basis.title_fr} » contient des éléments marqués [V] (à "
                    "vérifier sur le texte officiel) : contrôler avant de s'y fonder",
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
                "Le secret partagé suppose que le demandeur soit lui-même tenu au secret "
                "professionnel",
            )
        ]
    return [
        _basis_flag(
            "shared_secret_not_automatic",
            WARNING,
            shared[0],
            "Le fait que le demandeur soit lui aussi tenu au secret ne crée pas un secret "
            "partagé : vérifier la mission identique, le strict nécessaire, l'intérêt du "
            "bénéficiaire et son information",
        )
    ]


def _consent_flags(bases: list[LegalBasis], consent_document: bool | None) -> list[Flag]:
    consent = [b for b in bases if b.code == "consent"]
    if not consent or consent_document is True:
        return []
    state = "absent" if consent_document is False else "non vérifié"
    return [
        _basis_flag(
            "consent_not_documented",
            WARNING,
            consent[0],
            f"Accord de la personne {state} : il doit être écrit, daté, signé et couvrir "
            "précisément les données demandées, le destinataire et le but",
        )
    ]


def _cic46bis1_flags(bases: list[LegalBasis]) -> list[Flag]:
    basis = next((b for b in bases if b.code == "cic-46bis1"), None)
    if basis is None:
        return []
    return [
        _basis_flag(
            "cic46bis1_conditions",
            INFORMATION,
            basis,
            "Vérifier la décision écrite et motivée du procureur du Roi et qu'elle porte sur "
            "une infraction terroriste ; seuls des renseignements administratifs, jamais de "
            "données médicales",
        )
    ]


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
