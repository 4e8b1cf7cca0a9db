"""T-PDF-3: every PDF is rendered in a child process with a time and a memory
limit. A pathological document costs an error, never the web worker, and a
letter that cannot be rendered leaves no decision behind."""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import pytest
from django.conf import settings

from audit.models import AuditEvent
from letters.models import ReplyDocument
from letters.rendering import LetterRenderingError, render_html, run_limited
from requests_app import services
from requests_app.models import Reply, State
from tests.conftest import reread

MIB = 1024 * 1024
# About 340 MiB and 15 s to render on the reference machine (20,000 paragraphs).
HEAVY = "<p>Paragraphe de remplissage.</p>" * 20_000


def children() -> list[int]:
    """This process's child processes, zombies included."""
    mine = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(stat[1]) == mine:
                found.append(int(entry.name))
    return found


@pytest.fixture(autouse=True)
def no_renderer_left_behind():
    """Every test here ends with no child process of this one that it started
    (others, like the browser tests' Playwright driver, may already run)."""
    before = set(children())
    yield
    assert set(children()) <= before


def resident() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_the_limits_default_to_30_seconds_and_512_mib():
    assert settings.HUISCLOS_RENDER_TIMEOUT_SECONDS == 30
    assert settings.HUISCLOS_RENDER_MAX_MEMORY_BYTES == 512 * MIB


def test_a_rendering_past_the_time_limit_is_stopped(settings):
    settings.HUISCLOS_RENDER_TIMEOUT_SECONDS = 1
    started = time.monotonic()

    with pytest.raises(LetterRenderingError, match="stopped after 1 s"):
        render_html(HEAVY)

    assert time.monotonic() - started < 8  # killed, not left to finish


def test_a_rendering_past_the_memory_limit_is_stopped(settings):
    settings.HUISCLOS_RENDER_MAX_MEMORY_BYTES = 64 * MIB

    with pytest.raises(LetterRenderingError, match="memory limit"):
        render_html(HEAVY)


@pytest.mark.parametrize(
    "html",
    [
        "<div>" * 10_000 + "profond" + "</div>" * 10_000,
        "<style>p { font-size: 1e9px; width: 1e12px; margin: 1e12px; letter-spacing: 1e9px }"
        "</style><p>énorme</p>",
        "<style>@page { size: 1e7px 1e7px }</style><p>page immense</p>",
        '<div style="column-count: 100000">colonnes</div>',
        '<img src="file:///dev/urandom"><link rel="stylesheet" href="file:///dev/zero">',
        "<p>" + "x" * 2_000_000 + "</p>",
    ],
    ids=["nested-10k", "huge-css", "huge-page", "columns", "dev-urandom", "two-megabyte-word"],
)
def test_pathological_documents_end_within_the_limits(html):
    started = time.monotonic()
    try:
        pdf = render_html(html)
    except LetterRenderingError:
        pass
    else:
        assert pdf.startswith(b"%PDF-")
    assert time.monotonic() - started < settings.HUISCLOS_RENDER_TIMEOUT_SECONDS + 5


def test_the_worker_keeps_its_memory_and_renders_again(settings):
    settings.HUISCLOS_RENDER_TIMEOUT_SECONDS = 1
    with pytest.raises(LetterRenderingError):
        render_html(HEAVY)
    settings.HUISCLOS_RENDER_TIMEOUT_SECONDS = 30
    before = resident()

    pdf = render_html("<p>Paragraphe de remplissage.</p>" * 1000)

    assert pdf.startswith(b"%PDF-")
    # The document's memory was the child's: this process hardly grew.
    assert resident() - before < 32 * MIB


def test_a_letter_that_cannot_be_rendered_leaves_no_decision(flow, personas, settings):
    dr = flow.in_review()
    last = AuditEvent.objects.order_by("-seq").first()
    assert last is not None
    settings.HUISCLOS_RENDER_TIMEOUT_SECONDS = 0  # every rendering stopped at once

    with pytest.raises(services.ActionRefused) as refused:
        services.approve(dr, actor=personas["dg"])

    assert refused.value.cause == "letter_rendering_failed"
    assert reread(dr).state == State.AWAITING_REVIEW
    assert not Reply.objects.filter(request=dr).exists()
    assert not ReplyDocument.objects.exists()
    new = list(AuditEvent.objects.filter(seq__gt=last.seq))
    assert [(e.action, e.details.get("cause")) for e in new] == [
        ("refused", "letter_rendering_failed")
    ]


def test_the_renderer_never_runs_the_finalizers_of_what_it_inherited(tmp_path):
    marks = tmp_path / "finalized"

    class Trap:
        cycle: object

        def __del__(self) -> None:
            with open(marks, "a") as out:
                out.write(f"{os.getpid()}\n")

    gc.disable()
    try:
        trap = Trap()
        trap.cycle = trap  # garbage only a collection can free
        del trap
        pdf = run_limited(lambda: (gc.collect(), b"%PDF-")[1], timeout=30, max_memory=64 * MIB)
        assert pdf == b"%PDF-"
        assert not marks.exists()  # the child's collection left it alone
    finally:
        gc.enable()
    gc.collect()
    assert marks.read_text().split() == [str(os.getpid())]
