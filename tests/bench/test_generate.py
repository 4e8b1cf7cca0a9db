"""bench/generate.py, run as the benchmarks run it, at a tiny size.

The generator writes with COPY, around the services: this checks that what
it writes holds every state, passes `manage.py verify_audit`, and that the
request pages of a sample of each state render for every role (the
generator's own page check, which fails the run on any server error).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
STATES = {
    "closed",
    "closed_oral",
    "withdrawn",
    "annulled",
    "awaiting_assignment",
    "awaiting_opinion",
    "awaiting_review",
    "awaiting_signatures",
    "partially_signed",
    "signed",
    "dispatched",
}

pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="the generator loads PostgreSQL with COPY",
)


def server_url(name: str) -> str:
    db = settings.DATABASES["default"]
    credentials = quote(str(db["USER"] or ""))
    if db["PASSWORD"]:
        credentials += ":" + quote(str(db["PASSWORD"]))
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_tiny_generated_database_verifies_and_holds_every_state(tmp_path):
    name = f"test_generate_{os.getpid()}"
    url = server_url(name)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_DEBUG": "true",
        # The scans the generator writes stay out of the project's var/private.
        "HUISCLOS_PRIVATE_ROOT": str(tmp_path / "private"),
    }
    python = sys.executable
    try:
        generated = run(
            [
                *(python, "bench/generate.py", "--requests", "200", "--events", "6000"),
                *("--letters", "0", "--check-sample", "1", "--reset"),
            ],
            env,
        )
        assert generated.returncode == 0, generated.stdout[-3000:] + generated.stderr[-3000:]
        # The generator signs a checkpoint with its own key, then runs
        # `manage.py verify_audit` on the whole chain (call_command).
        assert "manage.py verify_audit: OK 6" in generated.stdout
        assert "0 failure(s)" in generated.stdout

        with psycopg.connect(url) as conn:
            states = {
                row[0]
                for row in conn.execute(
                    "SELECT DISTINCT state FROM requests_app_disclosurerequest"
                )
            }
            events = conn.execute("SELECT count(*) FROM requests_app_auditevent").fetchone()
        assert states == STATES
        assert events is not None
        assert events[0] >= 6000
    finally:
        with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(ROOT / "var" / "bench" / name, ignore_errors=True)
