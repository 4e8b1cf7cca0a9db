"""The curated catalogue in fixtures/legal_basis.json."""

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from legal_basis.models import DataCategory, Effect, LegalBasis, RequesterKind, VerificationTag

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "legal_basis.json"

REQUIRED_CODES = [
    "cp-458",
    "tribunal-testimony",
    "parl-commission",
    "law-obliges-authorises",
    "cp-458bis",
    "cp-458ter",
    "l-2018-07-30-csilr",
    "cp-422bis",
    "necessity",
    "cic-29",
    "cic-46bis1",
    "cic-46bis-46quater",
    "police-request",
    "ji-search-seizure",
    "lo-cpas-36",
    "lo-cpas-50",
    "lo-cpas-37",
    "lo-cpas-60",
    "consent",
    "shared-secret",
    "control-authority",
    "cps-54",
    "bcss-l-1990-01-15",
    "cj-tiers-saisi",
    "gdpr",
    "new-cp-2024",
    "circ-wal-2022",
]

pytestmark = pytest.mark.django_db


def fixture_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return rows


def all_bases() -> list[LegalBasis]:
    return list(LegalBasis.objects.order_by("code"))


def test_fixture_has_no_primary_keys():
    assert all("pk" not in row for row in fixture_rows())
    assert {row["model"] for row in fixture_rows()} == {"legal_basis.legalbasis"}


def test_fixture_loads_twice_without_duplicates():
    before = LegalBasis.objects.count()

    call_command("loaddata", str(FIXTURE), verbosity=0)
    call_command("loaddata", str(FIXTURE), verbosity=0)

    assert LegalBasis.objects.count() == before == len(fixture_rows())
    assert LegalBasis.objects.current().count() == before


def test_every_required_code_is_present_once_and_current():
    codes = list(LegalBasis.objects.current().values_list("code", flat=True))

    assert sorted(set(REQUIRED_CODES) - set(codes)) == []
    assert len(codes) == len(set(codes))


def test_every_basis_is_version_one_and_current():
    assert {(b.version, b.is_current) for b in all_bases()} == {(1, True)}


@pytest.mark.parametrize("code", REQUIRED_CODES)
def test_basis_has_sources_and_checklist_unless_context(code):
    basis = LegalBasis.objects.current().get(code=code)

    if basis.effect != Effect.CONTEXT:
        assert len(basis.sources) >= 1
        assert len(basis.checklist) >= 1
    assert basis.title_fr
    assert basis.citation


def test_every_basis_has_at_least_one_web_source():
    for basis in all_bases():
        assert basis.sources, basis.code
        for source in basis.sources:
            assert set(source) == {"label", "url"}, basis.code
            assert source["label"].strip(), basis.code
            assert source["url"].startswith(("https://", "http://")), basis.code


def test_every_choice_used_is_valid():
    for basis in all_bases():
        assert basis.effect in Effect.values, basis.code
        assert set(basis.requester_kinds) <= set(RequesterKind.values), basis.code
        assert set(basis.allowed_data_categories) <= set(DataCategory.values), basis.code
        assert set(basis.excluded_data_categories) <= set(DataCategory.values), basis.code
        assert not set(basis.allowed_data_categories) & set(basis.excluded_data_categories)


def test_every_checklist_condition_and_fact_carries_a_valid_tag():
    for basis in all_bases():
        for entry in [*basis.checklist, *basis.facts]:
            assert set(entry) == {"text", "tag"}, basis.code
            assert entry["text"].strip(), basis.code
            assert entry["tag"] in VerificationTag.values, basis.code


def test_replacements_point_at_catalogue_codes():
    codes = set(LegalBasis.objects.values_list("code", flat=True))

    for basis in all_bases():
        if basis.replaced_by_code:
            assert basis.replaced_by_code in codes, basis.code
            assert basis.in_force_until is not None, basis.code


def test_validity_periods_are_ordered():
    for basis in all_bases():
        if basis.in_force_from and basis.in_force_until:
            assert basis.in_force_from <= basis.in_force_until, basis.code


@pytest.mark.parametrize(
    "code", ["cp-458", "cp-458bis", "cp-458ter", "cp-422bis", "tribunal-testimony"]
)
def test_old_penal_code_articles_are_replaced_pending_verification(code):
    basis = LegalBasis.objects.current().get(code=code)

    assert basis.replaced_by_code == "new-cp-2024"
    assert basis.replacement_to_verify
    assert basis.has_facts_to_verify()


def test_bases_the_procedure_tests_rely_on():
    judge = LegalBasis.objects.current().get(code="ji-search-seizure")
    police = LegalBasis.objects.current().get(code="police-request")

    assert judge.requester_kinds == ["investigating_judge"]
    assert judge.effect != Effect.CONTEXT
    assert police.effect == Effect.NOT_AN_EXCEPTION
    assert police.requester_kinds == ["police"]


def test_cic_46bis1_is_limited_to_administrative_data_for_the_prosecutor():
    basis = LegalBasis.objects.current().get(code="cic-46bis1")

    assert basis.requester_kinds == ["public_prosecutor"]
    assert "health" in basis.excluded_data_categories
    assert not basis.allows_category("health")
    assert not basis.allows_category("social_situation")
    assert basis.allows_category("address")


def test_reply_paragraphs_are_letter_ready():
    for basis in all_bases():
        for paragraph in [basis.reply_paragraph_accepted, basis.reply_paragraph_refused]:
            # They go verbatim into signed letters: no tags, no placeholders.
            assert "[" not in paragraph, basis.code
            assert "{" not in paragraph, basis.code
            assert paragraph == paragraph.strip(), basis.code
