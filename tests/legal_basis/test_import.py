"""`manage.py import_legal_bases`: preview, apply, idempotence, audit events."""

from __future__ import annotations

import copy
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit import log
from audit.models import AuditEvent
from legal_basis import releases
from legal_basis.models import LegalBasis, LegalBasisRelease

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 28)


def shipped_release() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(releases.shipped_releases()[-1].read_text("utf-8"))
    return data


def next_release() -> dict[str, Any]:
    """The shipped release with one card added, one changed and one retired."""
    data = shipped_release()
    data["release"] = "2027.1"
    data["notes"] = "Exercice : ajout, modification, retrait."
    cards = data["cards"]
    added = copy.deepcopy(next(c for c in cards if c["code"] == "consent"))
    added["code"] = "test-new-card"
    added["title_fr"] = "Fiche ajoutée par la publication d'essai"
    cards.append(added)
    changed = next(c for c in cards if c["code"] == "ji-search-seizure")
    changed["title_fr"] = "Perquisition et saisie (titre revu)"
    data["cards"] = [c for c in cards if c["code"] != "control-authority"]
    return data


def write(tmp_path: Path, data: dict[str, Any], name: str = "release.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def run(*args: str, answer: str | None = None, monkeypatch=None) -> str:
    if answer is not None:
        monkeypatch.setattr("builtins.input", lambda prompt: answer)
    out = io.StringIO()
    call_command("import_legal_bases", *args, stdout=out)
    return out.getvalue()


def release_label() -> str:
    release = releases.release_in_force()
    assert release is not None
    return release.label


def snapshot() -> tuple[int, int, int]:
    return (
        LegalBasis.objects.count(),
        LegalBasisRelease.objects.count(),
        AuditEvent.objects.count(),
    )


def test_the_shipped_releases_are_in_the_world():
    assert release_label() == shipped_release()["release"]
    assert LegalBasis.objects.in_force_on(TODAY).filter(code="cp-458").count() == 1


def test_preview_lists_new_changed_and_retired_and_changes_nothing(tmp_path):
    before = snapshot()

    out = run(str(write(tmp_path, next_release())), "--dry-run")

    assert "new      test-new-card" in out
    assert "changed  ji-search-seizure" in out
    assert "title_fr" in out
    assert "retired  control-authority" in out
    assert snapshot() == before


def test_declining_at_the_prompt_applies_nothing(tmp_path, monkeypatch):
    before = snapshot()

    out = run(str(write(tmp_path, next_release())), answer="n", monkeypatch=monkeypatch)

    assert "Nothing applied" in out
    assert snapshot() == before


def test_apply_creates_versions_and_one_audit_event_per_change(tmp_path, flow):
    dr = flow.in_review()
    cited = dr.opinions.get().legal_bases.get(code="ji-search-seizure")
    last_event = AuditEvent.objects.order_by("-seq").first()
    assert last_event is not None

    out = run(str(write(tmp_path, next_release())), "--yes")

    assert "1 new, 1 changed, 1 retired" in out
    new = LegalBasis.objects.current().get(code="test-new-card")
    assert new.version == 1
    assert new.release is not None
    assert new.release.label == "2027.1"
    revised = LegalBasis.objects.in_force_on(TODAY).get(code="ji-search-seizure")
    assert revised.version == cited.version + 1
    assert revised.title_fr == "Perquisition et saisie (titre revu)"
    # The opinion keeps the exact text it relied on.
    cited.refresh_from_db()
    assert not cited.is_current
    assert dr.opinions.get().legal_bases.get().pk == cited.pk
    assert not LegalBasis.objects.current().filter(code="control-authority").exists()
    assert LegalBasis.objects.filter(code="control-authority").exists()
    events = list(AuditEvent.objects.filter(seq__gt=last_event.seq).order_by("seq"))
    assert [e.action for e in events] == [
        "legal_basis_retire",
        "legal_basis_new_version",
        "legal_basis_create",
        "legal_basis_release_apply",
    ]
    assert events[1].details["fields"] == ["title_fr"]
    assert events[1].details["previous_id"] == cited.pk
    assert events[-1].details == {
        "release": "2027.1",
        "sha256": releases.parse(write(tmp_path, next_release()).read_bytes()).sha256,
        "new": 1,
        "changed": 1,
        "retired": 1,
    }
    # Ids, codes and field names only: no text of the card in the trail.
    assert "titre revu" not in json.dumps([e.details for e in events])
    assert log.verify_chain() is None
    assert release_label() == "2027.1"


def test_a_second_apply_of_the_same_file_changes_nothing(tmp_path):
    path = write(tmp_path, next_release())
    run(str(path), "--yes")
    before = snapshot()

    out = run(str(path), "--yes")

    assert "already applied" in out
    assert snapshot() == before


def test_the_same_label_with_other_content_is_refused(tmp_path):
    run(str(write(tmp_path, next_release())), "--yes")
    altered = next_release()
    altered["notes"] = "Autre contenu sous la même étiquette."
    before = snapshot()

    with pytest.raises(CommandError, match="already applied with different content"):
        run(str(write(tmp_path, altered, "altered.json")), "--yes")

    assert snapshot() == before


def _broken(change) -> dict[str, Any]:
    data = next_release()
    change(data)
    return data


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (_broken(lambda d: d["cards"][0].update(role="ground")), "role must be one of"),
        (_broken(lambda d: d["cards"][0].pop("letter_citation")), "missing keys"),
        (_broken(lambda d: d["cards"][0].update(surprise=1)), "unknown keys"),
        (
            _broken(lambda d: d["cards"].append(copy.deepcopy(d["cards"][0]))),
            "validity periods overlap",
        ),
        (
            _broken(
                lambda d: d["cards"][0].update(
                    sources=[{"label": "blog", "url": "https://x.be", "official": False}]
                )
            ),
            "secondary source needs a note",
        ),
        (
            _broken(lambda d: d["cards"][0].update(requester_kinds=["martians"])),
            "unknown values",
        ),
        (_broken(lambda d: d.update(format=2)), "format must be 1"),
        (
            _broken(lambda d: d["cards"][0].update(in_force_until="2026-13-01")),
            "not an ISO date",
        ),
    ],
)
def test_an_invalid_release_is_refused_and_changes_nothing(tmp_path, data, problem):
    before = snapshot()

    with pytest.raises(CommandError, match=problem):
        run(str(write(tmp_path, data)), "--yes")

    assert snapshot() == before


def test_a_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "release.json"
    path.write_bytes(b"\xff not json")

    with pytest.raises(CommandError, match="not a JSON file"):
        run(str(path), "--dry-run")


def test_the_actor_is_recorded_when_named(tmp_path, personas):
    run(str(write(tmp_path, next_release())), "--yes", "--actor", personas["dg"].username)

    event = AuditEvent.objects.filter(action="legal_basis_release_apply").latest("seq")
    assert event.actor_id == personas["dg"].pk
