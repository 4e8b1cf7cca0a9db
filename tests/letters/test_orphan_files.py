"""A file written by a transaction that rolls back does not stay on disk, and
`sweep_orphan_files` finds (and with --delete removes) what no row references."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from audit import log
from audit.models import AuditEvent
from letters import services as letter_services
from letters.models import ReplyDocument
from requests_app import services
from requests_app.models import DisclosureRequest, Reply, State
from tests.conftest import Flow, intake, pdf_upload, reread


def stored_files() -> set[str]:
    root = Path(settings.PRIVATE_STORAGE_ROOT)
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def fail_on(action: str, monkeypatch) -> None:
    """Make the audit append of `action` fail: the last statement of the use case,
    so everything before it (the letter included) has been written."""
    real_append_many = log.append_many

    def append_many(events):
        if any(event["action"] == action for event in events):
            raise RuntimeError("disk full")
        return real_append_many(events)

    monkeypatch.setattr(log, "append_many", append_many)


@pytest.mark.django_db(transaction=True)
def test_an_approval_rolled_back_after_its_letter_was_written_leaves_no_file(
    personas, monkeypatch
):
    dr = Flow(personas).in_review()
    before = stored_files()
    events = AuditEvent.objects.count()
    written = []
    real_store = letter_services.create_reply_document

    def spy(reply):
        document = real_store(reply)
        written.append(document.file.name)
        return document

    monkeypatch.setattr(letter_services, "create_reply_document", spy)
    fail_on("approve", monkeypatch)

    with pytest.raises(RuntimeError):
        services.approve(reread(dr), actor=personas["dg"])

    assert len(written) == 1  # the letter was rendered and stored before the failure
    assert stored_files() == before
    assert reread(dr).state == State.AWAITING_REVIEW
    assert not Reply.objects.filter(request=dr).exists()
    assert not ReplyDocument.objects.exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db(transaction=True)
def test_an_intake_rolled_back_after_its_scan_was_stored_leaves_no_file(personas, monkeypatch):
    before = stored_files()
    fail_on("register_request", monkeypatch)

    with pytest.raises(RuntimeError):
        services.register_request(
            intake(),
            actor=personas["secretariat"],
            scan=pdf_upload(),
            scan_content_type="application/pdf",
        )

    assert stored_files() == before
    assert not DisclosureRequest.objects.exists()


def test_a_rollback_decided_by_an_outer_transaction_removes_the_file_at_its_commit(
    flow, personas, monkeypatch, django_capture_on_commit_callbacks
):
    # Inside an outer transaction (here, the test's), the use case's own block
    # is a savepoint: the file goes when the outer transaction commits.
    dr = flow.in_review()
    before = stored_files()
    fail_on("approve", monkeypatch)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.approve(reread(dr), actor=personas["dg"])

    assert stored_files() == before


def test_a_committed_letter_stays(flow, personas, django_capture_on_commit_callbacks):
    dr = flow.in_review()
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(reread(dr), actor=personas["dg"])

    name = ReplyDocument.objects.get(reply__request=dr).file.name
    assert name in stored_files()


def age(name: str, minutes: int) -> None:
    path = Path(settings.PRIVATE_STORAGE_ROOT) / name
    then = time.time() - minutes * 60
    os.utime(path, (then, then))


def sweep(*args: str) -> str:
    out = io.StringIO()
    call_command("sweep_orphan_files", *args, stdout=out)
    return out.getvalue()


def test_sweep_lists_orphans_by_default_and_removes_them_only_with_delete(flow):
    dr = flow.signed()
    root = Path(settings.PRIVATE_STORAGE_ROOT)
    kept = {str(reread(dr).scan.name), str(ReplyDocument.objects.get(reply__request=dr).file.name)}
    (root / "replies").mkdir(parents=True, exist_ok=True)
    (root / "replies" / "orphan.pdf").write_bytes(b"%PDF-1.7 orphan")
    (root / "scans" / "young").write_bytes(b"just written")
    for name in [*kept, "replies/orphan.pdf"]:
        age(name, 120)

    listed = sweep()

    assert "orphan replies/orphan.pdf" in listed
    assert "scans/young" not in listed  # younger than the limit: maybe in flight
    assert not any(name in listed for name in kept)
    assert "1 orphan file(s) found" in listed
    assert (root / "replies" / "orphan.pdf").exists()  # a dry run removes nothing

    removed = sweep("--delete")

    assert "removed replies/orphan.pdf" in removed
    assert not (root / "replies" / "orphan.pdf").exists()
    assert (root / "scans" / "young").exists()
    assert kept <= stored_files()


def test_sweep_min_age_zero_takes_fresh_orphans_too(flow):
    dr = flow.received()
    root = Path(settings.PRIVATE_STORAGE_ROOT)
    (root / "scans" / "fresh").write_bytes(b"orphan")

    out = sweep("--delete", "--min-age-minutes", "0")

    assert "removed scans/fresh" in out
    assert "1 orphan file(s) removed" in out
    assert str(reread(dr).scan.name) in stored_files()


def test_sweep_with_no_storage_directory_finds_nothing(db):
    assert not Path(settings.PRIVATE_STORAGE_ROOT).exists()

    assert "0 orphan file(s)" in sweep()
