"""Benchmark: 50 simulated users browsing Huis clos at once (issue 15).

Usage (PostgreSQL on 127.0.0.1:5432, user postgres, trust; a database built by
bench/generate.py, or any migrated one with accounts of every role):

    .venv/bin/python bench/load_users.py --database-url \
        postgres://postgres@127.0.0.1:5432/huisclos_gen_100k \
        [--seconds 120] [--users 50] [--workers 3] [--worker-class sync|gthread]
        [--threads 4] [--nginx] [--profile baseline|load] [--writes]

What it does, in order:

1. Picks accounts of each role in the database and makes one signed-in
   session per simulated user, second factor verified, written straight into
   the session table as bench/login_flood.py does (the keys the sign-in pages
   set, signed with a SECRET_KEY shared with the server). Why not the real
   sign-in: real users sign in once a day, a sign-in costs 0.7 to 2 CPU-s
   (Argon2 and the TOTP check), so 50 of them would saturate the two cores
   for half a minute before the window and measure nothing the window is
   about; and the bench would need every account's password and TOTP key
   (generate.py's manifest has its personas', a demo or copied database
   not). Sessions made this way carry exactly what the sign-in pages leave
   in a session, so every later request costs what it costs a real user.
   An account without a
   confirmed second-factor device gets a TOTP device for the run (deleted at
   the end, with the sessions). Accounts are shared round-robin when the
   database holds fewer of a role than the mix asks for: each simulated user
   still has its own session.
2. The audit checkpoints `verify_audit` will check at the end (a chain above
   HUISCLOS_AUDIT_CHECKPOINT_REQUIRED_AFTER events fails without a trusted
   one): `--checkpoint-dir`; else those generate.py keeps for its database
   (var/bench/<name>/, from its manifest); else the current head signed now
   with a throw-away Ed25519 key in a temporary directory
   (`audit_checkpoint --no-verify`: the verification at the end walks the
   whole chain anyway).
3. Starts gunicorn on 127.0.0.1 with the production settings (DEBUG off;
   bench/harness.py's `production_env`, i.e. login_flood.py's .env.example
   with random secrets and no SSL redirect on loopback, plus what
   generate.py recorded for the database), `--workers` sync workers (3, as the
   Dockerfile) or `--worker-class gthread --threads N`; `--nginx` puts
   deploy/nginx.conf in front. gunicorn hooks defined below (`pre_request`,
   `post_request`, ...) time every request inside the workers: wall, CPU of
   the thread, number and time of SQL queries; `--profile` runs cProfile in
   every worker on the requests of one phase.
4. Warm-up (`--warmup` s, all users, not measured): every worker loads its
   templates, PostgreSQL its pages.
5. Baseline: the same page mix read by ONE user with no concurrency: the
   simulated users take one step each in turn, without think time
   (`--baseline-steps` steps).
6. Load: every simulated user in its own thread (one keep-alive
   http.client connection each; gunicorn's sync workers close it after each
   response), a step, a think time drawn uniformly in 0.5-3 s, and again,
   for `--seconds` s after a 5 s ramp. A step is one page view: a page, or a
   form posted and the redirect followed (two requests, timed apart), or a
   signature page and its first page image. Users follow the links the pages
   give (request rows, the register's `rel="next"` link, sort links, the
   audit trail's links); nothing builds an address from an id.
7. Prints per kind of page and overall p50/p95/p99 under load and idle, the
   ratio of the p95s ("pages": every request but the PDF and PNG files),
   throughput, errors (any status >= 400 or connection error, in any
   phase), server-side wall/CPU/SQL per request, where the CPU went over the
   window (gunicorn, its PostgreSQL backends, this load generator, the rest of
   the machine) and the load average; then runs `manage.py verify_audit` on
   the database and prints its result. Exit status 1 if a target fails:
   pages p95 < 200 ms, 0 errors, verify_audit passes.

The mix (`ROLE_MIX`, 50 users): 12 secretariat, 20 referents, 6 DG (holders
and acting), 6 Président, 6 auditors; the app has no other role (an account
without one gets a 403 page and nothing else). The steps each role takes and
their weights are in `MIXES`. Reads only by default: reading a request, its
summary, a letter's PDF or page image appends an audit event (`read_*`)
under the chain-head lock, so the lock is exercised anyway (the table
prints that lock's wait). `--writes` lets the Président and the DG post the
"assign a referent" form of the requests awaiting assignment they come
across (no second factor needed; each request once): it changes the state
of requests, so it is off by default on a shared generated database.

Nothing personal is printed: accounts, searches and pages are counted, never
named. Search criteria go in POST bodies, as the register wants.
"""

from __future__ import annotations

import argparse
import html
import http.client
import importlib.util
import json
import math
import os
import random
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

# bench/ is on sys.path (run as a script, or appended by the gunicorn config).
from login_flood import free_port, request, start_nginx

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
REFUSED_DATABASES = {"huisclos", "postgres", "template0", "template1"}

PAGES_P95_TARGET_MS = 200.0
THINK_SECONDS = (0.5, 3.0)
RAMP_SECONDS = 5.0

# Simulated users per role, out of 50 (scaled for another --users).
ROLE_MIX = {
    "secretariat": 12,
    "referent": 20,
    "dg": 6,
    "president": 6,
    "auditor": 6,
}

# Steps and their weights per role. A step whose link is missing (no next
# page, no PDF on that request) falls back to the step that would give it.
MIXES: dict[str, dict[str, int]] = {
    "secretariat": {
        "home": 17,
        "register": 15,
        "register_next": 10,
        "register_sort": 6,
        "search": 14,
        "request": 27,
        "reply_pdf": 3,
        "create_form": 4,
        "legal_bases": 4,
    },
    "referent": {
        "home": 30,
        "register": 12,
        "register_next": 5,
        "search": 8,
        "request": 30,
        "summary": 8,
        "reply_pdf": 3,
        "legal_bases": 4,
    },
    "president": {
        "home": 20,
        "register": 14,
        "register_next": 8,
        "register_sort": 5,
        "search": 12,
        "request": 23,
        "summary": 4,
        "reply_pdf": 4,
        "sign": 5,
        "assign": 3,
        "legal_bases": 2,
    },
    "dg": {
        "home": 20,
        "register": 14,
        "register_next": 8,
        "register_sort": 5,
        "search": 12,
        "request": 23,
        "summary": 4,
        "reply_pdf": 4,
        "sign": 5,
        "assign": 3,
        "legal_bases": 2,
    },
    "auditor": {
        "home": 5,
        "audit_timeline": 25,
        "audit_next": 10,
        "audit_filter": 10,
        "audit_trail": 20,
        "audit_access": 10,
        "audit_user": 15,
        "audit_verification": 5,
    },
}

# Kinds of request that are files, not pages: outside the pages target.
FILE_KINDS = {"reply_pdf", "page_image"}

# Common Belgian surnames for the person search of content roles (not taken
# from the database: nothing read there is sent back or printed).
SURNAMES = [
    "Peeters",
    "Janssens",
    "Maes",
    "Jacobs",
    "Mertens",
    "Willems",
    "Claes",
    "Goossens",
    "Wouters",
    "Dubois",
    "Lambert",
    "Dupont",
    "Martin",
    "Lefevre",
    "Lefèvre",
    "Simon",
    "Laurent",
    "Leclercq",
    "Dumont",
    "Hermans",
    "Benali",
    "Renard",
]


def bench_common() -> Any:
    """bench/harness.py, imported under another name: the app has a package
    named `common` (common/storage.py, common/middleware.py) that Django must
    still find, and a module `common` from bench/ would shadow it."""
    name = "huisclos_bench_common"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCH / "harness.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def database_name(url: str) -> str:
    name: str = bench_common().database_name(url)
    return name


def generated_env(name: str) -> dict[str, str]:
    env: dict[str, str] = bench_common().generated_env(name)
    return env


def percentile(values: list[float], q: float) -> float:
    value: float = bench_common().percentile(values, q)
    return value


# ---------------------------------------------------------------------------
# gunicorn hooks: the config file written by `start_server` imports these
# names from this module; they run in the server's processes, not in the
# bench. Requests carry their phase and kind in two headers the bench adds;
# requests without them (the startup probe) are not recorded.

PHASE_HEADER = "X-LOAD-PHASE"
KIND_HEADER = "X-LOAD-KIND"
# phase, kind, wall, CPU, queries, SQL seconds, status, chain-head lock wait
_SERVER_STATS: list[tuple[str, str, float, float, int, float, int, float]] = []
_PROFILER: Any = None


def post_fork(server: Any, worker: Any) -> None:
    global _PROFILER
    _SERVER_STATS.clear()
    if os.environ.get("LOAD_USERS_PROFILE"):
        import cProfile

        # Wall-clock timer: a CPU timer is a system call per function event
        # and would double the cost of a request.
        _PROFILER = cProfile.Profile()


def pre_request(worker: Any, req: Any) -> None:
    headers = dict(req.headers)
    phase = headers.get(PHASE_HEADER)
    if phase is None:
        return
    from django.db import connection

    counters = [0, 0.0, 0.0]

    def timed(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds = time.perf_counter() - started
            counters[0] += 1
            counters[1] += seconds
            # An audit append waits here for the chain head (audit/log.py).
            if "FOR UPDATE" in sql and "auditchainhead" in sql:
                counters[2] += seconds

    connection.execute_wrappers.append(timed)
    profile = _PROFILER is not None and os.environ.get("LOAD_USERS_PROFILE") == phase
    req.load_users = (phase, headers.get(KIND_HEADER, "?"), timed, counters, profile)
    req.load_users_started = (time.perf_counter(), time.thread_time())
    if profile:
        _PROFILER.enable()


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    info = getattr(req, "load_users", None)
    if info is None:
        return
    phase, kind, timed, counters, profile = info
    wall0, cpu0 = req.load_users_started
    wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
    if profile:
        _PROFILER.disable()
    from django.db import connection

    if timed in connection.execute_wrappers:
        connection.execute_wrappers.remove(timed)
    status = int(getattr(resp, "status_code", 0) or 0) if resp is not None else 0
    _SERVER_STATS.append(
        (phase, kind, wall, cpu, int(counters[0]), counters[1], status, counters[2])
    )


def worker_exit(server: Any, worker: Any) -> None:
    directory = os.environ.get("LOAD_USERS_STATS_DIR")
    if not directory:
        return
    Path(directory, f"worker-{os.getpid()}.json").write_text(json.dumps(_SERVER_STATS))
    if _PROFILER is not None:
        _PROFILER.create_stats()
        _PROFILER.dump_stats(str(Path(directory, f"worker-{os.getpid()}.prof")))


# ---------------------------------------------------------------------------
# Setup in this process: accounts, sessions, checkpoint.


@dataclass
class Account:
    pk: int
    role: str
    session_key: str = ""


@dataclass
class Setup:
    accounts: dict[str, list[int]]
    sessions: list[Account]
    created_devices: list[int]
    counts: dict[str, int]


def setup_django(database_url: str, secret_key: str) -> None:
    os.environ["DJANGO_DEBUG"] = "true"
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SECRET_KEY"] = secret_key
    # This process only: the server keeps the production timeout.
    os.environ.setdefault("HUISCLOS_DB_CONNECT_TIMEOUT", "20")
    # A database built by generate.py: its checkpoints, trust root, passphrase.
    os.environ.update(generated_env(database_name(database_url)))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        sys.exit("The database is not migrated to this code: run manage.py migrate on it first.")


def accounts_by_role() -> dict[str, list[int]]:
    """Active accounts per simulated role, best candidates first.

    Priority when an account holds several roles: Président, DG (holder or
    acting today), secretariat, auditor, referent. Referents come by the
    number of requests they hold, most first: one with none sees empty pages.
    """
    from django.db.models import Count
    from django.utils import timezone

    from accounts.models import ActingDesignation, Role, User

    roles: dict[int, set[str]] = defaultdict(set)
    for pk, name in User.objects.filter(is_active=True, groups__name__isnull=False).values_list(
        "pk", "groups__name"
    ):
        roles[pk].add(name)
    for pk, name in (
        ActingDesignation.objects.in_force_on(timezone.localdate())
        .filter(user__is_active=True)
        .values_list("user_id", "role")
    ):
        roles[pk].add(name)
    order = [
        ("president", Role.PRESIDENT),
        ("dg", Role.DIRECTOR_GENERAL),
        ("secretariat", Role.SECRETARIAT),
        ("auditor", Role.AUDITOR),
        ("referent", Role.REFERENT),
    ]
    result: dict[str, list[int]] = {name: [] for name, _ in order}
    for pk in sorted(roles):
        for name, role in order:
            if role in roles[pk]:
                result[name].append(pk)
                break
    held = dict(
        User.objects.filter(pk__in=result["referent"])
        .annotate(n=Count("assigned_requests"))
        .values_list("pk", "n")
    )
    result["referent"].sort(key=lambda pk: (-held.get(pk, 0), pk))
    return result


def role_counts(users: int) -> dict[str, int]:
    total = sum(ROLE_MIX.values())
    counts = {role: n * users // total for role, n in ROLE_MIX.items()}
    # What rounding left goes to the biggest roles first.
    for role in sorted(ROLE_MIX, key=lambda r: -ROLE_MIX[r]):
        if sum(counts.values()) >= users:
            break
        counts[role] += 1
    return {role: n for role, n in counts.items() if n}


def make_sessions(users: int) -> Setup:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts import sessions
    from accounts.models import User

    available = accounts_by_role()
    counts = role_counts(users)
    missing = [role for role, n in counts.items() if n and not available[role]]
    if missing:
        sys.exit(f"no active account with the role(s) {', '.join(missing)} in this database")
    created: list[int] = []
    devices: dict[int, str] = {}
    accounts: list[Account] = []
    for role, n in counts.items():
        for i in range(n):
            accounts.append(Account(pk=available[role][i % len(available[role])], role=role))
    now = time.time()
    for account in accounts:
        user = User.objects.get(pk=account.pk)
        if account.pk not in devices:
            device = next(iter(devices_for_user(user, confirmed=True)), None)
            if device is None:
                device = TOTPDevice.objects.create(
                    user=user, name="load_users bench", confirmed=True
                )
                created.append(device.pk)
            devices[account.pk] = device.persistent_id
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store[DEVICE_ID_SESSION_KEY] = devices[account.pk]
        store[sessions.STARTED] = now
        store[sessions.LAST_SEEN] = now
        store.create()
        assert store.session_key is not None
        account.session_key = store.session_key
    distinct = {role: len({a.pk for a in accounts if a.role == role}) for role in counts}
    return Setup(
        accounts={role: available[role] for role in counts},
        sessions=accounts,
        created_devices=created,
        counts=distinct,
    )


def cleanup(setup: Setup | None) -> None:
    if setup is None:
        return
    from django.contrib.sessions.models import Session
    from django.db import close_old_connections
    from django_otp.plugins.otp_totp.models import TOTPDevice

    close_old_connections()
    Session.objects.filter(session_key__in=[a.session_key for a in setup.sessions]).delete()
    TOTPDevice.objects.filter(pk__in=setup.created_devices).delete()


def sign_checkpoint(directory: Path) -> str:
    """A throw-away key signs the current head (see the module docstring)."""
    from io import StringIO

    from django.core.management import call_command

    key = directory / "bench-signing-key.pem"
    call_command(
        "audit_checkpoint", key=key, checkpoint_dir=directory, generate_key=True, stdout=StringIO()
    )
    out = StringIO()
    call_command("audit_checkpoint", key=key, checkpoint_dir=directory, no_verify=True, stdout=out)
    key.unlink()
    return out.getvalue().strip()


def database_counts() -> dict[str, int]:
    """Requests, accounts, and audit events (the head's seq: counting millions
    of rows would take seconds)."""
    from accounts.models import User
    from audit import log
    from requests_app.models import DisclosureRequest

    return {
        "requests": DisclosureRequest.objects.count(),
        "accounts": User.objects.count(),
        "events": log.current_head()[0],
    }


# ---------------------------------------------------------------------------
# The server.


def server_env(
    port: int, database_url: str, secret_key: str, stats_dir: Path, checkpoint_dir: Path
) -> dict[str, str]:
    from django.conf import settings

    # bench/harness.py: login_flood.py's production settings on this database,
    # with what generate.py recorded for it (passphrase, trust root, ...).
    env: dict[str, str] = bench_common().production_env(database_url, port)
    env.update(
        {
            "DJANGO_SECRET_KEY": secret_key,
            # Where this database's files and trust roots are, as the bench
            # process sees them (the demo and generate.py write under var/).
            "HUISCLOS_PRIVATE_ROOT": str(settings.PRIVATE_STORAGE_ROOT),
            "HUISCLOS_SIGNING_TRUST_ROOTS": ",".join(settings.HUISCLOS_SIGNING_TRUST_ROOTS),
            "HUISCLOS_AUDIT_CHECKPOINT_DIR": str(checkpoint_dir),
            "LOAD_USERS_STATS_DIR": str(stats_dir),
        }
    )
    return env


def start_server(
    port: int, env: dict[str, str], args: argparse.Namespace, workdir: Path
) -> subprocess.Popen[bytes]:
    config = workdir / "gunicorn_hooks.py"
    # The hooks below, loaded in the server; bench/ goes last on its path so
    # that the app's own `common` package stays first.
    config.write_text(
        f"import sys\nsys.path.append({str(BENCH)!r})\n"
        "from load_users import post_fork, post_request, pre_request, worker_exit  # noqa: F401\n"
    )
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "config.wsgi:application",
        "--config",
        str(config),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--timeout",
        "60",
        "--log-level",
        "warning",
    ]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    if args.profile:
        env = {**env, "LOAD_USERS_PROFILE": args.profile}
    log = (workdir / "gunicorn.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn did not start:\n{(workdir / 'gunicorn.log').read_text()[-3000:]}")
        try:
            status, _, _ = request(port, "GET", "/connexion/")
            if status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    sys.exit("gunicorn did not answer within 60 s")


def stop_server(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---------------------------------------------------------------------------
# CPU accounting from /proc.

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces: fields start after its ")".
    return text[text.rindex(")") + 2 :].split()


def process_cpu(pid: int, children: bool = True) -> float:
    """CPU seconds of a process (and of its reaped children)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # utime, stime, cutime, cstime are fields 14-17 (1-based); here 11-14.
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def child_pids(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == parent:
                pids.append(int(entry.name))
    return pids


def gunicorn_cpu(master: int) -> float:
    """Master, live workers, and every reaped worker or child (cutime)."""
    return process_cpu(master) + sum(process_cpu(pid) for pid in child_pids(master))


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


@dataclass
class Mark:
    """CPU counters at one moment of the load."""

    at: float
    server: float
    bench: float
    machine: float
    load: tuple[float, float, float]

    @classmethod
    def now(cls, master: int) -> Mark:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return cls(
            at=time.monotonic(),
            server=gunicorn_cpu(master),
            bench=usage.ru_utime + usage.ru_stime,
            machine=machine_cpu(),
            load=os.getloadavg(),
        )


class BackendMonitor(threading.Thread):
    """CPU of the PostgreSQL backends serving the database, polled each second.

    Backends come and go (CONN_MAX_AGE 60 s): one that started during the
    window counts from zero; one that ended between two polls loses at most
    its last second.
    """

    def __init__(self, database_url: str, database: str) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.database = database
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop = threading.Event()
        self.started_at = 0.0

    def poll(self, conn: Any) -> None:
        rows = conn.execute(
            "SELECT pid, extract(epoch FROM backend_start) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [self.database],
        ).fetchall()
        for pid, started in rows:
            cpu = process_cpu(pid, children=False)
            if pid not in self.first:
                self.first[pid] = 0.0 if float(started) >= self.started_at else cpu
            self.last[pid] = cpu

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            self.started_at = time.time()
            self.poll(conn)
            while not self.stop.wait(1.0):
                self.poll(conn)
            self.poll(conn)

    def cpu(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


# ---------------------------------------------------------------------------
# The simulated users.


@dataclass
class Sample:
    phase: str
    kind: str
    role: str
    started: float
    seconds: float
    status: int
    error: str = ""


class Run:
    """Shared state of the load: the current phase and the samples."""

    def __init__(self) -> None:
        self.phase = "warmup"
        self.samples: list[Sample] = []
        self.stop = threading.Event()


REQUEST_LINK = re.compile(r'href="(/demandes/\d+/)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# Links a request page may offer, which later steps follow.
OFFERS = {
    "summary": r"/demandes/\d+/resume/",
    "reply_pdf": r"/demandes/\d+/reponse\.pdf",
    "sign": r"/demandes/\d+/signer/",
    "assign": r"/demandes/\d+/attribuer/",
}
# Assignment pages already posted by some user (--writes).
ASSIGNED: set[str] = set()
PAGE_IMAGE = re.compile(r'<img[^>]*\bsrc="(/demandes/\d+/lettre-reponse/page/\d+\.png)"')
SORT_FIELD = re.compile(r'<input type="hidden" name="sort" value="([^"]*)"')
SUBMISSION = re.compile(r'name="submission_token" value="([^"]+)"')
ANCHOR = re.compile(r"<a\b([^>]*)>(.*?)</a>", re.S)
HREF = re.compile(r'href="([^"]*)"')
NEXT_TEXT = {"Page suivante", "Next page"}


def next_link(body: str) -> str | None:
    """The page's link to the next page: rel="next", else by its label."""
    for attributes, text in ANCHOR.findall(body):
        if 'rel="next"' in attributes or text.strip() in NEXT_TEXT:
            href = HREF.search(attributes)
            if href:
                return html.unescape(href.group(1))
    return None


def select_options(body: str, name: str) -> list[str]:
    match = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', body, re.S)
    if not match:
        return []
    return [html.unescape(v) for v in re.findall(r'<option value="([^"]*)"', match.group(1)) if v]


def links(body: str, pattern: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(rf'href="({pattern})"', body)]


def absolute(base: str, href: str) -> str:
    """A link as the page gives it (absolute path or "?query") as a path."""
    if href.startswith("?"):
        return base.split("?", 1)[0] + href
    return href


class Browser:
    """One user's browser: cookies and one keep-alive connection."""

    def __init__(self, port: int, session_key: str, run: Run, role: str) -> None:
        self.port = port
        self.cookies = {"sessionid": session_key}
        self.conn: http.client.HTTPConnection | None = None
        self.run = run
        self.role = role

    def _send(self, method: str, path: str, body: str | None, headers: dict[str, str]) -> Any:
        # A kept-alive connection the server closed while the user was
        # thinking is opened again and the request sent again, as browsers do.
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            reused = self.conn.sock is not None
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                return response, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = None
                if not reused or attempt:
                    raise
        raise AssertionError("unreachable")

    def request(
        self, method: str, path: str, kind: str, form: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        """Status, body (text; empty for files) and Location."""
        phase = self.run.phase
        headers = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "Accept-Language": "fr-BE,fr;q=0.9",
            "User-Agent": "huisclos-load-users-bench",
            "X-Load-Phase": phase,
            "X-Load-Kind": kind,
        }
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            response, data = self._send(method, path, body, headers)
        except (OSError, http.client.HTTPException) as error:
            elapsed = time.perf_counter() - started
            self.run.samples.append(
                Sample(phase, kind, self.role, started, elapsed, 0, type(error).__name__)
            )
            if self.conn is not None:
                self.conn.close()
                self.conn = None
            return 0, "", ""
        elapsed = time.perf_counter() - started
        self.run.samples.append(Sample(phase, kind, self.role, started, elapsed, response.status))
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                cookie, _, content = pair.partition("=")
                if not content or "max-age=0" in value.lower():
                    self.cookies.pop(cookie.strip(), None)
                else:
                    self.cookies[cookie.strip()] = content
        text = ""
        if response.getheader("Content-Type", "").startswith("text/html"):
            text = data.decode("utf-8", "replace")
        return response.status, text, response.getheader("Location", "")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


class SimUser:
    """A simulated user: a role, a browser, what the last pages offered."""

    def __init__(self, account: Account, port: int, run: Run, seed: int, writes: bool) -> None:
        self.role = account.role
        self.browser = Browser(port, account.session_key, run, account.role)
        self.random = random.Random(seed)
        self.writes = writes
        mix = MIXES[self.role]
        self.steps = list(mix)
        self.weights = [mix[s] for s in self.steps]
        self.requests: list[str] = []  # request pages linked from the last list
        self.register_next: str | None = None
        self.register_sorts: list[str] = []
        self.register_csrf: str | None = None
        self.register_sort: str | None = None
        self.states: list[str] = []
        self.offers: dict[str, list[str]] = {what: [] for what in OFFERS}
        self.audit_links: dict[str, list[str]] = {}
        self.audit_next: str | None = None
        self.audit_actions: list[str] = []
        self.audit_access: str | None = None

    # Each step is one page view. ----------------------------------------

    def step(self) -> None:
        name = self.random.choices(self.steps, self.weights)[0]
        getattr(self, f"do_{name}")()

    def get(self, path: str, kind: str) -> tuple[int, str, str]:
        return self.browser.request("GET", path, kind)

    def do_home(self) -> None:
        # Each role has its own home page (its work queues): timed apart.
        _, body, _ = self.get("/", f"home {self.role}")
        if body:
            self.requests = REQUEST_LINK.findall(body) or self.requests

    def _read_register(self, path: str, kind: str) -> None:
        _, body, _ = self.get(path, kind)
        if not body:
            return
        self.requests = REQUEST_LINK.findall(body) or self.requests
        self.register_next = next_link(body)
        if self.register_next:
            self.register_next = absolute("/demandes/", self.register_next)
        self.register_sorts = [
            absolute("/demandes/", h)
            for h in links(body, r"\?[^\"]*sort=[^\"]*")
            if "page=" not in h
        ]
        csrf = CSRF.search(body)
        self.register_csrf = csrf.group(1) if csrf else None
        sort = SORT_FIELD.search(body)
        self.register_sort = html.unescape(sort.group(1)) if sort else None
        self.states = select_options(body, "state") or self.states

    def do_register(self) -> None:
        self._read_register("/demandes/", "register")

    def do_register_next(self) -> None:
        if self.register_next is None:
            return self.do_register()
        self._read_register(self.register_next, "register_next")

    def do_register_sort(self) -> None:
        if not self.register_sorts:
            return self.do_register()
        self._read_register(self.random.choice(self.register_sorts), "register_sort")

    def _criteria(self) -> dict[str, str]:
        draw = self.random.random()
        if self.role in {"referent", "president", "dg"} and draw < 0.6:
            return {"person": self.random.choice(SURNAMES)}
        if draw < 0.8 and self.states:
            return {"state": self.random.choice(self.states)}
        if draw < 0.9:
            return {"overdue": "on"}
        return {"q": self.random.choice(["2026", "2025", "Police", "Parquet", "Tribunal"])}

    def do_search(self) -> None:
        if self.register_csrf is None:
            self.do_register()
            if self.register_csrf is None:
                return
        form = {"csrfmiddlewaretoken": self.register_csrf, **self._criteria()}
        if self.register_sort:
            form["sort"] = self.register_sort
        status, _, location = self.browser.request("POST", "/demandes/", "search_post", form)
        if status == 302 and location:
            self._read_register(absolute("/demandes/", location), "search_results")

    def do_request(self) -> None:
        if not self.requests:
            self.do_home()
            if not self.requests:
                return
        path = self.random.choice(self.requests)
        _, body, _ = self.get(path, "request")
        if body:
            self._remember(path, body)

    def _remember(self, path: str, body: str) -> None:
        """The links this request page offers, kept with those of the last
        requests seen (the user comes back to one of them)."""
        for what, pattern in OFFERS.items():
            kept = [h for h in self.offers[what] if not h.startswith(path)]
            self.offers[what] = (kept + links(body, pattern)[:1])[-10:]

    def _offered(self, what: str, kind: str) -> tuple[str, tuple[int, str, str]] | None:
        candidates = [h for h in self.offers[what] if h not in ASSIGNED]
        if not candidates:
            # Open another request: maybe it offers the link.
            self.do_request()
            return None
        href = self.random.choice(candidates)
        return href, self.get(href, kind)

    def do_summary(self) -> None:
        self._offered("summary", "summary")

    def do_reply_pdf(self) -> None:
        self._offered("reply_pdf", "reply_pdf")

    def do_sign(self) -> None:
        offered = self._offered("sign", "sign_page")
        if offered is None or not offered[1][1]:
            return
        # The first page is loaded eagerly, the others when scrolled to.
        image = PAGE_IMAGE.search(offered[1][1])
        if image:
            self.get(html.unescape(image.group(1)), "page_image")

    def do_assign(self) -> None:
        offered = self._offered("assign", "assign_page")
        if offered is None or not offered[1][1] or not self.writes:
            return
        href, (_, body, _) = offered
        csrf, token = CSRF.search(body), SUBMISSION.search(body)
        referents = select_options(body, "referent")
        if not (csrf and token and referents) or href in ASSIGNED:
            return
        # Colleagues do not assign a request twice: it leaves their list.
        ASSIGNED.add(href)
        form = {
            "csrfmiddlewaretoken": csrf.group(1),
            "submission_token": token.group(1),
            "referent": self.random.choice(referents),
        }
        status, _, location = self.browser.request("POST", href, "assign_post", form)
        if status == 302 and location:
            self.get(absolute("/", location), "request")

    def do_create_form(self) -> None:
        self.get("/demandes/nouvelle/", "create_form")

    def do_legal_bases(self) -> None:
        self.get("/bases-legales/", "legal_bases")

    def _read_audit(self, path: str, kind: str) -> str:
        _, body, _ = self.get(path, kind)
        if body:
            trails = links(body, r"/audit/demandes/[^\"/]+/")
            users = links(body, r"/audit/utilisateurs/\?utilisateur=[^\"]+")
            if trails or users:
                self.audit_links = {"trail": trails, "user": users}
        return body

    def do_audit_timeline(self) -> None:
        body = self._read_audit("/audit/", "audit_timeline")
        if body:
            self.audit_next = next_link(body)
            if self.audit_next:
                self.audit_next = absolute("/audit/", self.audit_next)
            self.audit_actions = select_options(body, "action") or self.audit_actions

    def do_audit_next(self) -> None:
        if self.audit_next is None:
            return self.do_audit_timeline()
        body = self._read_audit(self.audit_next, "audit_next")
        nxt = next_link(body) if body else None
        self.audit_next = absolute("/audit/", nxt) if nxt else None

    def do_audit_filter(self) -> None:
        if not self.audit_actions:
            return self.do_audit_timeline()
        action = self.random.choice(self.audit_actions)
        self._read_audit("/audit/?" + urlencode({"action": action}), "audit_filter")

    def do_audit_trail(self) -> None:
        if not self.audit_links.get("trail"):
            return self.do_audit_timeline()
        body = self._read_audit(self.random.choice(self.audit_links["trail"]), "audit_trail")
        access = links(body, r"/audit/demandes/[^\"/]+/acces/") if body else []
        self.audit_access = access[0] if access else None

    def do_audit_access(self) -> None:
        if self.audit_access is None:
            return self.do_audit_trail()
        self._read_audit(self.audit_access, "audit_access")

    def do_audit_user(self) -> None:
        if not self.audit_links.get("user"):
            return self.do_audit_timeline()
        self._read_audit(self.random.choice(self.audit_links["user"]), "audit_user")

    def do_audit_verification(self) -> None:
        self.get("/audit/verification/", "audit_verification")


def user_loop(user: SimUser, run: Run, think: tuple[float, float]) -> None:
    # Users arrive over the first think time, not all in the same second.
    if run.stop.wait(user.random.uniform(0, think[1])):
        return
    while not run.stop.is_set():
        try:
            user.step()
        except Exception as error:  # a bench bug must not stop the others
            run.samples.append(
                Sample(run.phase, "bench_error", user.role, time.perf_counter(), 0, 0, repr(error))
            )
        if run.stop.wait(user.random.uniform(*think)):
            return


def concurrent(
    users: list[SimUser],
    run: Run,
    seconds: float,
    phases: Iterable[tuple[float, str]] = (),
    on_phase: Callable[[str], None] | None = None,
) -> None:
    """All users for `seconds`; `phases` switches the phase label at offsets
    (then calls `on_phase` with it); a step started before the end finishes."""
    run.stop.clear()
    threads = [threading.Thread(target=user_loop, args=(u, run, THINK_SECONDS)) for u in users]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for offset, phase in phases:
        time.sleep(max(0.0, start + offset - time.monotonic()))
        run.phase = phase
        if on_phase is not None:
            on_phase(phase)
    time.sleep(max(0.0, start + seconds - time.monotonic()))
    run.stop.set()
    for thread in threads:
        thread.join()


# ---------------------------------------------------------------------------
# Figures.


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def summarise(samples: list[Sample]) -> dict[str, float]:
    values = [s.seconds * 1000 for s in samples]
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
    }


def is_error(sample: Sample) -> bool:
    return bool(sample.error) or not 200 <= sample.status < 400


EXCEPTION_LINE = re.compile(
    r"^((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|DoesNotExist|Timeout)):"
)


def server_errors(log: Path) -> Counter[str]:
    """Exception classes in the server's log (class names only: the messages
    may quote data), and worker timeouts."""
    counts: Counter[str] = Counter()
    if not log.is_file():
        return counts
    for line in log.read_text(errors="replace").splitlines():
        if match := EXCEPTION_LINE.match(line):
            counts[match.group(1)] += 1
        elif "WORKER TIMEOUT" in line:
            counts["WORKER TIMEOUT"] += 1
    return counts


def read_server_stats(directory: Path) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for path in directory.glob("worker-*.json"):
        rows.extend(json.loads(path.read_text()))
    return rows


# Where a request's time goes, from the cProfile of the workers: cumulative
# time of these functions (file suffix, function name), per request. They
# overlap (a template renders inside the view).
PROFILE_PARTS = [
    ("whole request (WSGIHandler.__call__)", "django/core/handlers/wsgi.py", "__call__"),
    (
        "view, inside the middleware (_get_response)",
        "django/core/handlers/base.py",
        "_get_response",
    ),
    ("session load (SessionStore.load)", "django/contrib/sessions/backends/db.py", "load"),
    (
        "session save (SessionMiddleware.process_response)",
        "django/contrib/sessions/middleware.py",
        "process_response",
    ),
    ("user load (auth.get_user)", "django/contrib/auth/__init__.py", "get_user"),
    (
        "OTP device (OTPMiddleware._verify_user_sync)",
        "django_otp/middleware.py",
        "_verify_user_sync",
    ),
    ("messages (process_response)", "django/contrib/messages/middleware.py", "process_response"),
    ("CSRF (process_view)", "django/middleware/csrf.py", "process_view"),
    ("roles (User.roles_on)", "accounts/models.py", "roles_on"),
    ("audit append (audit.log.append)", "audit/log.py", "append"),
    ("template rendering (Template.render)", "django/template/base.py", "render"),
    ("SQL (CursorWrapper._execute, with the wait)", "django/db/backends/utils.py", "_execute"),
    ("  of which waiting for PostgreSQL (psycopg wait)", "psycopg/connection.py", "wait"),
    ("signature check (verify_reply_document)", "letters/", "verify_reply_document"),
    ("page image (preview.page_png)", "letters/preview.py", "page_png"),
    ("URL reverse", "django/urls/base.py", "reverse"),
    ("translation (gettext)", "django/utils/translation/__init__.py", "gettext"),
]


def print_profile(directory: Path, requests: int) -> None:
    import pstats

    files = sorted(directory.glob("worker-*.prof"))
    if not files or not requests:
        print("profile: no data")
        return
    stats = pstats.Stats(str(files[0]))
    for path in files[1:]:
        stats.add(str(path))
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    parts: dict[str, float] = {}
    print(
        f"\nWhere a request's wall time goes (cProfile in the workers, {requests} requests, "
        "cumulative ms per request; parts overlap; the profiler inflates call-dense code\n"
        "such as template rendering: take shares from here, CPU from the table above):"
    )
    for label, suffix, name in PROFILE_PARTS:
        total = 0.0
        calls = 0
        for (filename, _, function), (_, nc, _, ct, _) in table.items():
            if function == name and suffix in filename:
                total += ct
                calls += nc
        if calls:
            parts[label] = total
            print(
                f"  {label:<52} {total / requests * 1000:7.1f} ms  ({calls / requests:.1f} calls)"
            )
    outside = parts.get(PROFILE_PARTS[0][0], 0.0) - parts.get(PROFILE_PARTS[1][0], 0.0)
    print(
        f"  {'middleware around the view (whole - view)':<52} {outside / requests * 1000:7.1f} ms"
    )
    print("\nTop functions by own time (ms per request):")
    ranked = sorted(table.items(), key=lambda item: -item[1][2])[:25]
    for (filename, line, function), (_, nc, tt, ct, _) in ranked:
        where = filename.replace(str(ROOT) + "/", "").replace(
            str(ROOT / ".venv" / "lib") + "/", ""
        )
        where = re.sub(r"^python3\.\d+/site-packages/", "", where)
        print(
            f"  {tt / requests * 1000:6.2f} own {ct / requests * 1000:7.2f} cum  "
            f"{nc / requests:7.1f} calls  {function} ({where[-60:]}:{line})"
        )


def print_report(
    run: Run,
    server_rows: list[list[Any]],
    args: argparse.Namespace,
    window: float,
    cpu: dict[str, float],
    loads: tuple[tuple[float, ...], tuple[float, ...]],
) -> dict[str, float]:
    load = [s for s in run.samples if s.phase == "load"]
    idle = [s for s in run.samples if s.phase == "baseline"]
    kinds = sorted({s.kind for s in load} | {s.kind for s in idle})
    server: dict[tuple[str, str], list[list[Any]]] = defaultdict(list)
    for row in server_rows:
        server[(row[0], row[1])].append(row)

    def line(label: str, under: list[Sample], base: list[Sample], rows: list[list[Any]]) -> str:
        a, b = summarise(under), summarise(base)
        ratio = a["p95"] / b["p95"] if b["n"] and a["n"] else math.nan
        walls = [r[2] * 1000 for r in rows]
        cpus = [r[3] * 1000 for r in rows]
        queries = [r[4] for r in rows]
        db = [r[5] * 1000 for r in rows]
        lock = [r[7] * 1000 for r in rows]
        return (
            f"{label:<20}{a['n']:6.0f}{a['p50']:8.1f}{a['p95']:8.1f}{a['p99']:8.1f}{a['max']:8.1f}"
            f" |{b['n']:5.0f}{b['p50']:7.1f}{b['p95']:7.1f} |{ratio:6.1f}"
            f" |{percentile(walls, 50):7.1f}{mean(cpus):7.1f}{mean(queries):6.1f}{mean(db):7.1f}"
            f"{mean(lock):7.1f}"
        )

    print(
        "\n                      --------- under load (ms) -------- | -- idle (ms) - | p95  "
        "| server, under load"
    )
    print(
        f"{'kind':<20}{'n':>6}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8} |{'n':>5}{'p50':>7}"
        f"{'p95':>7} | ratio | wall50 cpu ms  SQL  SQL ms lock ms"
    )
    for kind in kinds:
        print(
            line(
                kind,
                [s for s in load if s.kind == kind],
                [s for s in idle if s.kind == kind],
                server.get(("load", kind), []),
            )
        )
    page_rows = [
        r
        for (phase, kind), rs in server.items()
        if phase == "load" and kind not in FILE_KINDS
        for r in rs
    ]
    all_rows = [r for (phase, _), rs in server.items() if phase == "load" for r in rs]
    pages_load = [s for s in load if s.kind not in FILE_KINDS]
    pages_idle = [s for s in idle if s.kind not in FILE_KINDS]
    print("-" * 119)
    print(line("pages (HTML, 302)", pages_load, pages_idle, page_rows))
    print(line("all requests", load, idle, all_rows))

    # The same requests served one at a time: what each page costs the
    # server by itself (CPU of the worker; SQL time is mostly PostgreSQL's),
    # and each kind's share of the server's CPU and SQL time under load.
    print(
        f"\n{'server side, idle':<20}{'n':>6}{'wall50':>8}{'wall95':>8}{'cpu ms':>8}"
        f"{'SQL':>6}{'SQL ms':>8}{'SQL95':>8} | share under load: CPU   SQL"
    )
    idle_rows = [r for (phase, _), rs in server.items() if phase == "baseline" for r in rs]
    load_cpu = sum(r[3] for r in all_rows) or math.nan
    load_sql = sum(r[5] for r in all_rows) or math.nan
    for kind in [*kinds, "all requests"]:
        rows = idle_rows if kind == "all requests" else server.get(("baseline", kind), [])
        under = all_rows if kind == "all requests" else server.get(("load", kind), [])
        walls = [r[2] * 1000 for r in rows]
        sql = [r[5] * 1000 for r in rows]
        print(
            f"{kind:<20}{len(rows):6d}{percentile(walls, 50):8.1f}{percentile(walls, 95):8.1f}"
            f"{mean([r[3] * 1000 for r in rows]):8.1f}{mean([r[4] for r in rows]):6.1f}"
            f"{mean(sql):8.1f}{percentile(sql, 95):8.1f} |"
            f"{sum(r[3] for r in under) / load_cpu * 100:22.0f} %"
            f"{sum(r[5] for r in under) / load_sql * 100:4.0f} %"
        )

    errors = [s for s in load if is_error(s)]
    error_kinds = Counter(f"{s.kind}:{s.error or s.status}" for s in errors)
    other_errors = [s for s in run.samples if s.phase != "load" and is_error(s)]
    requests = len(load)
    pages_summary = summarise(pages_load)
    idle_summary = summarise(pages_idle)
    print(
        f"\nthroughput: {requests / window:.1f} requests/s "
        f"({len(pages_load) / window:.1f} pages/s) "
        f"over {window:.0f} s; {sum(1 for s in load if s.kind in FILE_KINDS)} files"
    )
    print(f"errors under load: {len(errors)} {dict(error_kinds) if errors else ''}")
    if other_errors:
        counts = Counter(f"{s.phase}:{s.kind}:{s.error or s.status}" for s in other_errors)
        print(f"errors in the other phases (judged too): {dict(counts)}")
    waits = []
    served = sorted(all_rows, key=lambda r: r[2])
    if served:
        # Time spent waiting for a worker and on the wire: client minus server.
        client = sorted(s.seconds * 1000 for s in load)
        waits = [
            percentile(client, q) - percentile([r[2] * 1000 for r in served], q) for q in (50, 95)
        ]
        print(
            f"client latency minus server wall (queueing for a worker, loopback): "
            f"p50 {waits[0]:.1f} ms, p95 {waits[1]:.1f} ms"
        )
    appends = [r[7] * 1000 for r in all_rows if r[7] > 0]
    if appends:
        print(
            f"chain-head lock wait, {len(appends)} audited requests (SELECT ... FOR UPDATE): "
            f"p50 {percentile(appends, 50):.1f} ms, p95 {percentile(appends, 95):.1f} ms, "
            f"max {max(appends):.1f} ms"
        )
    slots = args.workers * (args.threads if args.worker_class == "gthread" else 1)
    busy = sum(r[2] for r in all_rows) / (slots * window)
    print(
        f"request slots busy (server wall / ({slots} slots x window)): {busy * 100:.0f} %; "
        f"server CPU inside requests / wall: "
        f"{sum(r[3] for r in all_rows) / max(1e-9, sum(r[2] for r in all_rows)) * 100:.0f} %"
    )
    cores = os.cpu_count() or 1
    print(f"\nCPU over the {window:.0f} s window ({cores} cores = {cores * window:.0f} CPU-s):")
    for label, key in [
        ("gunicorn (master, workers, their children)", "server"),
        ("PostgreSQL backends of this database", "postgres"),
        ("load generator (this process, all threads)", "bench"),
        ("rest of the machine (other processes)", "other"),
    ]:
        value = cpu[key]
        per = value / requests * 1000 if requests else math.nan
        print(
            f"  {label:<46} {value:7.1f} CPU-s  "
            f"{value / window / cores * 100:5.1f} % of the machine"
            f"  {per:6.1f} ms per request"
        )
    served_cpu = sum(r[3] for r in all_rows)
    print(
        f"  (inside Django's requests, as the workers timed them: {served_cpu:.1f} CPU-s, "
        f"{served_cpu / max(1, len(all_rows)) * 1000:.1f} ms per request)"
    )
    print(
        f"load average at start {loads[0][0]:.2f} {loads[0][1]:.2f} {loads[0][2]:.2f}, "
        f"at end {loads[1][0]:.2f} {loads[1][1]:.2f} {loads[1][2]:.2f}"
    )
    return {
        "pages_p95": pages_summary["p95"],
        "idle_p95": idle_summary["p95"],
        "errors": float(len(errors) + len(other_errors)),
        "requests": float(requests),
    }


def run_verify(database_url: str, checkpoint_dir: Path) -> tuple[bool, str, float]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LOAD_USERS_")},
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": database_url,
    }
    started = time.perf_counter()
    result = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "manage.py",
            "verify_audit",
            "--checkpoint-dir",
            str(checkpoint_dir),
            "--no-status",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    output = (result.stdout + result.stderr).strip()
    return result.returncode == 0, output, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--baseline-steps", type=int, default=300)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--nginx", action="store_true", help="deploy/nginx.conf in front")
    parser.add_argument(
        "--profile",
        choices=["baseline", "load"],
        help="cProfile the workers during this phase (slows that phase's requests)",
    )
    parser.add_argument(
        "--writes",
        action="store_true",
        help="the Président and the DG post the assign form of requests awaiting assignment",
    )
    parser.add_argument(
        "--checkpoint-dir",
        type=Path,
        help="verify against this checkpoint directory instead of signing the head "
        "before the load",
    )
    parser.add_argument(
        "--skip-verify",
        action="store_true",
        help="do not run verify_audit (exploration only: that target then fails)",
    )
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    if args.profile and args.worker_class != "sync":
        parser.error("--profile needs sync workers (cProfile follows one thread)")
    if args.nginx and not Path("/usr/sbin/nginx").exists():
        parser.error("--nginx needs /usr/sbin/nginx (apt-get install nginx)")
    if not args.database_url:
        parser.error("give --database-url or DATABASE_URL")
    database = database_name(args.database_url)
    if database in REFUSED_DATABASES:
        parser.error(f"refusing the database {database!r}: give the bench its own")

    secret_key = secrets.token_urlsafe(50)
    setup_django(args.database_url, secret_key)
    workdir = Path(tempfile.mkdtemp(prefix="load-users-"))
    (workdir / "checkpoints").mkdir()
    setup: Setup | None = None
    process: subprocess.Popen[bytes] | None = None
    proxy: subprocess.Popen[bytes] | None = None
    run = Run()
    try:
        counts = database_counts()
        setup = make_sessions(args.users)
        # The checkpoints verify_audit checks at the end: given, or those
        # generate.py keeps for its database, or the head signed now.
        generated = generated_env(database).get("HUISCLOS_AUDIT_CHECKPOINT_DIR")
        checkpoint_dir = args.checkpoint_dir or (Path(generated) if generated else None)
        signed = ""
        if checkpoint_dir is None:
            checkpoint_dir = workdir / "checkpoints"
            signed = sign_checkpoint(checkpoint_dir)
        from django.db import connections

        connections.close_all()

        port = free = free_port()
        process = start_server(
            free,
            server_env(free, args.database_url, secret_key, workdir, checkpoint_dir),
            args,
            workdir,
        )
        if args.nginx:
            (workdir / "nginx").mkdir()
            port = free_port()
            proxy = start_nginx(free, port, workdir / "nginx")

        users = [
            SimUser(account, port, run, args.seed * 1000 + i, args.writes)
            for i, account in enumerate(setup.sessions)
        ]
        mix = ", ".join(f"{n} {role}" for role, n in role_counts(args.users).items())
        distinct = ", ".join(f"{n} {role}" for role, n in setup.counts.items())
        print(
            f"Huis clos under {len(users)} simulated users ({mix}); think time "
            f"{THINK_SECONDS[0]}-{THINK_SECONDS[1]} s; "
            + ("writes: the assign form" if args.writes else "reads only")
        )
        print(
            f"database {database}: {counts['requests']:,} requests, {counts['events']:,} audit "
            f"events, {counts['accounts']:,} accounts; sessions made server-side for "
            f"{distinct} distinct accounts; {len(setup.created_devices)} TOTP devices added "
            "for the run"
        )
        print(
            f"server: gunicorn {args.workers} {args.worker_class} workers"
            + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
            + ", production settings (DEBUG off), "
            + ("behind deploy/nginx.conf" if args.nginx else "direct")
            + " on 127.0.0.1"
            + (f"; cProfile during {args.profile}" if args.profile else "")
        )
        if signed:
            print(f"audit head signed before the load ({signed.split(' ->')[0]})")
        else:
            print("audit checkpoints: " + ("generate.py's" if generated else "--checkpoint-dir"))
        sys.stdout.flush()

        # Warm-up: all users, not measured.
        run.phase = "warmup"
        concurrent(users, run, args.warmup, [])
        # Baseline: one user at a time, no think time.
        run.phase = "baseline"
        for i in range(args.baseline_steps):
            user = users[i % len(users)]
            try:
                user.step()
            except Exception as error:
                run.samples.append(
                    Sample("baseline", "bench_error", user.role, 0, 0, 0, repr(error))
                )
        time.sleep(1)
        # Load: a ramp, then the measured window.
        run.phase = "ramp"
        monitor = BackendMonitor(args.database_url, database)
        marks: dict[str, Mark] = {}

        def on_phase(phase: str) -> None:
            assert process is not None
            marks[phase] = Mark.now(process.pid)
            if phase == "load":
                monitor.start()

        concurrent(
            users,
            run,
            RAMP_SECONDS + args.seconds,
            [(RAMP_SECONDS, "load"), (RAMP_SECONDS + args.seconds, "drain")],
            on_phase,
        )
        monitor.stop.set()
        monitor.join()
        start, end = marks["load"], marks["drain"]
        window = end.at - start.at
        server_cpu = end.server - start.server
        bench_cpu = end.bench - start.bench
        postgres_cpu = monitor.cpu()
        cpu = {
            "server": server_cpu,
            "postgres": postgres_cpu,
            "bench": bench_cpu,
            "other": max(0.0, end.machine - start.machine - server_cpu - postgres_cpu - bench_cpu),
        }
        for user in users:
            user.browser.close()
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=30)
            proxy = None
        stop_server(process)
        process = None
        server_rows = read_server_stats(workdir)
        if errors := server_errors(workdir / "gunicorn.log"):
            print(f"server log, exceptions (chained ones count apart): {dict(errors)}")
        figures = print_report(run, server_rows, args, window, cpu, (start.load, end.load))
        if args.profile:
            profiled = sum(1 for r in server_rows if r[0] == args.profile)
            print_profile(workdir, profiled)

        if args.skip_verify:
            ok, output, seconds = False, "not run (--skip-verify)", 0.0
        else:
            ok, output, seconds = run_verify(args.database_url, checkpoint_dir)
        print(f"\nmanage.py verify_audit ({seconds:.1f} s): {output}")
        targets = [
            (
                f"pages p95 {figures['pages_p95']:.1f} ms < {PAGES_P95_TARGET_MS:.0f} ms "
                f"(idle p95 {figures['idle_p95']:.1f} ms, ratio "
                f"{figures['pages_p95'] / figures['idle_p95']:.1f})",
                figures["pages_p95"] < PAGES_P95_TARGET_MS,
            ),
            (f"errors {figures['errors']:.0f} = 0 (every phase)", figures["errors"] == 0),
            ("verify_audit passes", ok),
        ]
        print()
        for label, passed in targets:
            print(f"{'PASS' if passed else 'FAIL'}  {label}")
        return 0 if all(passed for _, passed in targets) else 1
    finally:
        if proxy is not None:
            proxy.terminate()
        stop_server(process)
        cleanup(setup)
        if os.environ.get("LOAD_USERS_KEEP"):
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
