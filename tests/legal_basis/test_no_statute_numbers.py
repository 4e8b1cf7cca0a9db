"""The law is data: no statute number outside the catalogue's release files.

Templates, the strings of the Python code and the translation catalogue must
not name an article: what a page or a letter prints as law comes from the
catalogue version in force on the relevant date.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ["accounts", "audit", "common", "config", "legal_basis", "letters", "requests_app"]

STATUTE_NUMBER = re.compile(
    r"""(?ix)
    \bart(?:icle)?s?\.?\s*\d              # art. 458, article 36, arts. 36 et 50
    | \b\d+\s?(?:bis|ter|quater|quinquies)\b   # 458bis, 46bis/1, 422 bis
    | \b(?:458|422|1452|1675)\b           # numbers of the rules the app is about
    | \b(?:cp|cic|cj|cps|cir|lo-cpas)-\d  # catalogue codes that carry a number
    """
)


def python_strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def python_files() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    )


def template_files() -> list[Path]:
    return sorted(p for p in (ROOT / "templates").rglob("*") if p.is_file())


def po_entries() -> list[tuple[int, str]]:
    po = ROOT / "locale" / "fr" / "LC_MESSAGES" / "django.po"
    return [
        (number, line)
        for number, line in enumerate(po.read_text(encoding="utf-8").splitlines(), 1)
        if not line.startswith("#")
    ]


def findings(lines: list[tuple[int, str]]) -> list[str]:
    return [
        f"line {number}: {match.group(0)!r}"
        for number, text in lines
        for match in STATUTE_NUMBER.finditer(text)
    ]


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_statute_number_in_python_strings(path):
    assert findings(python_strings(path)) == []


@pytest.mark.parametrize("path", template_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_statute_number_in_templates(path):
    lines = list(enumerate(path.read_text(encoding="utf-8").splitlines(), 1))
    assert findings(lines) == []


def test_no_statute_number_in_the_translation_catalogue():
    assert findings(po_entries()) == []


@pytest.mark.parametrize(
    "text",
    [
        "article 458 du Code pénal",
        "art. 36 et 50 de la loi organique",
        "Art.87 CIC",
        "une décision 46bis/1",
        "l'article 458ter",
        "entry cp-458",
        "la fiche lo-cpas-36",
        "articles 1675/8",
    ],
)
def test_the_pattern_catches_statute_numbers(text):
    assert STATUTE_NUMBER.search(text)


@pytest.mark.parametrize(
    "text",
    [
        "Circulaire wallonne du 2 juin 2022",
        "%(day)s/%(month)s/%(year)s",
        "version 3",
        "SP-2026-0001",
    ],
)
def test_the_pattern_lets_dates_and_references_through(text):
    assert not STATUTE_NUMBER.search(text)
