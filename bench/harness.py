"""Helpers shared by the benchmarks of issue 15 (the register, request-page and
home-page benches, the load test, the growth bench), which all run against a
database built by `bench/generate.py`.

What already exists in another bench is imported from it, not copied:
`ensure_database` and `percentile` (chain_lock.py), `free_port` and the
loopback HTTP `request` and the production environment (login_flood.py).

- `database_name(url)`, `drop_database(url)`: the database of a DATABASE_URL;
  both refuse `huisclos` and `postgres`.
- `generated_dir(name)`, `load_manifest(name)`: what `generate.py` wrote next
  to a database it built (var/bench/<name>/manifest.json): personas and their
  password and TOTP keys, the requests with a real signed letter, sample
  requests per state, the environment a server needs.
- `generated_env(name)`: that environment (the per-database audit checkpoint
  directory, the signing passphrase and trust root of the generated letters).
- `production_env(database_url, port)`, `start_gunicorn(database_url)`:
  gunicorn with production settings (DEBUG off, random secrets), as
  login_flood.py starts it, on any database, with `generated_env` added when
  the database was generated.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# After the project root, never before: the project has a package `common`
# (common/storage.py...), which this module must not shadow. For the same
# reason the benches load this file under another name (see generate.py).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(BENCH) not in sys.path:
    sys.path.append(str(BENCH))

from chain_lock import ensure_database, percentile  # noqa: E402
from login_flood import free_port, request  # noqa: E402
from login_flood import production_env as _login_flood_env  # noqa: E402

__all__ = [
    "BENCH_SIGNING_PASSPHRASE",
    "GENERATED_ROOT",
    "PROTECTED_DATABASES",
    "database_name",
    "drop_database",
    "ensure_database",
    "free_port",
    "generated_dir",
    "generated_env",
    "load_manifest",
    "percentile",
    "production_env",
    "request",
    "start_gunicorn",
    "stop_process",
]

# Where generate.py keeps, per database, its manifest, the audit checkpoints
# and their key (a checkpoint names one chain: each database needs its own).
GENERATED_ROOT = ROOT / "var" / "bench"
# The generated letters' credentials are stored under this passphrase: it
# passes the production checks (length, not a placeholder), so a server with
# production settings can open them too. Test keys on loopback only.
BENCH_SIGNING_PASSPHRASE = "bench-generated-letters-Qx7f2Lm9"
PROTECTED_DATABASES = frozenset({"", "huisclos", "postgres"})


def database_name(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        sys.exit("The benchmark needs PostgreSQL (DATABASE_URL=postgres://...).")
    name = unquote(parts.path.lstrip("/"))
    if name in PROTECTED_DATABASES:
        sys.exit("Give the benchmark its own database, e.g. .../huisclos_gen_100k.")
    return name


def drop_database(url: str) -> None:
    import psycopg

    name = database_name(url)
    admin = urlsplit(url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def generated_dir(name: str) -> Path:
    return GENERATED_ROOT / name


def load_manifest(name: str) -> dict[str, Any]:
    """What generate.py recorded about database `name`; exits if it built none."""
    path = generated_dir(name) / "manifest.json"
    if not path.is_file():
        sys.exit(f"{path} is missing: build the database with bench/generate.py first.")
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def generated_env(name: str) -> dict[str, str]:
    """The environment a process serving database `name` needs (empty if not generated)."""
    path = generated_dir(name) / "manifest.json"
    if not path.is_file():
        return {}
    env: dict[str, str] = json.loads(path.read_text()).get("env", {})
    return env


def production_env(database_url: str, port: int) -> dict[str, str]:
    """login_flood.py's production environment, on `database_url`."""
    env = _login_flood_env(port)
    env["DATABASE_URL"] = database_url
    env.update(generated_env(database_name(database_url)))
    return env


def start_gunicorn(
    database_url: str,
    *,
    port: int | None = None,
    workers: int = 3,
    extra_env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """gunicorn on loopback with production settings; returns once it answers."""
    port = port or free_port()
    env = production_env(database_url, port)
    env.update(extra_env or {})
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            sys.exit(f"gunicorn did not start:\n{error[-3000:]}")
        try:
            status, _, _ = request(port, "GET", "/connexion/")
            if status == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    stop_process(process)
    sys.exit("gunicorn did not answer within 60 s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a process this bench started (by its own handle, never by name)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    # `python bench/harness.py DBNAME` prints the environment for a shell.
    for key, value in generated_env(sys.argv[1] if len(sys.argv) > 1 else "").items():
        print(f"export {key}={value}")
