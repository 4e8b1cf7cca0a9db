"""Benchmark: a flood of wrong passwords must not starve signed-in users.

Usage (PostgreSQL on 127.0.0.1:5432, user postgres, trust):

    .venv/bin/python bench/login_flood.py [--seconds 40] [--threads 4] [--idle 200]

1. creates the database `huisclos_loginflood` (dropped at the end), migrates
   it, and makes one secretariat account with a TOTP device and a signed-in
   session whose second factor is verified (written straight into the
   session table, as the sign-in pages would);
2. starts gunicorn (3 workers, as in the Dockerfile) on 127.0.0.1 with the
   production settings (DEBUG off; .env.example with random secrets, HTTP on
   loopback, so no SSL redirect);
3. idle: `--idle` GETs of the home page with that session, one after the
   other; p95;
4. flood: `--threads` threads POST wrong passwords to /connexion/ (with a
   valid CSRF token) for `--seconds` seconds, half on the signed-in user's
   account and half on random names, while the home page is read as
   before; p95, the ratio to idle (target <= 2), and how many sign-in tries
   were refused by the throttling (429) rather than checked (200).

Every request comes from 127.0.0.1: after AXES_ADDRESS_FAILURE_LIMIT failures
the address is locked and the remaining tries are refused before any
password hashing, which is the point.
"""

from __future__ import annotations

import argparse
import http.client
import math
import multiprocessing
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "huisclos_loginflood"
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
USERNAME = "flood-secretariat"
# Shared by the setup (which signs the session) and the server.
SECRET_KEY = secrets.token_urlsafe(50)
RATIO_TARGET = 2.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_database() -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def drop_database() -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def setup_app() -> str:
    """Migrate, create the account and its verified session; the session key."""
    os.environ["DJANGO_DEBUG"] = "true"
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ["DJANGO_SECRET_KEY"] = SECRET_KEY
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connections
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts import sessions
    from accounts.models import Role, User

    call_command("migrate", verbosity=0)
    user = User.objects.create_user(USERNAME, password=secrets.token_urlsafe(16))
    user.groups.add(Group.objects.get(name=Role.SECRETARIAT))
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    store = SessionStore()
    now = time.time()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store[DEVICE_ID_SESSION_KEY] = device.persistent_id
    store[sessions.STARTED] = now
    store[sessions.LAST_SEEN] = now
    store.create()
    key = store.session_key
    assert key is not None
    connections.close_all()
    return key


def production_env(port: int) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            env[name] = value
    env.update(
        {
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "HUISCLOS_SIGNING_PASSPHRASE": secrets.token_urlsafe(24),
            "DATABASE_URL": DATABASE_URL,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "HUISCLOS_SSL_REDIRECT": "false",
            "HUISCLOS_WEBAUTHN_RP_ID": "127.0.0.1",
            "HUISCLOS_WEBAUTHN_ORIGINS": f"http://127.0.0.1:{port}",
            "HUISCLOS_LOG_LEVEL": "WARNING",
        }
    )
    env.pop("DJANGO_DEBUG", None)
    env.pop("DATABASE_URL_FILE", None)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ROOT / "var"), **env}


def start_server(port: int) -> subprocess.Popen[bytes]:
    gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
    process = subprocess.Popen(
        [
            str(gunicorn),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "3",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=production_env(port),
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
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    sys.exit("gunicorn did not answer within 60 s")


def start_nginx(upstream: int, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    """deploy/nginx.conf in front of gunicorn, as in production (sign-in rate limit)."""
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    for old, new in [
        ("server web:8000;", f"server 127.0.0.1:{upstream};"),
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
    ]:
        assert site.count(old) == 1, old
        site = site.replace(old, new)
    (workdir / "site.conf").write_text(site)
    temp = "\n".join(
        f"    {name}_temp_path {workdir}/{name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (workdir / "nginx.conf").write_text(
        f"""daemon off;
{"user root;" if os.geteuid() == 0 else ""}
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{}}
http {{
    include /etc/nginx/mime.types;
    access_log off;
{temp}
    include {workdir}/site.conf;
}}
"""
    )
    process = subprocess.Popen(
        ["/usr/sbin/nginx", "-p", str(workdir), "-c", str(workdir / "nginx.conf")],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    error = process.stderr.read().decode() if process.stderr else ""
    sys.exit(f"nginx did not start: {error}")


def request(
    port: int,
    method: str,
    path: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        cookies = "; ".join(
            v.split(";", 1)[0] for k, v in response.getheaders() if k.lower() == "set-cookie"
        )
        return response.status, {"set-cookie": cookies}, data
    finally:
        conn.close()


def read_home(port: int, session_key: str) -> float:
    started = time.perf_counter()
    status, _, _ = request(port, "GET", "/", headers={"Cookie": f"sessionid={session_key}"})
    elapsed = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"home page answered {status}")
    return elapsed


def attacker(
    port: int, seconds: float, n: int, results: multiprocessing.Queue[dict[str, int]]
) -> None:
    """One attacking client, in its own process (so it does not hold this
    process's GIL against the reader)."""
    # An attacker runs on another machine: here it shares the two cores with
    # the server, so it yields them (nice 19) instead of competing with it.
    os.nice(19)
    counts: dict[str, int] = {}
    stop = time.monotonic() + seconds
    status, headers, body = request(port, "GET", "/connexion/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    assert token is not None
    cookie = headers["set-cookie"]
    i = 0
    while time.monotonic() < stop:
        name = USERNAME if i % 2 == 0 else f"nobody-{n}-{i}"
        form = f"csrfmiddlewaretoken={token.group(1).decode()}&username={name}&password=wrong-{i}"
        status, _, _ = request(
            port,
            "POST",
            "/connexion/",
            body=form,
            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        )
        counts[str(status)] = counts.get(str(status), 0) + 1
        i += 1
    results.put(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument(
        "--direct", action="store_true", help="hit gunicorn directly, without deploy/nginx.conf"
    )
    args = parser.parse_args()

    create_database()
    process: subprocess.Popen[bytes] | None = None
    proxy: subprocess.Popen[bytes] | None = None
    try:
        session_key = setup_app()
        port = free_port()
        process = start_server(port)
        if not args.direct:
            workdir = Path(tempfile.mkdtemp(prefix="login-flood-nginx-"))
            upstream, port = port, free_port()
            proxy = start_nginx(upstream, port, workdir)
        for _ in range(20):  # warm-up: every worker loads its templates
            read_home(port, session_key)
        load_start = os.getloadavg()
        idle = [read_home(port, session_key) for _ in range(args.idle)]

        results: multiprocessing.Queue[dict[str, int]] = multiprocessing.Queue()
        attackers = [
            multiprocessing.Process(target=attacker, args=(port, args.seconds, n, results))
            for n in range(args.threads)
        ]
        for worker in attackers:
            worker.start()
        flood: list[float] = []
        ends = time.monotonic() + args.seconds
        while time.monotonic() < ends:
            flood.append(read_home(port, session_key))
        counts: dict[str, int] = {}
        for _ in attackers:
            for status, n in results.get(timeout=120).items():
                counts[status] = counts.get(status, 0) + n
        for worker in attackers:
            worker.join()
        load_end = os.getloadavg()
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=30)
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        drop_database()

    idle_p95 = percentile(idle, 95) * 1000
    flood_p95 = percentile(flood, 95) * 1000
    ratio = flood_p95 / idle_p95
    tries = sum(counts.values())
    print(
        f"Login flood: {args.threads} threads x {args.seconds:.0f} s of wrong passwords, "
        + ("straight to gunicorn" if args.direct else "through deploy/nginx.conf")
    )
    print(
        f"{os.cpu_count()} CPU; load average at start {load_start[0]:.2f}, "
        f"at end {load_end[0]:.2f}"
    )
    print(
        f"home page, idle:        p50 {percentile(idle, 50) * 1000:7.1f}  p95 {idle_p95:7.1f} ms "
        f"(n={len(idle)})"
    )
    print(
        f"home page, under flood: p50 {percentile(flood, 50) * 1000:7.1f}  "
        f"p95 {flood_p95:7.1f} ms (n={len(flood)})"
    )
    print(
        f"sign-in tries: {tries}; checked by Django (200): {counts.get('200', 0)}; "
        f"throttled (429, nginx or django-axes): {counts.get('429', 0)}; other: "
        f"{ {k: v for k, v in counts.items() if k not in {'200', '429'}} }"
    )
    verdict = "PASS" if ratio <= RATIO_TARGET else "FAIL"
    print(
        f"ratio p95 under flood / p95 idle: {ratio:.2f} (target <= {RATIO_TARGET:.0f})  {verdict}"
    )


if __name__ == "__main__":
    main()
