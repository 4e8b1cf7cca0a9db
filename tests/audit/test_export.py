"""Exports: CSV neutralisation (T-EX-1), JSONL verified by the standalone script."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from audit import log
from audit.models import AuditEvent

from .conftest import build_chain

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "verify_audit_export.py"
FORMULAS = ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx"]
# PostgreSQL text cannot hold NUL, so that prefix is only tested on its own.


def script(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, SCRIPT, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("value", [*FORMULAS, "\0x"])
def test_neutralise_cell(value):
    assert log.neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["", "SP-2026-0001", "read_request", "{}", "42", "a=b"])
def test_harmless_cells_are_kept(value):
    assert log.neutralise_cell(value) == value


@pytest.mark.django_db
def test_csv_export_neutralises_formulas(tmp_path, checkpoint_dir):
    for value in FORMULAS:
        log.append(
            actor_id=None,
            action=value,
            object_type=value,
            object_id=value,
            from_state=value,
            to_state=value,
            details={"v": value},
        )
    output = tmp_path / "audit.csv"
    call_command("export_audit", "--format", "csv", "--output", str(output), stderr=StringIO())
    with output.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(log.CSV_HEADER)
    assert len(rows) == 1 + len(FORMULAS)
    columns = {name: i for i, name in enumerate(rows[0])}
    for row, value in zip(rows[1:], FORMULAS, strict=True):
        for name in ("action", "object_type", "object_id", "from_state", "to_state"):
            assert row[columns[name]] == "'" + value
        assert json.loads(row[columns["details"]]) == {"v": value}
    # No cell of the file starts a formula.
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "\0")), cell
    last = AuditEvent.objects.order_by("-seq").first()
    assert last is not None
    assert last.action == "export_audit"
    assert last.details == {"format": "csv", "events": len(FORMULAS)}


@pytest.mark.django_db
def test_jsonl_round_trip_through_the_standalone_script(
    chain_users, signing_key, checkpoint_dir, tmp_path
):
    build_chain(40, chain_users)
    call_command("audit_checkpoint", stdout=StringIO())  # signs seq 40
    export = tmp_path / "audit.jsonl"
    out = StringIO()
    call_command("export_audit", "--format", "jsonl", "--output", str(export), stderr=out)
    assert "exported 40 events" in out.getvalue()
    lines = export.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 40
    first = json.loads(lines[0])
    assert set(first) == {
        "seq", "occurred_at", "actor_id", "action", "object_type", "object_id",
        "from_state", "to_state", "details", "prev_hash", "hash",
    }  # fmt: skip
    # The export is itself an audit event (seq 41), not part of the export.
    assert AuditEvent.objects.get(seq=41).details == {"format": "jsonl", "events": 40}

    done = script(export, "--checkpoints", checkpoint_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK 40 events, 1 checkpoints matched; signatures verified" in done.stdout

    # Stdout export (no --output) is the same text.
    out = StringIO()
    call_command("export_audit", stdout=out)
    assert out.getvalue().splitlines()[:40] == lines

    # One field changed on one line.
    tampered = list(lines)
    event = json.loads(tampered[16])
    event["action"] = "approve"
    tampered[16] = json.dumps(event, ensure_ascii=False)
    bad = tmp_path / "tampered.jsonl"
    bad.write_text("\n".join(tampered) + "\n", encoding="utf-8")
    done = script(bad, "--checkpoints", checkpoint_dir)
    assert done.returncode == 1
    assert "FIRST BROKEN seq 17: hash does not match" in done.stdout

    # One line removed.
    bad.write_text("\n".join(lines[:9] + lines[10:]) + "\n", encoding="utf-8")
    done = script(bad)
    assert done.returncode == 1
    assert "seq 10: sequence broken" in done.stdout

    # The whole file rewritten with recomputed hashes: only the checkpoint tells.
    prev = log.GENESIS_HASH
    rewritten = []
    for number, line in enumerate(lines, start=1):
        event = json.loads(line)
        if number == 5:
            event["action"] = "approve"
        event["prev_hash"] = prev
        event.pop("hash")
        event["hash"] = prev = log.compute_hash(event)
        rewritten.append(json.dumps(event, ensure_ascii=False))
    bad.write_text("\n".join(rewritten) + "\n", encoding="utf-8")
    assert script(bad).returncode == 0  # consistent on its own
    done = script(bad, "--checkpoints", checkpoint_dir)
    assert done.returncode == 1
    assert "seq 40: hash differs from the signed checkpoint" in done.stdout


@pytest.mark.django_db
def test_script_without_cryptography_skips_signatures(
    chain_users, signing_key, checkpoint_dir, tmp_path
):
    build_chain(5, chain_users)
    call_command("audit_checkpoint", stdout=StringIO())
    export = tmp_path / "audit.jsonl"
    call_command("export_audit", "--output", str(export), stderr=StringIO())
    # A package named cryptography that cannot be imported, first on the path.
    blocker = tmp_path / "blocker" / "cryptography"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for the test')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker.parent)}
    done = script(export, "--checkpoints", checkpoint_dir, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK 5 events, 1 checkpoints matched" in done.stdout
    assert "signature checks skipped" in done.stdout
    # A forged checkpoint still fails on the hash, signature or not.
    path = next(checkpoint_dir.glob("checkpoint-*.json"))
    document = json.loads(path.read_text())
    document["hash"] = "f" * 64
    path.write_text(json.dumps(document))
    done = script(export, "--checkpoints", checkpoint_dir, env=env)
    assert done.returncode == 1
    assert "seq 5: hash differs from the signed checkpoint" in done.stdout
