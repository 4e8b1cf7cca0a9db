"""The forbidden imports are contracts that `lint-imports` enforces (make check,
make test). This test keeps the contracts themselves from quietly going away:
each arrow the design forbids must stay declared in pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

# (importer, imported): never.
FORBIDDEN = [
    ("requests_app.api", "requests_app.views"),
    ("requests_app.forms", "requests_app.services"),
    ("legal_basis", "requests_app"),
    *[("audit", app) for app in ("accounts", "legal_basis", "letters", "requests_app")],
    ("audit.chain", "django"),
    *[("accounts", app) for app in ("requests_app", "legal_basis", "letters")],
    *[
        ("letters", f"requests_app.{module}")
        for module in ("services", "views", "api", "forms", "access", "queries")
    ],
    *[
        ("requests_app.models", target)
        for target in ("requests_app.services", "letters", "requests_app.views")
    ],
    ("requests_app.permissions", "requests_app.services"),
    ("requests_app.access", "requests_app.services"),
]


def declared() -> set[tuple[str, str]]:
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    return {
        (source, target)
        for contract in config["contracts"]
        if contract["type"] == "forbidden"
        for source in contract["source_modules"]
        for target in contract["forbidden_modules"]
    }


@pytest.mark.parametrize(("importer", "imported"), FORBIDDEN)
def test_forbidden_import_is_a_declared_contract(importer, imported):
    assert (importer, imported) in declared()
