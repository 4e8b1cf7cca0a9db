"""Decision-support flags: for each rule, a case where it fires and one where it doesn't."""

from datetime import date, timedelta
from typing import Any

import pytest

from legal_basis.flags import Flag, intake_flags, opinion_flags
from legal_basis.models import LegalBasis

TODAY = date(2026, 11, 3)
RECEIVED = date(2026, 11, 2)

pytestmark = pytest.mark.django_db


def current(code: str) -> LegalBasis:
    return LegalBasis.objects.current().get(code=code)


def intake(**overrides) -> list[Flag]:
    values: dict[str, Any] = {
        "channel": "post",
        "requester_kind": "investigating_judge",
        "cited_provision": "Art. 87 et 88 du Code d'instruction criminelle",
        "persons_identified": True,
        "requester_deadline": None,
        "received_on": RECEIVED,
        "today": TODAY,
    }
    values.update(overrides)
    return intake_flags(**values)


def opinion(bases=("ji-search-seizure",), **overrides) -> list[Flag]:
    values: dict[str, Any] = {
        "requester_kind": "investigating_judge",
        "received_on": RECEIVED,
        "requester_deadline": None,
        "today": TODAY,
        "legal_bases": [b if isinstance(b, LegalBasis) else current(b) for b in bases],
        "items": [("CANARYITEM adresse actuelle", "address")],
    }
    values.update(overrides)
    return opinion_flags(**values)


def severities(flags: list[Flag], code: str) -> set[str]:
    return {flag.severity for flag in flags if flag.code == code}


@pytest.mark.parametrize(
    ("overrides", "code", "severity"),
    [
        pytest.param({"channel": "oral"}, "oral_request", "blocking", id="oral"),
        pytest.param({"channel": "email"}, "oral_request", None, id="written"),
        pytest.param({"cited_provision": "  "}, "no_legal_provision", "blocking", id="no-law"),
        pytest.param({}, "no_legal_provision", None, id="law-cited"),
        pytest.param(
            {"persons_identified": False}, "person_not_identified", "blocking", id="vague"
        ),
        pytest.param({}, "person_not_identified", None, id="identified"),
        pytest.param({"requester_kind": "police"}, "police_request", "information", id="pol"),
        pytest.param({}, "police_request", None, id="judge"),
        pytest.param({"requester_deadline": TODAY}, "deadline_near", "warning", id="due-today"),
        pytest.param(
            {"requester_deadline": TODAY + timedelta(days=3)},
            "deadline_near",
            "warning",
            id="due-in-3",
        ),
        pytest.param(
            {"requester_deadline": TODAY + timedelta(days=4)}, "deadline_near", None, id="due-in-4"
        ),
        pytest.param(
            {"requester_deadline": TODAY - timedelta(days=1)},
            "deadline_passed",
            "warning",
            id="overdue",
        ),
        pytest.param({"requester_deadline": TODAY}, "deadline_passed", None, id="not-overdue"),
        pytest.param({"requester_deadline": None}, "deadline_near", None, id="no-deadline"),
    ],
)
def test_intake_flag(overrides, code, severity):
    flags = intake(**overrides)

    assert severities(flags, code) == ({severity} if severity else set())


def test_intake_of_a_complete_written_request_raises_nothing():
    assert intake() == []


POLICE = {"requester_kind": "police"}
LANDLORD = {"requester_kind": "landlord"}
PROSECUTOR = {"requester_kind": "public_prosecutor"}
NO_ITEMS: dict[str, Any] = {"items": []}


@pytest.mark.parametrize(
    ("bases", "overrides", "code", "severity"),
    [
        # An opinion must rely on at least one basis.
        pytest.param((), {}, "no_basis_chosen", "blocking", id="no-basis"),
        pytest.param(("ji-search-seizure",), {}, "no_basis_chosen", None, id="basis"),
        # Disclosing needs a basis whose effect allows it (read from the catalogue).
        pytest.param(("cp-458",), LANDLORD, "no_enabling_basis", "blocking", id="only-secret"),
        pytest.param(("consent",), LANDLORD, "no_enabling_basis", None, id="consent-enables"),
        pytest.param(
            ("cp-458",), {**LANDLORD, **NO_ITEMS}, "no_enabling_basis", None, id="refusal"
        ),
        # A police request is not an exception.
        pytest.param(("police-request",), POLICE, "police_not_an_exception", "blocking", id="p"),
        pytest.param(
            ("police-request", "ji-search-seizure"),
            POLICE,
            "police_not_an_exception",
            None,
            id="police-with-judge-order",
        ),
        pytest.param(
            ("cp-458ter",), POLICE, "police_not_an_exception", None, id="police-concertation"
        ),
        pytest.param(
            ("police-request",),
            {**POLICE, **NO_ITEMS},
            "police_not_an_exception",
            None,
            id="police-refused",
        ),
        pytest.param(("ji-search-seizure",), {}, "police_not_an_exception", None, id="not-police"),
        pytest.param(
            ("cp-422bis",),
            POLICE,
            "police_emergency_justification",
            "warning",
            id="police-emergency",
        ),
        pytest.param(
            ("cp-422bis",), POLICE, "police_not_an_exception", None, id="emergency-not-blocked"
        ),
        pytest.param(
            ("cp-422bis",), LANDLORD, "police_emergency_justification", None, id="no-police"
        ),
        # The basis must apply to the requester kind (from LegalBasis.requester_kinds).
        pytest.param(
            ("tribunal-testimony",), LANDLORD, "basis_not_for_requester", "blocking", id="kind"
        ),
        pytest.param(
            ("tribunal-testimony",),
            {"requester_kind": "court"},
            "basis_not_for_requester",
            None,
            id="court",
        ),
        pytest.param(
            ("tribunal-testimony",),
            {**LANDLORD, **NO_ITEMS},
            "basis_not_for_requester",
            "warning",
            id="kind-in-a-refusal",
        ),
        pytest.param(
            ("ji-search-seizure",),
            POLICE,
            "basis_not_for_requester",
            "warning",
            id="police-executing-order",
        ),
        pytest.param(("consent",), LANDLORD, "basis_not_for_requester", None, id="any-kind"),
        # Article 46bis/1 CIC: the procureur du Roi only, administrative data only.
        pytest.param(
            ("cic-46bis1",),
            {"requester_kind": "municipality"},
            "basis_not_for_requester",
            "blocking",
            id="46bis1-not-prosecutor",
        ),
        pytest.param(
            ("cic-46bis1",), PROSECUTOR, "basis_not_for_requester", None, id="46bis1-prosecutor"
        ),
        pytest.param(
            ("cic-46bis1",),
            {**PROSECUTOR, "items": [("Dossier médical", "health")]},
            "item_outside_basis",
            "blocking",
            id="46bis1-health",
        ),
        pytest.param(
            ("cic-46bis1",),
            {**PROSECUTOR, "items": [("Situation", "social_situation")]},
            "item_outside_basis",
            "blocking",
            id="46bis1-not-administrative",
        ),
        pytest.param(
            ("cic-46bis1",),
            {**PROSECUTOR, "items": [("Adresse", "address"), ("Montant", "aid")]},
            "item_outside_basis",
            None,
            id="46bis1-administrative",
        ),
        pytest.param(
            ("cic-46bis1",), PROSECUTOR, "cic46bis1_conditions", "information", id="46bis1-info"
        ),
        pytest.param(("ji-search-seizure",), {}, "cic46bis1_conditions", None, id="no-46bis1"),
        # Data limits of any basis (from allowed/excluded categories).
        pytest.param(
            ("cj-tiers-saisi",),
            {"requester_kind": "bailiff"},
            "item_outside_basis",
            "blocking",
            id="bailiff-address",
        ),
        pytest.param(
            ("cj-tiers-saisi",),
            {"requester_kind": "bailiff", "items": [("Sommes dues", "aid")]},
            "item_outside_basis",
            None,
            id="bailiff-sums-owed",
        ),
        # Shared secret.
        pytest.param(
            ("shared-secret",),
            {"requester_kind": "health_professional"},
            "shared_secret_requester_not_bound",
            "blocking",
            id="shared-not-bound",
        ),
        pytest.param(
            ("shared-secret",),
            {"requester_kind": "health_professional", "requester_bound_by_secrecy": True},
            "shared_secret_requester_not_bound",
            None,
            id="shared-bound",
        ),
        pytest.param(
            ("shared-secret",),
            {"requester_kind": "health_professional", "requester_bound_by_secrecy": True},
            "shared_secret_not_automatic",
            "warning",
            id="bound-is-not-shared",
        ),
        pytest.param(
            ("consent",),
            {"requester_kind": "health_professional", "requester_bound_by_secrecy": True},
            "shared_secret_not_automatic",
            None,
            id="no-shared-secret",
        ),
        # Consent.
        pytest.param(("consent",), LANDLORD, "consent_not_documented", "warning", id="unknown"),
        pytest.param(
            ("consent",),
            {**LANDLORD, "consent_document": False},
            "consent_not_documented",
            "warning",
            id="no-consent-document",
        ),
        pytest.param(
            ("consent",),
            {**LANDLORD, "consent_document": True},
            "consent_not_documented",
            None,
            id="consent-document",
        ),
        # Validity on the date of the request, and facts to verify.
        pytest.param(
            ("cp-458ter",), PROSECUTOR, "basis_not_in_force", "warning", id="old-penal-code"
        ),
        pytest.param(
            ("cp-458ter",),
            {**PROSECUTOR, "received_on": date(2026, 1, 5)},
            "basis_not_in_force",
            None,
            id="before-new-code",
        ),
        pytest.param(
            ("cic-46bis1",),
            {**PROSECUTOR, "received_on": date(2017, 8, 31)},
            "basis_not_in_force",
            "warning",
            id="before-in-force",
        ),
        pytest.param(("cic-46bis1",), PROSECUTOR, "basis_not_in_force", None, id="in-force"),
        pytest.param(("cp-458ter",), PROSECUTOR, "basis_to_verify", "warning", id="to-verify"),
        pytest.param(("cic-46bis1",), PROSECUTOR, "basis_to_verify", None, id="verified"),
        # Justifications weighed after the fact.
        pytest.param(("necessity",), LANDLORD, "justification_only", "warning", id="just"),
        pytest.param(
            ("necessity", "consent"), LANDLORD, "justification_only", None, id="not-only-just"
        ),
        # Deadline.
        pytest.param(
            ("ji-search-seizure",),
            {"requester_deadline": TODAY + timedelta(days=2)},
            "deadline_near",
            "warning",
            id="deadline-near",
        ),
        pytest.param(
            ("ji-search-seizure",),
            {"requester_deadline": TODAY + timedelta(days=10)},
            "deadline_near",
            None,
            id="deadline-far",
        ),
        pytest.param(
            ("ji-search-seizure",),
            {"requester_deadline": TODAY - timedelta(days=2)},
            "deadline_passed",
            "warning",
            id="deadline-passed",
        ),
    ],
)
def test_opinion_flag(bases, overrides, code, severity):
    flags = opinion(bases, **overrides)

    assert severities(flags, code) == ({severity} if severity else set())


def test_rules_follow_the_catalogue_not_hard_coded_codes():
    custom = LegalBasis(
        code="custom",
        title_fr="Base fictive",
        citation="Article 1er de la loi fictive",
        effect="obliges",
        requester_kinds=["landlord"],
        allowed_data_categories=["aid"],
        in_force_from=date(2027, 1, 1),
        is_current=False,
        sources=[{"label": "S", "url": "https://example.org/loi"}],
    )

    flags = opinion([custom], requester_kind="bailiff")

    assert {f.code for f in flags} == {
        "basis_not_for_requester",
        "item_outside_basis",
        "basis_not_in_force",
        "basis_not_current",
    }
    assert all(
        f.source == "Article 1er de la loi fictive – https://example.org/loi" for f in flags
    )


def test_a_judge_order_for_administrative_data_raises_no_blocking_flag():
    flags = opinion()

    assert [f for f in flags if f.is_blocking] == []


def test_flags_come_blocking_first():
    flags = opinion(
        ("police-request", "cp-458ter"),
        requester_kind="landlord",
        requester_deadline=TODAY,
    )

    order = {"blocking": 0, "warning": 1, "information": 2}
    assert [order[f.severity] for f in flags] == sorted(order[f.severity] for f in flags)
    assert flags[0].severity == "blocking"


def test_every_flag_cites_its_source_and_no_item_description():
    flags = [
        *intake(
            channel="oral",
            requester_kind="police",
            cited_provision="",
            persons_identified=False,
            requester_deadline=TODAY,
        ),
        *opinion(
            ("police-request", "shared-secret", "consent", "cic-46bis1", "cp-458ter"),
            requester_kind="police",
            items=[("CANARYITEM dossier médical", "health")],
            requester_deadline=TODAY - timedelta(days=1),
        ),
        *opinion((), items=[("CANARYITEM", "aid")]),
        *opinion(("cp-422bis",), requester_kind="police"),
        *opinion(("necessity",), requester_kind="landlord"),
    ]

    assert len({f.code for f in flags}) >= 15
    for flag in flags:
        assert flag.severity in {"blocking", "warning", "information"}
        assert flag.source
        assert "(source : " in flag.message
        assert "CANARY" not in flag.message
