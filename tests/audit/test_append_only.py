"""T-AU-3: the database itself refuses to change or remove audit events."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction

from audit import log

ROOT = Path(__file__).resolve().parents[2]
TABLE = "requests_app_auditevent"
APP_ROLE = "huisclos_audit_app_test"


def refused(sql: str) -> str:
    """Run sql in a savepoint; return the error message (fails if it succeeds)."""
    with pytest.raises(DatabaseError) as error, transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql)
    return str(error.value)


@pytest.fixture
def some_events(db):
    for i in range(3):
        log.append(actor_id=None, action="login", object_type="session", details={"i": i})
    if connection.vendor == "postgresql":
        # Fire the deferred foreign-key checks now, or TRUNCATE and ALTER
        # would fail for that reason instead of the one under test.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.django_db
def test_postgres_triggers_refuse_even_the_superuser(some_events):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (True,)
    assert "append-only" in refused(f"UPDATE {TABLE} SET action = 'x' WHERE seq = 1")
    assert "append-only" in refused(f"DELETE FROM {TABLE} WHERE seq = 1")
    assert "append-only" in refused(f"DELETE FROM {TABLE}")
    assert "append-only" in refused(f"TRUNCATE {TABLE}")
    assert "append-only" in refused(f"TRUNCATE {TABLE} CASCADE")


@pytest.mark.django_db
def test_postgres_application_role_is_refused(some_events):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                    CREATE ROLE {APP_ROLE} NOLOGIN;
                END IF;
            END $$"""
        )
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
        cursor.execute(f"GRANT SELECT, INSERT ON {TABLE} TO {APP_ROLE}")
        cursor.execute(f"SET ROLE {APP_ROLE}")
        try:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            assert cursor.fetchone() == (False,)
            cursor.execute(f"SELECT count(*) FROM {TABLE}")
            assert cursor.fetchone() == (3,)
            denied = "permission denied"
            assert denied in refused(f"UPDATE {TABLE} SET action = 'x' WHERE seq = 1")
            assert denied in refused(f"DELETE FROM {TABLE} WHERE seq = 1")
            assert denied in refused(f"TRUNCATE {TABLE}")
            assert "must be owner" in refused(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
            assert "must be owner" in refused(f"ALTER TABLE {TABLE} DISABLE TRIGGER ALL")
            assert "must be owner" in refused(f"DROP TABLE {TABLE}")
            assert "permission denied" in refused("SET session_replication_role = replica")
        finally:
            cursor.execute("RESET ROLE")
    # The whole test runs in a transaction: the role and grants roll back.


def test_sqlite_triggers_refuse_update_and_delete(tmp_path):
    database = tmp_path / "x.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_DEBUG": "true",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    with sqlite3.connect(database) as db:
        db.execute(
            f"INSERT INTO {TABLE} (seq, occurred_at, actor_id, action, object_type, object_id, "
            "from_state, to_state, details, prev_hash, hash) "
            "VALUES (1, '2026-11-02 10:00:00.000001', NULL, 'login', 'session', '', '', '', "
            "'{}', ?, ?)",
            ["0" * 64, "a" * 64],
        )
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(f"UPDATE {TABLE} SET action = 'x' WHERE seq = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(f"DELETE FROM {TABLE} WHERE seq = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(f"DELETE FROM {TABLE}")
        assert db.execute(f"SELECT count(*) FROM {TABLE}").fetchone() == (1,)
