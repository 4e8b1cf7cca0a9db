"""T-PDF-2 and T-PDF-6: every WeasyPrint entry point gets the project's
fetcher, and letter templates never put a value where CSS or URLs go."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import weasyprint
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SKIP = {".venv", "var", "node_modules", ".git", "migrations", "__pycache__"}
TEMPLATES = ROOT / "templates" / "pdf"


def _python_files() -> list[Path]:
    return [
        path for path in ROOT.rglob("*.py") if not SKIP.intersection(path.relative_to(ROOT).parts)
    ]


def _weasyprint_calls(tree: ast.AST) -> list[ast.Call]:
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = (
            func.id
            if isinstance(func, ast.Name)
            else (func.attr if isinstance(func, ast.Attribute) else "")
        )
        if name in {"HTML", "CSS", "Attachment"}:
            calls.append(node)
    return calls


def test_every_html_and_css_gets_the_project_fetcher():
    checked = 0
    offenders = []
    for path in _python_files():
        source = path.read_text()
        if "weasyprint" not in source:
            continue
        for call in _weasyprint_calls(ast.parse(source)):
            checked += 1
            fetcher = next((k for k in call.keywords if k.arg == "url_fetcher"), None)
            if fetcher is None or (
                isinstance(fetcher.value, ast.Constant) and fetcher.value.value is None
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert checked >= 1
    assert offenders == [], offenders


def test_no_url_reaches_write_pdf_options():
    offenders = []
    for path in _python_files():
        source = path.read_text()
        if "write_pdf" not in source:
            continue
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"write_pdf", "render"}
            ):
                for keyword in node.keywords:
                    if keyword.arg in {"stylesheets", "xmp_metadata", "attachments"}:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == [], offenders


def test_weasyprint_is_at_least_70_and_uses_harfbuzz_subsetting():
    major = int(weasyprint.__version__.split(".")[0])
    assert major >= 70
    from weasyprint.text import ffi

    assert ffi.harfbuzz_subset is not None, "install libharfbuzz-subset0"


def test_letter_fetcher_is_a_urlfetcher_that_refuses_redirects():
    from weasyprint.urls import URLFetcher

    from letters.rendering import LetterFetcher

    fetcher = LetterFetcher()
    assert isinstance(fetcher, URLFetcher)
    assert fetcher._allowed_protocols == ()
    assert not any(type(h).__name__ == "HTTPRedirectHandler" for h in fetcher.handlers)


# T-PDF-6 ------------------------------------------------------------------

TAG = re.compile(r"<[^>]+>", re.S)
VALUE = re.compile(r"\{\{|\{%")
COMMENT = re.compile(r"\{% comment %\}.*?\{% endcomment %\}", re.S)


def test_letter_templates_put_no_value_in_css_or_urls():
    templates = sorted(TEMPLATES.glob("*.html"))
    assert len(templates) >= 5
    for path in templates:
        source = COMMENT.sub("", path.read_text())
        where = path.name
        assert "<style" not in source.lower(), where
        assert "<title" not in source.lower(), where
        assert "<meta" not in source.lower(), where
        assert "url(" not in source.lower(), where
        for tag in TAG.findall(source):
            lowered = tag.lower()
            assert " style=" not in lowered, (where, tag)
            for attribute in re.findall(
                r"\b(href|src|srcset|data|action|poster)\s*=\s*(\"[^\"]*\"|'[^']*'|\S+)", tag, re.I
            ):
                assert not VALUE.search(attribute[1]), (where, tag)
                assert attribute[1].strip("\"'").startswith("huisclos:"), (where, tag)


def test_pdf_stylesheets_are_static():
    for path in (ROOT / "static" / "pdf").glob("*.css"):
        source = path.read_text()
        assert not VALUE.search(source), path.name
        for url in re.findall(r"url\(([^)]*)\)", source):
            assert url.strip("\"' ").startswith("huisclos:"), (path.name, url)
        assert "@import" not in source, path.name
