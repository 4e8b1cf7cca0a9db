"""Benchmark: every role's home page at 100,000 requests (issue 15).

Usage (PostgreSQL on 127.0.0.1:5432, user postgres, trust; a database built
by bench/generate.py):

    .venv/bin/python bench/home_bench.py --database-url \\
        postgres://postgres@127.0.0.1:5432/huisclos_gen_100k [--requests 200]

For the Président, the DG, the secretariat, the referent holding the most
requests and an auditor (the first active account of each role), it writes a
signed-in session with the second factor verified (request_page_bench's
`make_session`), starts gunicorn with the production settings (3 sync
workers, DEBUG off; bench/harness.py), and GETs `/` `--warmup` times, then
`--requests` times one after the other, timing each answer on the client.

The baseline, in the same run: the raw SQL of the same page. The page's
statements are captured once with Django's test client in this process, and
its reads (every SELECT: session, user, roles, queues, lists) are replayed
with psycopg `--requests` times; their time is what PostgreSQL alone costs.
It prints p50/p95 per role, the SQL's p95, the ratio and PASS/FAIL for the
target: p95 <= 50 ms. Exit status 1 on a FAIL or any error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(1, str(BENCH))

import register_bench  # noqa: E402
import request_page_bench as page_bench  # noqa: E402

TARGET_P95_MS = 50.0
MARK = b"<h1>"


def readers() -> dict[str, int]:
    """One account per role; the referent holding the most requests."""
    from django.db.models import Count

    from accounts.models import Role, User

    found: dict[str, int] = {
        role: page_bench.holder(role)
        for role in (Role.PRESIDENT, Role.DIRECTOR_GENERAL, Role.SECRETARIAT, Role.AUDITOR)
    }
    busiest = (
        User.objects.filter(is_active=True, groups__name=Role.REFERENT)
        .annotate(held=Count("assigned_requests"))
        .order_by("-held", "pk")
        .first()
    )
    if busiest is None:
        sys.exit("no active referent")
    found[Role.REFERENT] = busiest.pk
    return found


def capture(session_key: str) -> tuple[list[str], int]:
    """The home page's reads, as sent, and how many rows it lists."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client(HTTP_ACCEPT_LANGUAGE="fr-BE")
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    client.get("/")
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/")
    if response.status_code != 200:
        sys.exit(f"the test client got {response.status_code} on /")
    reads = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].lstrip().upper().startswith("SELECT")
    ]
    return reads, response.content.count(b'<td class="ref"')


def get_home(port: int, session_key: str) -> float:
    started = time.perf_counter()
    status, _, body = page_bench.request(
        port,
        "GET",
        "/",
        headers={"Cookie": f"sessionid={session_key}", "Accept-Language": "fr-BE"},
    )
    elapsed = (time.perf_counter() - started) * 1000
    if status != 200 or MARK not in body:
        raise RuntimeError(f"GET / answered {status}")
    return elapsed


def main() -> int:
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    name = page_bench.database_name(args.database_url)
    if name in {"", "huisclos", "postgres"}:
        sys.exit("Give the benchmark a database built by bench/generate.py.")
    page_bench.setup_django(args.database_url, name)

    import psycopg
    from django.contrib.sessions.models import Session
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from requests_app.models import DisclosureRequest

    total = DisclosureRequest.objects.count()
    created_devices: list[int] = []
    sessions = {
        role: page_bench.make_session(pk, created_devices) for role, pk in readers().items()
    }
    server = None
    failed = False
    try:
        captured = {role: capture(key) for role, key in sessions.items()}
        server, port = page_bench.start_gunicorn(args.database_url, workers=args.workers)
        load_before = os.getloadavg()
        print(
            f"home pages, {total:,} requests in {name}; {args.requests} GETs per role "
            f"after {args.warmup}, gunicorn {args.workers} sync workers, DEBUG off; "
            f"load average {load_before[0]:.2f}"
        )
        print(
            f"{'role':<20} {'rows':>5} {'reads':>5} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'SQL p95':>8} {'ratio':>6}  target p95 <= {TARGET_P95_MS:.0f} ms"
        )
        with psycopg.connect(args.database_url.replace("postgres://", "postgresql://")) as conn:
            for role, key in sessions.items():
                reads, rows = captured[role]
                for _ in range(args.warmup):
                    get_home(port, key)
                times = [get_home(port, key) for _ in range(args.requests)]
                for _ in range(args.warmup):
                    register_bench.run_sql(conn, reads)
                raw = [register_bench.run_sql(conn, reads) for _ in range(args.requests)]
                p50 = float(page_bench.percentile(times, 0.50))
                p95 = float(page_bench.percentile(times, 0.95))
                raw95 = float(page_bench.percentile(raw, 0.95))
                verdict = "PASS" if p95 <= TARGET_P95_MS else "FAIL"
                failed |= verdict == "FAIL"
                print(
                    f"{role:<20} {rows:>5} {len(reads):>5} {p50:>8.1f} {p95:>8.1f} "
                    f"{raw95:>8.1f} {p95 / raw95 if raw95 else 0:>6.1f}  {verdict}"
                )
        load_after = os.getloadavg()
        print(f"load average at the end {load_after[0]:.2f}")
    finally:
        if server is not None:
            page_bench.stop_process(server)
        Session.objects.filter(session_key__in=sessions.values()).delete()
        TOTPDevice.objects.filter(pk__in=created_devices).delete()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
