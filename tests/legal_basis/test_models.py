from datetime import date

import pytest

from legal_basis.models import LegalBasis


def make(**fields) -> LegalBasis:
    return LegalBasis(code="x", title_fr="X", citation="X", effect="permits", **fields)


@pytest.mark.parametrize(
    ("in_force_from", "in_force_until", "day", "expected"),
    [
        (None, None, date(1990, 1, 1), True),
        (date(2017, 9, 1), None, date(2017, 8, 31), False),
        (date(2017, 9, 1), None, date(2017, 9, 1), True),
        (None, date(2026, 4, 7), date(2026, 4, 7), True),
        (None, date(2026, 4, 7), date(2026, 4, 8), False),
        (date(2020, 1, 1), date(2020, 12, 31), date(2020, 6, 1), True),
        (date(2020, 1, 1), date(2020, 12, 31), date(2021, 1, 1), False),
    ],
)
def test_is_in_force_on(in_force_from, in_force_until, day, expected):
    basis = make(in_force_from=in_force_from, in_force_until=in_force_until)

    assert basis.is_in_force_on(day) is expected


@pytest.mark.parametrize(
    ("requester_kinds", "kind", "expected"),
    [
        ([], "police", True),
        ([], "landlord", True),
        (["investigating_judge"], "investigating_judge", True),
        (["investigating_judge"], "police", False),
        (["csilr", "public_prosecutor"], "public_prosecutor", True),
        (["csilr", "public_prosecutor"], "municipality", False),
    ],
)
def test_applies_to(requester_kinds, kind, expected):
    assert make(requester_kinds=requester_kinds).applies_to(kind) is expected


@pytest.mark.parametrize(
    ("allowed", "excluded", "category", "expected"),
    [
        ([], [], "health", True),
        ([], ["health"], "health", False),
        ([], ["health"], "address", True),
        (["aid"], [], "aid", True),
        (["aid"], [], "address", False),
        (["address", "health"], ["health"], "health", False),
    ],
)
def test_allows_category(allowed, excluded, category, expected):
    basis = make(allowed_data_categories=allowed, excluded_data_categories=excluded)

    assert basis.allows_category(category) is expected


@pytest.mark.parametrize(
    ("facts", "replacement_to_verify", "expected"),
    [
        ([], False, False),
        ([{"text": "a", "tag": "F"}, {"text": "b", "tag": "I"}], False, False),
        ([{"text": "a", "tag": "V"}], False, True),
        ([], True, True),
    ],
)
def test_has_facts_to_verify(facts, replacement_to_verify, expected):
    basis = make(facts=facts, replacement_to_verify=replacement_to_verify)

    assert basis.has_facts_to_verify() is expected
