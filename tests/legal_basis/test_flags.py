"""Decision-support flags: for each rule, a case where it fires and one where it doesn't."""

import itertools
from datetime import date, timedelta
from typing import Any

import pytest

from legal_basis.flags import Flag, ProposedItem, intake_flags, opinion_flags
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
            {"cited_provision": "", "documents": frozenset({"consent"})},
            "no_legal_provision",
            None,
            id="consent-instead-of-law",
        ),
        pytest.param(
            {"cited_provision": "", "requester_kind": "person_concerned"},
            "no_legal_provision",
            None,
            id="person-asks-about-themself",
        ),
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


# ---------------------------------------------------------------------------
# Opinion flags, on cards made for each rule: the rules read the cards' role,
# effect, features, categories and documents, never their codes.

_ids = itertools.count(100_000)


def card(code: str = "card", role: str = "request_basis", effect: str = "permits", **fields):
    values: dict[str, Any] = {
        "code": code,
        "version": 1,
        "is_current": True,
        "title_fr": f"Fiche {code}",
        "citation": f"Citation {code}",
        "role": role,
        "effect": effect,
        "sources": [{"label": "S", "url": f"https://example.org/{code}"}],
    }
    values.update(fields)
    basis = LegalBasis(**values)
    basis.pk = next(_ids)
    return basis


def opinion(bases, items=(), **overrides) -> list[Flag]:
    """`items` are (category, basis) pairs; a basis given only in items is cited too."""
    cited = list(bases)
    for _category, basis in items:
        if basis is not None and basis not in cited:
            cited.append(basis)
    values: dict[str, Any] = {
        "requester_kind": "investigating_judge",
        "channel": "post",
        "received_on": RECEIVED,
        "requester_deadline": None,
        "today": TODAY,
        "legal_bases": cited,
        "items": [ProposedItem(category, basis) for category, basis in items],
    }
    values.update(overrides)
    return opinion_flags(**values)


def forbidding(flags: list[Flag], code: str) -> bool:
    return any(f.code == code and f.forbids for f in flags)


@pytest.mark.parametrize(
    ("role", "effect", "forbidden"),
    [
        ("request_basis", "permits", False),
        ("request_basis", "obliges", False),
        ("request_basis", "compelled_access", False),
        ("request_basis", "contested", False),
        ("request_basis", "justification", False),
        ("request_basis", "prohibits", True),
        ("request_basis", "not_an_exception", True),
        ("initiative_only", "permits", True),
        ("initiative_only", "justification", True),
        ("initiative_only", "contested", True),
        ("gateway", "permits", True),
        ("gateway", "obliges", True),
        ("context", "context", True),
        ("context", "prohibits", True),
    ],
)
def test_an_item_rests_only_on_a_request_basis_that_allows_disclosure(role, effect, forbidden):
    basis = card(role=role, effect=effect)

    flags = opinion([], [("address", basis)])

    assert forbidding(flags, "item_basis_cannot_ground") is forbidden
    if forbidden:
        # The same card in a refusal raises nothing of the kind.
        assert not forbidding(opinion([basis]), "item_basis_cannot_ground")


def test_a_gateway_is_valid_together_with_the_specific_provision():
    gateway, specific = card("gateway", role="gateway"), card("specific", effect="obliges")

    alone = opinion([gateway, specific], [("address", gateway)])
    together = opinion([gateway, specific], [("address", specific)])

    assert forbidding(alone, "item_basis_cannot_ground")
    assert not forbidding(together, "item_basis_cannot_ground")


@pytest.mark.parametrize(
    "item_basis", ["none", "not-chosen"], ids=["no-basis", "basis-not-chosen"]
)
def test_an_item_must_name_one_of_the_chosen_bases(item_basis):
    chosen, other = card("chosen"), card("other")
    basis = None if item_basis == "none" else other

    flags = opinion_flags(
        requester_kind="investigating_judge",
        channel="post",
        received_on=RECEIVED,
        requester_deadline=None,
        today=TODAY,
        legal_bases=[chosen],
        items=[ProposedItem("address", basis)],
    )

    assert forbidding(flags, "item_without_basis")
    assert not forbidding(opinion([chosen], [("address", chosen)]), "item_without_basis")


def test_each_item_is_checked_against_its_own_basis_not_the_intersection():
    addresses = card("addresses", allowed_data_categories=["address"])
    aid = card("aid", allowed_data_categories=["aid"])

    matched = opinion([], [("address", addresses), ("aid", aid)])
    crossed = opinion([], [("aid", addresses), ("address", aid)])

    # Each item is allowed by its basis, though the other cited basis would not allow it.
    assert severities(matched, "item_outside_basis") == set()
    # The reverse: each item outside its own basis, though the other would allow it.
    outside = [f for f in crossed if f.code == "item_outside_basis"]
    assert len(outside) == 2
    assert all(f.is_blocking for f in outside)


def test_an_excluded_category_is_outside_even_without_an_allow_list():
    basis = card(excluded_data_categories=["health"])

    assert severities(opinion([], [("health", basis)]), "item_outside_basis") == {"blocking"}
    assert severities(opinion([], [("address", basis)]), "item_outside_basis") == set()


def test_a_contested_basis_asks_for_the_dgs_legal_analysis_only_when_it_grounds_an_item():
    contested, plain = card("contested", effect="contested"), card("plain")

    grounding = opinion([contested, plain], [("address", contested)])
    cited_only = opinion([contested, plain], [("address", plain)])

    assert severities(grounding, "contested_basis") == {"warning"}
    assert severities(cited_only, "contested_basis") == set()


@pytest.mark.parametrize(
    ("documents", "items", "forbidden"),
    [
        (frozenset(), True, True),
        (frozenset({"judge_order"}), True, True),
        (frozenset({"consent"}), True, False),
        (frozenset(), False, False),
    ],
    ids=["no-document", "other-document", "document-on-file", "refusal"],
)
def test_a_disclosure_needs_the_documents_its_basis_requires(documents, items, forbidden):
    consent = card("consent", features=["consent"], required_documents=["consent"])

    flags = opinion([consent], [("address", consent)] if items else [], documents=documents)

    # Consent alone without the signed document is blocked, not warned.
    assert forbidding(flags, "document_missing") is forbidden


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        (frozenset({"concertation_authorisation", "participation_mandate"}), "information"),
        (frozenset({"concertation_authorisation"}), None),
    ],
    ids=["organised-and-mandated", "mandate-missing"],
)
def test_case_consultation_conditions_come_from_the_documents(documents, expected):
    concertation = card(
        "concertation",
        features=["concertation"],
        required_documents=["concertation_authorisation", "participation_mandate"],
    )

    flags = opinion([], [("address", concertation)], documents=documents)

    assert severities(flags, "concertation_scope") == ({expected} if expected else set())
    assert forbidding(flags, "document_missing") is (expected is None)


@pytest.mark.parametrize(
    ("channel", "code", "severity"),
    [
        ("post", "request_secret_from_person", "information"),
        ("post", "written_request_required", None),
        ("oral", "written_request_required", "blocking"),
    ],
)
def test_administrative_only_basis_conditions(channel, code, severity):
    basis = card("admin", features=["administrative_only"])

    flags = opinion([], [("address", basis)], channel=channel, requester_kind="public_prosecutor")

    assert severities(flags, code) == ({severity} if severity else set())
    assert severities(opinion([card()], [("address", card())]), code) == set()


@pytest.mark.parametrize(
    ("route", "items", "expected"),
    [(False, True, "blocking"), (True, True, None), (False, False, None)],
    ids=["no-route", "police-route", "refusal"],
)
def test_a_police_request_is_not_an_exception(route, items, expected):
    basis = card("b", features=["police_route"] if route else [])

    flags = opinion([basis], [("address", basis)] if items else [], requester_kind="police")

    assert severities(flags, "police_not_an_exception") == ({expected} if expected else set())


def test_a_basis_for_another_requester_blocks_only_when_it_grounds_an_item():
    for_bailiffs, for_all = card("bailiffs", requester_kinds=["bailiff"]), card("all")

    grounding = opinion([for_bailiffs], [("address", for_bailiffs)], requester_kind="landlord")
    cited_only = opinion(
        [for_bailiffs, for_all], [("address", for_all)], requester_kind="landlord"
    )

    assert severities(grounding, "basis_not_for_requester") == {"blocking"}
    assert severities(cited_only, "basis_not_for_requester") == {"warning"}


def test_a_version_not_in_force_on_the_decision_day_points_to_the_rule_in_force():
    old = LegalBasis.objects.create(
        code="renumbered",
        version=1,
        title_fr="Ancienne",
        citation="Ancienne",
        role="request_basis",
        effect="permits",
        in_force_until=date(2026, 4, 7),
    )
    new = LegalBasis.objects.create(
        code="renumbered",
        version=2,
        title_fr="Nouvelle",
        citation="Nouvelle",
        role="request_basis",
        effect="permits",
        in_force_from=date(2026, 4, 8),
    )

    before = opinion([old], today=date(2026, 4, 7))
    after = [f for f in opinion([old], today=date(2026, 4, 8)) if f.code == "basis_not_in_force"]

    assert severities(before, "basis_not_in_force") == set()
    assert len(after) == 1
    assert f"renumbered v{new.version}" in after[0].message
    assert severities(opinion([new], today=date(2026, 4, 8)), "basis_not_in_force") == set()


@pytest.mark.parametrize(
    ("received_on", "expected"),
    [
        (TODAY - timedelta(days=20), "warning"),
        (TODAY - timedelta(days=13), "warning"),
        (TODAY, None),
    ],
    ids=["passed", "near", "far"],
)
def test_a_deadline_the_law_sets_is_read_from_the_card(received_on, expected):
    basis = card("garnishee", statutory_deadline_days=15)

    flags = opinion([basis], received_on=received_on)

    assert severities(flags, "statutory_deadline") == ({expected} if expected else set())


def test_a_cited_provision_the_opinion_leaves_out_is_pointed_out():
    terrorism = card("terrorism", provision_keywords=["46bis/1"])
    other = card("other")
    values = {"cited_provision": "Art. 46BIS/1 CIC", "catalogue": [terrorism, other]}

    left_out = opinion([other], **values)
    examined = opinion([terrorism], **values)

    assert severities(left_out, "cited_provision_not_examined") == {"information"}
    assert severities(examined, "cited_provision_not_examined") == set()


@pytest.mark.parametrize(
    ("bound", "code", "severity"),
    [
        (False, "shared_secret_requester_not_bound", "blocking"),
        (True, "shared_secret_requester_not_bound", None),
        (True, "shared_secret_not_automatic", "warning"),
    ],
)
def test_shared_secrecy(bound, code, severity):
    shared = card("shared", features=["shared_secret"])

    flags = opinion([shared], requester_bound_by_secrecy=bound)

    assert severities(flags, code) == ({severity} if severity else set())


def test_a_justification_alone_is_weighed_after_the_fact():
    justification = card("j", effect="justification")

    assert severities(opinion([], [("address", justification)]), "justification_only") == {
        "warning"
    }
    assert severities(opinion([], [("address", card())]), "justification_only") == set()


@pytest.mark.parametrize(
    ("requester_deadline", "code", "severity"),
    [
        (TODAY + timedelta(days=2), "deadline_near", "warning"),
        (TODAY - timedelta(days=1), "deadline_passed", "warning"),
        (TODAY + timedelta(days=10), "deadline_near", None),
    ],
)
def test_requester_deadline(requester_deadline, code, severity):
    flags = opinion([card()], requester_deadline=requester_deadline)

    assert severities(flags, code) == ({severity} if severity else set())


def test_no_basis_chosen():
    assert severities(opinion([]), "no_basis_chosen") == {"blocking"}
    assert severities(opinion([card()]), "no_basis_chosen") == set()


def test_flags_come_blocking_first_and_cite_a_source_but_no_item_description():
    flags = opinion(
        [card("bailiffs", requester_kinds=["bailiff"])],
        [("health", card("c", role="initiative_only", allowed_data_categories=["aid"]))],
        requester_kind="police",
        requester_deadline=TODAY,
    )

    order = {"blocking": 0, "warning": 1, "information": 2}
    assert [order[f.severity] for f in flags] == sorted(order[f.severity] for f in flags)
    assert flags[0].severity == "blocking"
    for flag in flags:
        assert flag.source
        assert "(source : " in flag.message


# ---------------------------------------------------------------------------
# The shipped catalogue, on the cases the review named.


def in_force(code: str) -> LegalBasis:
    return LegalBasis.objects.in_force_on(TODAY).get(code=code)


@pytest.mark.parametrize(
    ("kind", "code", "category", "documents", "flag", "forbids"),
    [
        ("public_prosecutor", "cp-458bis", "address", (), "item_basis_cannot_ground", True),
        ("public_prosecutor", "cic-29", "address", (), "item_basis_cannot_ground", True),
        ("police", "necessity", "address", (), "item_basis_cannot_ground", True),
        ("landlord", "law-obliges-authorises", "address", (), "item_basis_cannot_ground", True),
        ("landlord", "consent", "address", (), "document_missing", True),
        ("landlord", "consent", "address", ("consent",), "document_missing", False),
        ("bailiff", "cj-tiers-saisi", "aid", ("garnishment_served",), "item_outside_basis", None),
        (
            "bailiff",
            "cj-tiers-saisi",
            "sums_owed",
            ("garnishment_served",),
            "item_outside_basis",
            False,
        ),
        (
            "public_prosecutor",
            "cic-46bis1",
            "health",
            ("prosecutor_decision",),
            "item_outside_basis",
            None,
        ),
        ("social_inspection", "cps-54", "address", (), "contested_basis", None),
        ("investigating_judge", "ji-search-seizure", "address", (), "document_missing", True),
    ],
)
def test_catalogue_cases(kind, code, category, documents, flag, forbids):
    basis = in_force(code)

    flags = opinion([], [(category, basis)], requester_kind=kind, documents=frozenset(documents))

    found = [f for f in flags if f.code == flag]
    if forbids is False:
        assert found == []
    else:
        assert found
        assert all(f.forbids for f in found) is bool(forbids)


def test_a_judge_order_on_file_for_an_address_raises_no_blocking_flag():
    basis = in_force("ji-search-seizure")

    flags = opinion([], [("address", basis)], documents=frozenset({"judge_order"}))

    assert [f.code for f in flags if f.is_blocking] == []
