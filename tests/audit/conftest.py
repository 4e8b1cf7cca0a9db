"""Fixtures for the audit trail tests: a varied chain, keys, SQL tampering."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from accounts.models import User
from audit import log

TABLE = "requests_app_auditevent"

# Details that stress the canonical form: non-ASCII, quotes, backslashes,
# control characters, nesting, keys that sort differently by length and by
# code point, big integers, booleans and null.
VARIED_DETAILS: list[dict[str, Any]] = [
    {},
    {"reference": "SP-2026-0001", "content": True},
    {"b": 1, "a": 2, "aa": 3, "é": "été", "Z": None},
    {"quote": 'il a dit "oui"', "backslash": "C:\\dossier\\x", "ctl": "a\tb\nc\rd\x01e\x1f"},
    {"nested": {"z": [1, 2, {"y": False}], "a": {"deep": ["x", None, True]}}},
    {"big": 2**62, "negative": -17, "zero": 0, "list": []},
    {"emoji": "🔒 secret", "bidi": "\u202eabc", "ls": "x\u2028y", "del": "a\x7fb"},
    {"reasons": ["identity_unclear", "no_legal_basis"], "persons": 2},
]


def build_chain(count: int, users: list[User]) -> None:
    actions = ["register_request", "read_request", "approve", "login", "refused", "é_action"]
    for i in range(count):
        actor = None if i % 7 == 0 else users[i % len(users)].pk
        log.append(
            actor_id=actor,
            action=actions[i % len(actions)],
            object_type="disclosure_request" if i % 3 else "session",
            object_id=i % 50 if i % 3 else "",
            from_state="awaiting_review" if i % 5 == 0 else "",
            to_state="awaiting_signatures" if i % 5 == 0 else "",
            details=VARIED_DETAILS[i % len(VARIED_DETAILS)],
        )


@pytest.fixture
def chain_users(db) -> list[User]:
    return [User.objects.create_user(f"audit-user-{i}") for i in range(3)]


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


def run_sql(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


class triggers_off:
    """Switch the append-only triggers off, as a superuser could (in the test transaction)."""

    def __enter__(self) -> None:
        # Deferred foreign-key checks of the rows just written must fire first.
        run_sql("SET CONSTRAINTS ALL IMMEDIATE")
        run_sql(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")

    def __exit__(self, *exc) -> None:
        run_sql(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")
