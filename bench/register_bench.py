"""Benchmark: the register at scale (issue 15).

Usage (PostgreSQL on 127.0.0.1:5432, user postgres, trust):

    # one database built by bench/generate.py
    .venv/bin/python bench/register_bench.py --database-url \\
        postgres://postgres@127.0.0.1:5432/huisclos_reg_100k [--requests 60] [--warmup 10]

    # growth: one generated database per size (built by generate.py when
    # missing, reused when it already holds that size), then the comparison
    .venv/bin/python bench/register_bench.py --sizes 1000,10000,100000

What it does, on one database:

1. Signs in, as bench/request_page_bench.py does, the first active Président
   and the first active secretariat account: a session with the second factor
   verified, written straight into the session table. A search is kept in the
   session as the register's form keeps it (criteria under a random key,
   never in the address).
2. The cases: page 1 (newest first); a deep page, reached with the keyset
   cursor of the row at position 50,000 (half the register when it is
   smaller), in the default order and by due date; every sortable column both
   ways; a state filter ("Opinion in preparation", an open state); for the
   Président only (the secretariat may not search content) a person search
   by last name, typed without accents or capitals, and by national number,
   typed with its dots and dash. Each content search is an audited read: it
   appends one `search_content` event to the chain, as in production.
3. The SQL of each page: the page is fetched once through Django's test
   client in this process and the statements it runs on the requests table
   (the cursor's position, the rows, the capped count) are captured as sent
   (psycopg binds client-side, so the text is exact); every other read of
   the page (session, user, roles, the form's catalogue...) too.
4. Per role and case, `--warmup` then `--requests` rounds, one after the
   other, each: GET the page from gunicorn (3 sync workers, production
   settings, DEBUG off, loopback; bench/harness.py's `start_gunicorn`), wall
   time seen by the client, the answer 200 with its result count; then run
   the register's captured statements with psycopg on a connection of its
   own, every row fetched (the raw SQL of the same page); then every read of
   the page likewise (printed, not judged). Interleaved, so that whatever
   else runs on the machine weighs on both sides of the ratio alike.

It prints, per role and case, the page's p50/p95, the raw SQL's p50/p95,
the ratio of the p95s, PASS/FAIL for p95 <= 50 ms and for ratio <= 3, and the
load average. Exit status 1 on any FAIL or error. The sessions it made are
deleted at the end.

With `--sizes`, each size's database is `huisclos_reg_<size>` (e.g.
huisclos_reg_100k), built by `bench/generate.py --requests SIZE --events
SIZE*--events-per-request` unless it already holds that size; each is
prepared (steps 1-3) in a process of its own, since Django is set up once
per process; then one gunicorn per database, and every round of step 4 goes
through the sizes in turn, so that the sizes are compared under the same
load. It prints each size's table, then per role and case the p95 at each
size and max/min: target <= 1.5, judged on page 1; and the SQL p50 per size.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(BENCH))

import harness  # noqa: E402
import login_flood  # noqa: E402
import request_page_bench as page_bench  # noqa: E402

database_name = page_bench.database_name
percentile = page_bench.percentile
request = page_bench.request
start_gunicorn = page_bench.start_gunicorn
stop_process = page_bench.stop_process

TARGET_P95_MS = 50.0
TARGET_RATIO = 3.0
TARGET_GROWTH = 1.5
DEEP_ROW = 50_000
MARK = b'class="result-count"'


@dataclass
class Case:
    label: str
    sort: str = "-reference"
    criteria: dict[str, str] | None = None
    deep: bool = False
    content: bool = False  # a content search: the Président only
    url: str = ""  # per role: the search key differs
    sql: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)


@dataclass
class Result:
    role: str
    case: str
    page_ms: list[float]
    raw_ms: list[float]
    reads_ms: list[float]
    statements: int
    reads: int

    def p(self, which: str, q: float) -> float:
        return float(percentile(getattr(self, which), q))


def ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


# ---------------------------------------------------------------------------
# One database


def deep_cursor(sort: str, position: int) -> int:
    """The pk of the row at `position` in that order: the cursor a reader who
    clicked "next page" that many rows deep would carry (OFFSET, once, here)."""
    from requests_app import queries
    from requests_app.models import DisclosureRequest

    order = queries.register_sort(sort)
    found = DisclosureRequest.objects.order_by(*order.order_by()).values_list("pk", flat=True)
    return int(found[position])


def person_terms() -> tuple[str, str]:
    """A last name as someone would type it (no accents, no capitals) that
    names a handful of requests, and a national number written with its dots."""
    from django.db.models import Count

    from requests_app.models import ConcernedPerson, search_key

    names = (
        ConcernedPerson.objects.values("last_name")
        .annotate(n=Count("request_id", distinct=True))
        .filter(n__gte=2, n__lte=20)
        .order_by("-n", "last_name")
    )
    accented = [
        row["last_name"]
        for row in names[:200]
        if search_key(row["last_name"]) != row["last_name"].lower()
    ]
    name = accented[0] if accented else names[0]["last_name"]
    number = (
        ConcernedPerson.objects.exclude(national_number="")
        .order_by("pk")
        .values_list("national_number", flat=True)
        .first()
    )
    if number is None:
        sys.exit("no person with a national number in this database")
    n = number
    return search_key(name), f"{n[:2]}.{n[2:4]}.{n[4:6]}-{n[6:9]}.{n[9:]}"


def build_cases(total: int) -> list[Case]:
    name, number = person_terms()
    position = min(DEEP_ROW, total // 2)
    cases = [Case("page 1")]
    cases.append(Case(f"deep page (row {position:,})", deep=True))
    cases.append(Case(f"deep page by due date (row {position:,})", sort="due_on", deep=True))
    for key in ("reference", "received_on", "requester", "state", "due_on"):
        for sort in (key, f"-{key}"):
            if sort != "-reference":
                cases.append(Case(f"sorted {sort}", sort=sort))
    cases.append(Case("state: opinion in preparation", criteria={"state": "awaiting_opinion"}))
    cases.append(Case("person: last name", criteria={"person": name}, content=True))
    cases.append(Case("person: national number", criteria={"person": number}, content=True))
    for case in cases:
        if case.deep:
            case.url = f"?sort={case.sort}&after={deep_cursor(case.sort, position)}"
        else:
            case.url = f"?sort={case.sort}"
    return cases


def keep_search(session_key: str, criteria: dict[str, str]) -> str:
    """Keep `criteria` in the session as the register's form does (views._keep_search)."""
    from django.contrib.sessions.backends.db import SessionStore

    from requests_app import views

    store = SessionStore(session_key)
    key = secrets.token_urlsafe(12)
    searches = dict(store.get(views.REGISTER_SEARCHES, {}))
    kept_at = dict(store.get(views.REGISTER_SEARCHES_AT, {}))
    searches[key] = criteria
    # Fresh for the whole run (searches expire after REGISTER_SEARCH_SECONDS).
    kept_at[key] = time.time() + 3600
    store[views.REGISTER_SEARCHES] = searches
    store[views.REGISTER_SEARCHES_AT] = kept_at
    store.save()
    return key


def capture(session_key: str, url: str) -> tuple[list[str], list[str], int]:
    """The register's statements and every read the page runs, as sent."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client(HTTP_ACCEPT_LANGUAGE="fr-BE")
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    client.get("/demandes/" + url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/demandes/" + url)
    if response.status_code != 200:
        sys.exit(f"the test client got {response.status_code} on /demandes/{url}")
    statements = [q["sql"] for q in captured.captured_queries]
    # Reads only: the session's update and a content search's audit append
    # (its chain-head lock included) are writes, not replayed.
    reads = [
        s for s in statements if s.lstrip().upper().startswith("SELECT") and "FOR UPDATE" not in s
    ]
    register = [s for s in reads if "requests_app_disclosurerequest" in s]
    # One reference cell per row listed.
    return register, reads, response.content.count(b'<td class="ref"')


def run_sql(conn: Any, statements: list[str]) -> float:
    """Run `statements` as the page sent them, every row fetched; milliseconds."""
    started = time.perf_counter()
    for sql in statements:
        conn.execute(sql).fetchall()
    return ms_since(started)


def get_page(port: int, session_key: str, url: str) -> float:
    started = time.perf_counter()
    status, _, body = request(
        port,
        "GET",
        "/demandes/" + url,
        headers={"Cookie": f"sessionid={session_key}", "Accept-Language": "fr-BE"},
    )
    elapsed = ms_since(started)
    if status != 200 or MARK not in body:
        raise RuntimeError(f"GET /demandes/{url} answered {status}")
    return elapsed


@dataclass
class Plan:
    """One database, prepared: its sessions and, per role, the cases with
    their address and the statements the page runs."""

    database_url: str
    total: int
    sessions: dict[str, str]
    cases: dict[str, list[Case]]
    created_devices: list[int]


def prepare(database_url: str) -> Plan:
    """Sessions, cases and the SQL of each page (Django, in this process)."""
    page_bench.setup_django(database_url, database_name(database_url))
    from accounts.models import Role
    from requests_app.models import DisclosureRequest

    total = DisclosureRequest.objects.count()
    roles = [
        ("Président", page_bench.holder(Role.PRESIDENT)),
        ("secretariat", page_bench.holder(Role.SECRETARIAT)),
    ]
    templates = build_cases(total)
    plan = Plan(database_url, total, {}, {}, [])
    for role, user_pk in roles:
        plan.sessions[role] = page_bench.make_session(user_pk, plan.created_devices)
        plan.cases[role] = []
        for template in templates:
            if template.content and role != "Président":
                continue
            case = Case(**{**asdict(template), "sql": [], "reads": []})
            if case.criteria:
                case.url += f"&search={keep_search(plan.sessions[role], case.criteria)}"
            case.sql, case.reads, rows = capture(plan.sessions[role], case.url)
            if not rows:
                sys.exit(f"{role}, {case.label}: the page lists nothing")
            plan.cases[role].append(case)
    return plan


def forget(database_url: str, sessions: list[str], devices: list[int]) -> None:
    """Delete the sessions (and any TOTP device) this run made (Django set up)."""
    from django.contrib.sessions.models import Session
    from django_otp.plugins.otp_totp.models import TOTPDevice

    Session.objects.filter(session_key__in=sessions).delete()
    TOTPDevice.objects.filter(pk__in=devices).delete()


def measure(plans: list[Plan], args: argparse.Namespace) -> dict[str, list[Result]]:
    """Time each page through gunicorn and its SQL with psycopg, interleaved:
    for each case, GET then SQL, database after database, so that whatever
    else the machine does weighs on every figure alike."""
    import psycopg

    results: dict[str, list[Result]] = {plan.database_url: [] for plan in plans}
    servers = []
    connections = []
    try:
        for plan in plans:
            servers.append(start_gunicorn(plan.database_url, workers=args.workers))
            connections.append(psycopg.connect(plan.database_url, autocommit=True))
        for role in plans[0].cases:
            for i in range(len(plans[0].cases[role])):
                cases = [plan.cases[role][i] for plan in plans]
                timed = [
                    Result(role, c.label, [], [], [], len(c.sql), len(c.reads)) for c in cases
                ]
                for n in range(args.warmup + args.requests):
                    for plan, case, (_, port), conn, result in zip(
                        plans, cases, servers, connections, timed, strict=True
                    ):
                        page = get_page(port, plan.sessions[role], case.url)
                        register = run_sql(conn, case.sql)
                        reads = run_sql(conn, case.reads)
                        if n >= args.warmup:
                            result.page_ms.append(page)
                            result.raw_ms.append(register)
                            result.reads_ms.append(reads)
                for plan, result in zip(plans, timed, strict=True):
                    results[plan.database_url].append(result)
    finally:
        for process, _ in servers:
            stop_process(process)
        for conn in connections:
            conn.close()
    return results


def report(plan: Plan, results: list[Result], load: tuple[float, float], args: Any) -> bool:
    """Print one database's table; whether every target holds."""
    print(
        f"Register: GET /demandes/, gunicorn {args.workers} sync workers, production settings "
        f"(DEBUG off), database {database_name(plan.database_url)} ({plan.total:,} requests)"
    )
    print(
        f"{args.warmup} warm-up + {args.requests} GETs per role and case, each followed by the "
        "register's SQL of the same page (captured, run with psycopg, every row fetched) and "
        "by every read of the page"
    )
    print(f"{os.cpu_count()} CPU; load average at start {load[0]:.2f}, at end {load[1]:.2f}")
    print(
        f"{'role':12s} {'case':40s} {'page p50':>9s} {'p95':>7s} | {'SQL p50':>8s} {'p95':>6s} "
        f"({'n':>1s}) | {'ratio':>5s} | {'all reads p95':>13s} ({'n':>2s}) | p95<=50  ratio<=3"
    )
    ok = True
    for r in results:
        p95, raw95 = r.p("page_ms", 95), r.p("raw_ms", 95)
        ratio = p95 / raw95
        ok &= p95 <= TARGET_P95_MS and ratio <= TARGET_RATIO
        print(
            f"{r.role:12s} {r.case:40s} {r.p('page_ms', 50):9.1f} {p95:7.1f} | "
            f"{r.p('raw_ms', 50):8.2f} {raw95:6.2f} ({r.statements}) | {ratio:5.1f} | "
            f"{r.p('reads_ms', 95):13.2f} ({r.reads:2d}) | "
            f"{'PASS' if p95 <= TARGET_P95_MS else 'FAIL':7s}  "
            f"{'PASS' if ratio <= TARGET_RATIO else 'FAIL'}"
        )
    return ok


# ---------------------------------------------------------------------------
# Growth


def size_label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def ensure_generated(url: str, size: int, events: int) -> None:
    """Build `url` with generate.py unless it already holds `size` requests."""
    manifest = harness.generated_dir(database_name(url)) / "manifest.json"
    env = {**os.environ, "DATABASE_URL": url}
    command = [
        sys.executable,
        str(BENCH / "generate.py"),
        "--requests",
        str(size),
        "--events",
        str(events),
    ]
    print(f"== {database_name(url)}: bench/generate.py --requests {size} --events {events}")
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, check=False, capture_output=True)
    if done.returncode != 0 or not manifest.is_file():
        sys.stdout.write(done.stdout.decode()[-3000:] + done.stderr.decode()[-3000:])
        sys.exit(f"bench/generate.py failed on {database_name(url)} (exit {done.returncode})")
    print(f"   ready ({time.perf_counter() - started:.0f} s)", flush=True)


# The sessions a child process signs must be valid for the servers this
# process starts: the child takes this process's secret key.
SECRET_KEY_VARIABLE = "REGISTER_BENCH_SECRET_KEY"


def in_subprocess(*args: str) -> None:
    """This script again, in a process of its own (Django is set up once per process)."""
    env = {**os.environ, SECRET_KEY_VARIABLE: login_flood.SECRET_KEY}
    done = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"register_bench.py {' '.join(args[:3])}... failed (exit {done.returncode})")


def growth(args: argparse.Namespace) -> int:
    sizes = [int(s) for s in args.sizes.split(",")]
    base = urlsplit(args.database_url or "postgres://postgres@127.0.0.1:5432/huisclos_reg")
    urls = [base._replace(path=f"/huisclos_reg_{size_label(size)}").geturl() for size in sizes]
    for url, size in zip(urls, sizes, strict=True):
        ensure_generated(url, size, size * args.events_per_request)
    plans: list[Plan] = []
    with tempfile.TemporaryDirectory() as work:
        for i, url in enumerate(urls):
            out = Path(work) / f"plan{i}.json"
            in_subprocess("--database-url", url, "--prepare-only", str(out))
            plans.append(plan_from_json(json.loads(out.read_text())))
    try:
        load_start = os.getloadavg()
        results = measure(plans, args)
        load_end = os.getloadavg()
    finally:
        for plan in plans:
            in_subprocess(
                "--database-url",
                plan.database_url,
                "--forget",
                json.dumps([list(plan.sessions.values()), plan.created_devices]),
            )
    ok = True
    for plan in plans:
        print()
        ok &= report(plan, results[plan.database_url], (load_start[0], load_end[0]), args)
    print()
    print(
        f"Growth: p95 (ms) per size, every size measured in turn within each case; "
        f"max/min target <= {TARGET_GROWTH} (page 1 judged)"
    )
    print(
        f"{'role':12s} {'case':40s} "
        + " ".join(f"{size_label(s):>7s}" for s in sizes)
        + "  max/min | SQL p50 per size"
    )
    first = results[plans[0].database_url]
    for i, r in enumerate(first):
        rows = [results[plan.database_url][i] for plan in plans]
        p95s = [row.p("page_ms", 95) for row in rows]
        spread = max(p95s) / min(p95s)
        verdict = ""
        if r.case == "page 1":
            verdict = "PASS" if spread <= TARGET_GROWTH else "FAIL"
            ok &= verdict == "PASS"
        label = r.case.split(" (row")[0]
        print(
            f"{r.role:12s} {label:40s} "
            + " ".join(f"{p:7.1f}" for p in p95s)
            + f"  {spread:7.2f} {verdict:4s} | "
            + " ".join(f"{row.p('raw_ms', 50):.2f}" for row in rows)
        )
    return 0 if ok else 1


def plan_from_json(data: dict[str, Any]) -> Plan:
    cases = {role: [Case(**c) for c in items] for role, items in data.pop("cases").items()}
    return Plan(cases=cases, **data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--requests", type=int, default=60, help="measured GETs per role and case")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--sizes", help="e.g. 1000,10000,100000: one generated database each")
    parser.add_argument("--events-per-request", type=int, default=50, help="with --sizes")
    parser.add_argument("--prepare-only", help=argparse.SUPPRESS)
    parser.add_argument("--forget", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.requests < 50:
        sys.exit("--requests: at least 50, for a p95")
    if os.environ.get(SECRET_KEY_VARIABLE):
        login_flood.SECRET_KEY = os.environ[SECRET_KEY_VARIABLE]
    if args.sizes:
        return growth(args)
    # A database generate.py built (its manifest), as every bench of issue 15.
    harness.load_manifest(database_name(args.database_url))
    if args.forget:
        page_bench.setup_django(args.database_url, database_name(args.database_url))
        sessions, devices = json.loads(args.forget)
        forget(args.database_url, sessions, devices)
        return 0
    plan = prepare(args.database_url)
    if args.prepare_only:
        Path(args.prepare_only).write_text(json.dumps(asdict(plan)))
        return 0
    try:
        load_start = os.getloadavg()
        results = measure([plan], args)[plan.database_url]
        load_end = os.getloadavg()
    finally:
        forget(plan.database_url, list(plan.sessions.values()), plan.created_devices)
    return 0 if report(plan, results, (load_start[0], load_end[0]), args) else 1


if __name__ == "__main__":
    sys.exit(main())
