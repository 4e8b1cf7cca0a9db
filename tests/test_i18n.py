"""Issue 6: every text of the interface goes through Django's i18n.

English source strings, a French catalogue that translates all of them, the
compiled catalogue in step with it, and no French left as literal text in the
templates. Another language needs a catalogue and a LANGUAGES entry, no code.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "fr" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
SOURCES = [
    "accounts",
    "audit",
    "common",
    "config",
    "dpo",
    "legal_basis",
    "letters",
    "requests_app",
    "templates",
]


def msgids(po: Path) -> set[tuple[str, str]]:
    """(context, msgid) of every active entry; the header is left out."""
    entries: set[tuple[str, str]] = set()
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        keyword = ""
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            match = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr\S*) "(.*)"$', line)
            if match:
                keyword = match.group(1)
                fields[keyword] = match.group(2)
            elif line.startswith('"') and keyword:
                fields[keyword] += line[1:-1]
        if fields.get("msgid"):
            entries.add((fields.get("msgctxt", ""), fields["msgid"]))
    return entries


def test_the_french_catalogue_translates_everything():
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(PO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr, result.stderr
    assert "fuzzy" not in result.stderr, result.stderr
    assert int(result.stderr.split()[0]) > 300


def test_the_compiled_catalogue_is_in_step_with_the_source(tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(PO)], check=True)
    assert MO.exists(), "run `make setup`: it compiles the catalogue"
    assert MO.read_bytes() == compiled.read_bytes()


def test_every_string_of_the_code_is_in_the_catalogue(tmp_path, settings):
    # makemessages works in place: run it on a copy of the sources.
    for name in SOURCES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("*.pyc"))
    (tmp_path / "locale").mkdir()
    settings.LOCALE_PATHS = [str(tmp_path / "locale")]
    here = Path.cwd()
    os.chdir(tmp_path)
    try:
        call_command("makemessages", locale=["fr"], verbosity=0, no_location=True)
    finally:
        os.chdir(here)
    extracted = msgids(tmp_path / "locale" / "fr" / "LC_MESSAGES" / "django.po")

    missing = extracted - msgids(PO)
    stale = msgids(PO) - extracted
    assert not missing, f"strings missing from the catalogue: {sorted(missing)[:20]}"
    assert not stale, f"catalogue entries no code uses: {sorted(stale)[:20]}"


# Words that may stay literal in a template: the product's name, units and
# abbreviations that read the same in every language, and what sits in
# `<script>`-free data attributes or code.
LITERAL_WORDS = {"Huis", "clos", "PDF", "SHA", "UTC", "JSONL", "CSV", "Ed25519"}


def literal_text(template: str) -> list[str]:
    text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", " ", template, flags=re.S)
    text = re.sub(r"{#.*?#}", " ", text, flags=re.S)
    text = re.sub(r"{%\s*blocktranslate\b.*?{%\s*endblocktranslate\s*%}", " ", text, flags=re.S)
    text = re.sub(r"{%.*?%}|{{.*?}}", " ", text, flags=re.S)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text, flags=re.S)
    text = re.sub(r"&[a-z]+;|&#\d+;", " ", text)
    words = re.findall(r"[^\W\d_]{2,}", text)
    return [w for w in words if w not in LITERAL_WORDS]


@pytest.mark.parametrize(
    "path",
    sorted([*(ROOT / "templates").rglob("*.html"), *ROOT.glob("*/templates/**/*.html")]),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_templates_have_no_literal_text(path):
    assert literal_text(path.read_text(encoding="utf-8")) == []


def test_literal_text_finder_finds_french():
    assert literal_text("<p>Bonjour {{ name }}</p>") == ["Bonjour"]
    assert literal_text('<p>{% translate "Hello" %}</p>') == []


@pytest.mark.django_db
def test_another_language_needs_no_code(client, settings, personas):
    """With English added to LANGUAGES, the same pages speak English."""
    settings.LANGUAGES = [("fr", "Français"), ("en", "English")]
    client.force_login(personas["president"])

    english = client.get(reverse("requests_app:home"), headers={"accept-language": "en"})
    french = client.get(reverse("requests_app:home"), headers={"accept-language": "fr-BE"})

    assert "To assign" in english.content.decode()
    assert "À attribuer" not in english.content.decode()
    assert "À attribuer" in french.content.decode()
    assert 'lang="fr-BE"' in french.content.decode()


def test_french_is_the_default():
    with translation.override("fr-be"):
        assert translation.gettext("Register") == "Registre"
