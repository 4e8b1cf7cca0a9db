"""Signed checkpoints of the head (T-AU-2) and the verify_audit command."""

from __future__ import annotations

import json
import stat
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from audit import log
from audit.models import AuditChainHead, AuditEvent

from .conftest import build_chain, run_sql, triggers_off


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=out)
    return out.getvalue()


def failing(command: str, *args: str) -> str:
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command(command, *args, stdout=out, stderr=out)
    return out.getvalue() + str(failure.value)


def rewrite_from(seq: int) -> None:
    """The full-rewrite attack: change one event, recompute every later hash."""
    with triggers_off():
        run_sql("UPDATE requests_app_auditevent SET action = 'forged' WHERE seq = %s", [seq])
        prev = AuditEvent.objects.get(seq=seq - 1).hash if seq > 1 else log.GENESIS_HASH
        # Hashes are unique: park the old ones out of the way first.
        run_sql(
            "UPDATE requests_app_auditevent SET hash = 'old' || seq::text WHERE seq >= %s", [seq]
        )
        for event in AuditEvent.objects.filter(seq__gte=seq).order_by("seq"):
            fields = log.event_fields(event) | {"prev_hash": prev}
            digest = log.compute_hash(fields)
            run_sql(
                "UPDATE requests_app_auditevent SET prev_hash = %s, hash = %s WHERE seq = %s",
                [prev, digest, event.seq],
            )
            prev = digest
        AuditChainHead.objects.filter(id=1).update(hash=prev)


@pytest.mark.django_db
def test_generate_key_is_private_and_refuses_to_overwrite(checkpoint_dir, settings):
    output = run("audit_checkpoint", "--generate-key")
    key_path = Path(settings.HUISCLOS_AUDIT_SIGNING_KEY)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key_path.read_bytes()
    public = list(checkpoint_dir.glob("signing-key-*.pub.pem"))
    assert len(public) == 1
    assert "fingerprint:" in output
    assert "already exists" in failing("audit_checkpoint", "--generate-key")


@pytest.mark.django_db
def test_sign_and_verify(chain_users, signing_key, checkpoint_dir):
    assert "empty" in run("audit_checkpoint")
    build_chain(30, chain_users)
    output = run("audit_checkpoint")
    assert "signed seq 30" in output
    files = list(checkpoint_dir.glob("checkpoint-*.json"))
    assert len(files) == 1
    document = json.loads(files[0].read_text())
    assert document["seq"] == 30
    assert document["hash"] == AuditEvent.objects.get(seq=30).hash
    assert set(document) >= {"seq", "hash", "created_at", "key_fingerprint", "signature"}
    # Nothing new: no second checkpoint.
    assert "head unchanged" in run("audit_checkpoint")
    build_chain(5, chain_users)
    run("audit_checkpoint")
    assert run("verify_audit").strip() == "OK 35 events, 2 checkpoints"
    status = log.last_verification(checkpoint_dir)
    assert status is not None
    assert status["ok"] is True
    assert status["events"] == 35


@pytest.mark.django_db
def test_full_rewrite_with_recomputed_hashes_is_caught_by_the_checkpoint(chain_users, signing_key):
    build_chain(40, chain_users)
    run("audit_checkpoint")  # seq 40
    build_chain(60, chain_users)
    run("audit_checkpoint")  # seq 100
    build_chain(20, chain_users)  # 120 events, the last 20 not yet anchored
    rewrite_from(50)
    # The chain itself is consistent again: only the checkpoint tells.
    report = log.verify_database(checkpoint_dir=None)
    assert report.ok, report.lines()
    output = failing("verify_audit")
    assert "FIRST BROKEN SEQ 100: hash differs from the signed checkpoint" in output
    assert "after the checkpoint at seq 40" in output
    assert "first broken seq 100" in output
    status = log.last_verification()
    assert status is not None
    assert status["ok"] is False
    assert status["first_broken_seq"] == 100


@pytest.mark.django_db
def test_rewrite_after_the_last_checkpoint_is_the_undetectable_window(chain_users, signing_key):
    build_chain(40, chain_users)
    run("audit_checkpoint")
    build_chain(10, chain_users)
    rewrite_from(45)
    assert run("verify_audit").startswith("OK 50 events, 1 checkpoints")


@pytest.mark.django_db
def test_truncation_below_a_checkpoint(chain_users, signing_key):
    build_chain(50, chain_users)
    run("audit_checkpoint")
    with triggers_off():
        run_sql("DELETE FROM requests_app_auditevent WHERE seq > 44")
    last = AuditEvent.objects.get(seq=44)
    AuditChainHead.objects.filter(id=1).update(seq=44, hash=last.hash)
    output = failing("verify_audit")
    assert "FIRST BROKEN SEQ 45: events missing: the signed checkpoint at seq 50" in output


@pytest.mark.django_db
def test_tampered_forged_and_foreign_checkpoints(
    chain_users, signing_key, checkpoint_dir, tmp_path
):
    build_chain(10, chain_users)
    run("audit_checkpoint")
    path = next(checkpoint_dir.glob("checkpoint-*.json"))
    document = json.loads(path.read_text())

    # A checkpoint edited by hand: the signature no longer verifies.
    edited = dict(document, seq=5, hash=AuditEvent.objects.get(seq=5).hash)
    (checkpoint_dir / "checkpoint-000000000005-edited.json").write_text(json.dumps(edited))
    output = failing("verify_audit")
    assert "CHECKPOINT PROBLEM: checkpoint checkpoint-000000000005-edited.json" in output
    assert "signature does not verify" in output
    (checkpoint_dir / "checkpoint-000000000005-edited.json").unlink()

    # Signed with another key that the verifier does not trust.
    other_dir = tmp_path / "other"
    other_key = tmp_path / "other.pem"
    log.generate_key(other_key, other_dir)
    log.sign_checkpoint(
        log.load_private_key(other_key),
        seq=3,
        hash=AuditEvent.objects.get(seq=3).hash,
        directory=other_dir,
    )
    foreign = next(other_dir.glob("checkpoint-*.json"))
    (checkpoint_dir / foreign.name).write_text(foreign.read_text())
    assert "signed by an unknown key" in failing("verify_audit")
    (checkpoint_dir / foreign.name).unlink()

    # Garbage.
    (checkpoint_dir / "checkpoint-garbage.json").write_text("{not json")
    assert "unreadable" in failing("verify_audit")
    (checkpoint_dir / "checkpoint-garbage.json").unlink()

    # Only the pinned key is trusted when --public-key is given.
    pinned = next(checkpoint_dir.glob("signing-key-*.pub.pem"))
    assert run("verify_audit", "--public-key", str(pinned)).startswith("OK 10 events")
    other_public = next(other_dir.glob("signing-key-*.pub.pem"))
    assert "unknown key" in failing("verify_audit", "--public-key", str(other_public))


@pytest.mark.django_db
def test_checkpoint_refuses_to_sign_a_broken_chain(chain_users, signing_key, checkpoint_dir):
    build_chain(10, chain_users)
    with triggers_off():
        run_sql("UPDATE requests_app_auditevent SET action = 'x' WHERE seq = 4")
    assert "refusing to sign" in failing("audit_checkpoint")
    assert not list(checkpoint_dir.glob("checkpoint-*.json"))


@pytest.mark.django_db
def test_missing_key_is_explained(chain_users, checkpoint_dir, settings):
    settings.HUISCLOS_AUDIT_SIGNING_KEY = ""
    assert "HUISCLOS_AUDIT_SIGNING_KEY" in failing("audit_checkpoint")
    settings.HUISCLOS_AUDIT_SIGNING_KEY = str(checkpoint_dir / "absent.pem")
    assert "cannot read the signing key" in failing("audit_checkpoint")
