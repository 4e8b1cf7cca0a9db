"""The shipped catalogue release: shape, roles the review settled, sources."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlparse

import pytest

from legal_basis import releases
from legal_basis.models import BasisRole, Effect, Feature, LegalBasis

pytestmark = pytest.mark.django_db

NEW_CODE_DAY = date(2026, 4, 8)
LAST_OLD_CODE_DAY = date(2026, 4, 7)

# Rules of the old Penal Code carried into the Code of 29 February 2024, whose
# new numbers are not verified: one period each side of the switch.
PENAL_CODE_RULES = [
    "cp-458",
    "tribunal-testimony",
    "parl-commission",
    "law-obliges-authorises",
    "cp-458bis",
    "cp-458ter",
    "cp-422bis",
]

# Where a source is hosted decides whether it may be called official: the
# legislator, the courts, the administrations, the parliaments, the EU.
OFFICIAL_DOMAINS = {
    "ejustice.just.fgov.be",
    "justice.belgium.be",
    "news.belgium.be",
    "finances.belgium.be",
    "wallex.wallonie.be",
    "const-court.be",
    "eur-lex.europa.eu",
    "parlement-wallonie.be",
    "senate.be",
    "lachambre.be",
    "dekamer.be",
    "om-mp.be",
    "bcss.fgov.be",
    "ksz-bcss.fgov.be",
    "ibz.rrn.fgov.be",
    "mi-is.be",
}
# Secondary sources: kept only when the card says so and what to verify.
NON_OFFICIAL_DOMAINS = {
    "uvcw.be",
    "brulocalis.brussels",
    "bdas-wwsb.brussels",
    "pro.guidesocial.be",
    "guidesocial.be",
    "e2.law",
    "etaamb.openjustice.be",
    "etaamb.be",
    "refli.be",
    "belgianlawreligion.unblog.fr",
    "legalworld.wolterskluwer.be",
    "jlmbi.larciergroup.com",
    "psychologencommissie.be",
    "commissionpsychologues.be",
    "elfri.be",
    "legalparcmons.be",
    "justice-en-ligne.be",
    "cautius.be",
    "sos-ecole.be",
    "users.myonline.be",
    "changementsocial.net",
    "cpasconnect.be",
    "vvsg.be",
    "profondeville.be",
    "nawalbenhamou.be",
    "21news.be",
    "rtbf.be",
    "rtl.be",
    "rw.be",
    "tvl.be",
    "knack.be",
    "123dok.net",
    "fdocuments.fr",
}
# Never a source, not even a secondary one: encyclopaedias anyone edits,
# political parties, slide and document-sharing sites.
BANNED_DOMAINS = {
    "wikipedia.org",
    "mr.be",
    "ecolo.be",
    "ps.be",
    "lesengages.be",
    "ptb.be",
    "n-va.be",
    "slideplayer.fr",
    "slideplayer.com",
    "docplayer.fr",
    "docplayer.nl",
    "pdfslide.net",
    "dokumen.tips",
}


def _on(host: str, domains: set[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def shipped() -> list[dict[str, Any]]:
    return releases.parse(releases.shipped_releases()[-1].read_bytes()).cards


def sources() -> list[tuple[str, dict[str, Any]]]:
    return [(card["code"], s) for card in shipped() for s in card["sources"]]


def test_every_shipped_release_parses_and_the_last_one_is_the_newest_label():
    labels = [releases.parse(p.read_bytes()).label for p in releases.shipped_releases()]
    assert labels == sorted(labels)
    assert len(set(labels)) == len(labels)


def source_problems(source: dict[str, Any]) -> list[str]:
    host = urlparse(source.get("url", "")).hostname or ""
    problems = []
    if _on(host, BANNED_DOMAINS):
        problems.append(f"{host} may not be cited")
    if _on(host, NON_OFFICIAL_DOMAINS) and (
        source["official"] or not source.get("note", "").strip()
    ):
        problems.append(f"{host} is secondary: tag it official false and say what to verify")
    if source["official"] and not _on(host, OFFICIAL_DOMAINS):
        problems.append(f"{host} is not on the list of official domains")
    return problems


@pytest.mark.parametrize(
    ("code", "source"), sources(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_source_on_a_non_official_domain_is_tagged_secondary_with_a_note(code, source):
    assert source_problems(source) == [], code


@pytest.mark.parametrize(
    "source",
    [
        {"label": "x", "url": "https://www.uvcw.be/x", "official": True, "note": ""},
        {"label": "x", "url": "https://www.uvcw.be/x", "official": False, "note": " "},
        {"label": "x", "url": "https://fr.wikipedia.org/x", "official": False, "note": "n"},
        {"label": "x", "url": "https://example.org/x", "official": True, "note": ""},
    ],
)
def test_the_source_check_catches_an_untagged_or_banned_source(source):
    assert source_problems(source)


def test_the_source_check_accepts_a_tagged_secondary_and_an_official_source():
    assert not source_problems(
        {"label": "x", "url": "https://www.uvcw.be/x", "official": False, "note": "à vérifier"}
    )
    assert not source_problems(
        {"label": "x", "url": "https://www.ejustice.just.fgov.be/eli", "official": True}
    )


def test_every_card_cites_at_least_one_official_source_or_says_why_not():
    for card in shipped():
        official = [s for s in card["sources"] if s["official"]]
        secondary_notes = [s["note"] for s in card["sources"] if not s["official"]]
        assert official or secondary_notes, card["code"]


def in_force(code: str, day: date) -> LegalBasis:
    return LegalBasis.objects.in_force_on(day).get(code=code)


@pytest.mark.parametrize("code", PENAL_CODE_RULES)
def test_penal_code_rules_have_a_period_each_side_of_the_new_code(code):
    old, new = in_force(code, LAST_OLD_CODE_DAY), in_force(code, NEW_CODE_DAY)
    assert old.pk != new.pk
    assert old.in_force_until == LAST_OLD_CODE_DAY
    assert new.in_force_from == NEW_CODE_DAY
    assert new.in_force_until is None
    # The new number is not verified: the letter cites the old article as
    # carried into the new Code, and staff see what to verify.
    assert "ancien Code pénal" in new.letter_citation
    assert "29 février 2024" in new.letter_citation
    assert new.has_facts_to_verify()


def test_the_secrecy_rule_is_in_force_on_both_sides_of_the_switch():
    for day in (LAST_OLD_CODE_DAY, NEW_CODE_DAY, date(2026, 11, 28)):
        rule = LegalBasis.objects.with_feature(Feature.SECRECY_RULE, day)
        assert len(rule) == 3, day
        assert all(b.letter_citation for b in rule)


@pytest.mark.parametrize(
    ("code", "role", "effect"),
    [
        ("cp-458bis", BasisRole.INITIATIVE_ONLY, None),
        ("cp-422bis", BasisRole.INITIATIVE_ONLY, None),
        ("cic-29", BasisRole.INITIATIVE_ONLY, Effect.CONTESTED),
        ("necessity", BasisRole.INITIATIVE_ONLY, None),
        ("law-obliges-authorises", BasisRole.GATEWAY, None),
        ("bcss-l-1990-01-15", BasisRole.GATEWAY, None),
        ("cps-54", BasisRole.REQUEST_BASIS, Effect.CONTESTED),
        ("circ-wal-2022", BasisRole.CONTEXT, None),
        ("gdpr", BasisRole.CONTEXT, None),
        ("cic-46bis1", BasisRole.REQUEST_BASIS, None),
    ],
)
def test_roles_and_effects_the_review_settled(code, role, effect):
    basis = in_force(code, date(2026, 11, 28))
    assert basis.role == role
    if effect:
        assert basis.effect == effect


@pytest.mark.parametrize("code", ["cp-458bis", "cic-29"])
def test_reports_on_own_initiative_are_not_offered_to_the_prosecutor(code):
    assert "public_prosecutor" not in in_force(code, date(2026, 11, 28)).requester_kinds


def test_letters_never_cite_a_circular_or_a_judgment():
    for basis in LegalBasis.objects.current():
        citation = basis.letter_citation.lower()
        assert "circulaire" not in citation, basis.code
        assert "cass." not in citation, basis.code


def test_context_cards_are_never_printed_except_the_secrecy_rule():
    for basis in LegalBasis.objects.current().filter(role=BasisRole.CONTEXT):
        if not basis.has_feature(Feature.SECRECY_RULE):
            assert basis.letter_citation == "", basis.code


def test_garnishee_declaration_allows_only_sums_owed_within_its_deadline():
    basis = in_force("cj-tiers-saisi", date(2026, 11, 28))
    assert basis.allowed_data_categories == ["sums_owed"]
    assert basis.statutory_deadline_days == 15


def test_46bis1_is_limited_to_the_administrative_situation():
    basis = in_force("cic-46bis1", date(2026, 11, 28))
    assert set(basis.allowed_data_categories) == {"identification", "address", "household", "aid"}
    assert "health" in basis.excluded_data_categories
    assert basis.required_documents == ["prosecutor_decision"]


@pytest.mark.parametrize(
    ("kind", "codes"),
    [
        ("tax_administration", {"cir-327"}),
        ("debt_mediator", {"cj-1675-8"}),
        ("labour_prosecutor", {"tribunal-testimony"}),
        ("court", {"cj-877"}),
    ],
)
def test_requesters_the_review_found_missing_have_a_request_basis(kind, codes):
    offered = {
        b.code
        for b in LegalBasis.objects.in_force_on(date(2026, 11, 28))
        if b.role == BasisRole.REQUEST_BASIS and b.applies_to(kind)
    }
    assert codes <= offered


def test_text_printed_in_letters_carries_no_verification_tag():
    printed = ("letter_citation", "reply_paragraph_accepted", "reply_paragraph_refused")
    for basis in LegalBasis.objects.current():
        for name in (*printed, "route_paragraph"):
            text = getattr(basis, name)
            assert not re.search(r"\[[FIKV]\]", text), (basis.code, name)
