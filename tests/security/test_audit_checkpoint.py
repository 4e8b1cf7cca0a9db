"""A long chain with no trusted signed checkpoint does not verify (issue 13).

Whoever can write to the database can rewrite the whole trail and recompute
every hash: past HUISCLOS_AUDIT_CHECKPOINT_REQUIRED_AFTER events only a
checkpoint signed outside the database makes the chain trustworthy, so
verify_audit and the auditor's "Vérifier maintenant" fail without one.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit import log
from tests.audit.conftest import build_chain

pytestmark = pytest.mark.django_db


@pytest.fixture
def checkpoint_dir(settings, tmp_path) -> Path:
    directory: Path = tmp_path / "checkpoints"
    settings.HUISCLOS_AUDIT_CHECKPOINT_DIR = str(directory)
    settings.HUISCLOS_AUDIT_SIGNING_KEY = str(tmp_path / "keys" / "audit-signing.pem")
    return directory


@pytest.fixture
def signing_key(checkpoint_dir, settings) -> Path:
    key_path = Path(settings.HUISCLOS_AUDIT_SIGNING_KEY)
    log.generate_key(key_path, checkpoint_dir)
    return key_path


@pytest.fixture
def users(personas):
    return [personas["secretariat"], personas["president"], personas["dg"]]


def verify(*args: str) -> tuple[bool, str]:
    out = StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=out)
    except CommandError as error:
        return False, out.getvalue() + str(error)
    return True, out.getvalue()


def test_the_default_threshold_is_1000_events():
    assert django_settings.HUISCLOS_AUDIT_CHECKPOINT_REQUIRED_AFTER == 1000
    assert log.checkpoint_required_after() == 1000


def test_1000_events_pass_1001_fail_until_a_checkpoint_is_signed(users, signing_key):
    build_chain(1000, users)
    ok, output = verify()
    assert ok, output
    assert output.startswith("OK 1000 events, 0 checkpoints")

    build_chain(1, users)
    ok, output = verify()
    assert not ok
    assert "NO TRUSTED CHECKPOINT: 1001 events" in output
    assert "cannot be trusted against a rewrite" in output
    assert "no trusted checkpoint (1001 events walked, 0 valid checkpoints)" in output
    # The outcome kept for the auditor's page says the same.
    status = log.last_verification()
    assert status is not None
    assert status["ok"] is False
    assert status["no_trusted_checkpoint"] is True
    assert status["first_broken_seq"] is None

    # Signing the first checkpoint is not blocked by the rule it satisfies.
    out = StringIO()
    call_command("audit_checkpoint", stdout=out)
    ok, output = verify()
    assert ok, output
    assert output.startswith("OK 1001 events, 1 checkpoints")


@pytest.fixture
def short_threshold(settings):
    settings.HUISCLOS_AUDIT_CHECKPOINT_REQUIRED_AFTER = 20


def test_a_checkpoint_by_an_untrusted_key_does_not_count(
    users, signing_key, checkpoint_dir, tmp_path, short_threshold
):
    build_chain(25, users)
    call_command("audit_checkpoint", stdout=StringIO())
    # The auditor trusts only the key received on paper: another one.
    other_dir = tmp_path / "other"
    log.generate_key(tmp_path / "other.pem", other_dir)
    (other_public,) = other_dir.glob(log.PUBLIC_KEY_GLOB)
    ok, output = verify("--public-key", str(other_public), "--no-status")
    assert not ok
    assert "NO TRUSTED CHECKPOINT: 25 events" in output
    assert "signed by an unknown key" in output
    # With the right key it holds.
    (own_public,) = checkpoint_dir.glob(log.PUBLIC_KEY_GLOB)
    ok, output = verify("--public-key", str(own_public), "--no-status")
    assert ok, output


def test_a_forged_checkpoint_does_not_count(users, checkpoint_dir, short_threshold):
    build_chain(25, users)
    checkpoint_dir.mkdir(parents=True)
    head_seq, head_hash = log.current_head()
    (checkpoint_dir / "checkpoint-000000000025-20260101T000000000000Z.json").write_text(
        json.dumps(
            {
                "version": 1,
                "seq": head_seq,
                "hash": head_hash,
                "created_at": "2026-01-01T00:00:00.000000Z",
                "key_fingerprint": "0" * 64,
                "signature": "AAAA",
            }
        )
    )
    ok, output = verify("--no-status")
    assert not ok
    assert "NO TRUSTED CHECKPOINT" in output


def test_short_chains_stay_ok_without_a_checkpoint(users, checkpoint_dir, short_threshold):
    build_chain(20, users)
    ok, output = verify("--no-status")
    assert ok, output


def test_verify_now_fails_with_a_clear_finding(
    client, personas, users, signing_key, short_threshold
):
    build_chain(21, users)
    client.force_login(personas["auditor"])
    page = client.get(reverse("audit:verification")).content.decode()
    assert "point de contrôle signé valide" in page
    response = client.post(reverse("audit:verification"), follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    status = log.last_verification()
    assert status is not None
    assert status["ok"] is False
    assert status["no_trusted_checkpoint"] is True
    assert "NO TRUSTED CHECKPOINT" in text
    messages = [str(m) for m in response.context["messages"]]
    assert any("aucun point de contrôle signé par une clé de confiance" in m for m in messages), (
        messages
    )
    # The auditor's own verification event is part of the chain it verifies.
    call_command("audit_checkpoint", stdout=StringIO())
    response = client.post(reverse("audit:verification"), follow=True)
    status = log.last_verification()
    assert status is not None
    assert status["ok"] is True, status
    assert status["no_trusted_checkpoint"] is False


def test_compose_mounts_checkpoints_read_only_into_the_web_service():
    compose = yaml.safe_load(
        (Path(django_settings.BASE_DIR) / "docker-compose.yml").read_text(encoding="utf-8")
    )
    services = compose["services"]

    def mounts(service: str) -> list[str]:
        return [m for m in services[service].get("volumes", []) if "audit-checkpoints" in m]

    (web,) = mounts("web")
    assert web.endswith(":ro"), web
    assert "HUISCLOS_AUDIT_SIGNING_KEY" not in services["web"].get("environment", {})
    assert "audit_signing_key" not in services["web"].get("secrets", [])
    (job,) = mounts("audit-checkpoint")
    assert not job.endswith(":ro"), job
    # Nobody else mounts them read-write.
    for name in services:
        if name != "audit-checkpoint":
            assert all(m.endswith(":ro") for m in mounts(name)), name
