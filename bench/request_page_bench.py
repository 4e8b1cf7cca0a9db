"""Benchmark: the request page of a signed request (issue 15).

Usage (PostgreSQL on 127.0.0.1:5432, user postgres, trust; a database built
by bench/generate.py, or any migrated one holding signed letters, e.g.
`manage.py load_demo`):

    .venv/bin/python bench/request_page_bench.py --database-url \\
        postgres://postgres@127.0.0.1:5432/huisclos_gen_100k [--requests 200] [--letters 20]

What it does:

1. Picks up to `--letters` requests whose current letter carries both
   signatures and is stored: `--pk` names them; on a database built by
   bench/generate.py, the letters it signed through the services (its
   manifest's `real_letters`); otherwise the first ones. Then the accounts
   that read them: a Président, a DG (holders) and, for each request, its
   referent. Each account gets a signed-in session with its second factor
   verified, written straight into the session table as bench/login_flood.py
   does (a confirmed TOTP device is created for the run when the account has
   none; sessions and such devices are deleted at the end).
2. Makes sure each letter has a validation recorded for its stored file
   (`DocumentValidation`; letters signed through the services have one,
   bulk-loaded ones may not): a letter without one is validated once here,
   as the nightly `verify_letters` would, and the script says so.
3. Starts gunicorn (3 sync workers, as the Dockerfile) on loopback with the
   production settings (DEBUG off; bench/harness.py's `start_gunicorn`).
4. For each reader: `--warmup` GETs, then `--requests` GETs of
   `/demandes/<pk>/` one after the other, cycling over the letters (the
   referent over their own requests only); wall time per GET seen by the
   client. Every answer must be 200 and hold the signature check panel.
5. The baseline, in the same run: the page as it was before the validation
   was recorded, when the view validated both signatures on every view.
   `letters.services.verify_reply_document` (read the file, hash it,
   `signing.validate`) is timed in this process `--requests` times over the
   same letters, and each page time gets one of those added: the old page
   did exactly that work more, and nothing less (its one query and one
   file hash fewer cost under a millisecond).
6. Prints p50/p95 per reader, the baseline, the ratio, the number of SQL
   queries of the page per reader on two different letters (Django's test
   client in this process; tests/requests_app/test_validation_record.py pins
   that the count does not grow with the letter's content) and PASS/FAIL for
   p95 <= 50 ms; exit status 1 on a FAIL or any error.

Every GET is an audited read: the run appends one `read_request` event per
page to the database's audit chain (the chain stays valid).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(BENCH))


import harness as _common  # noqa: E402

database_name = _common.database_name
generated_env = _common.generated_env
percentile = _common.percentile
request = _common.request
start_gunicorn = _common.start_gunicorn
stop_process = _common.stop_process

import login_flood  # noqa: E402

TARGET_P95_MS = 50.0
PANEL = 'class="verification'


@dataclass
class Reader:
    label: str
    user_pk: int
    pks: list[int]
    session_key: str = ""
    times: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    # CPU seconds over the measured GETs: gunicorn's processes, PostgreSQL's backends.
    server_cpu: float = 0.0
    database_cpu: float = 0.0


def manifest(name: str) -> dict[str, Any]:
    """What bench/generate.py recorded about database `name` ({} if it did not build it)."""
    path = _common.generated_dir(name) / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def setup_django(database_url: str, generated_as: str) -> None:
    os.environ.update(generated_env(generated_as))
    private_root = manifest(generated_as).get("private_root")
    if private_root:
        os.environ.setdefault("HUISCLOS_PRIVATE_ROOT", private_root)
    os.environ["DJANGO_DEBUG"] = "true"
    os.environ["DATABASE_URL"] = database_url
    # The server signs sessions with this key (common.production_env).
    os.environ["DJANGO_SECRET_KEY"] = login_flood.SECRET_KEY
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def signed_requests(wanted: list[int], limit: int) -> list[int]:
    """Requests whose current letter is stored with both signatures."""
    from django.db.models import Count, Q

    from requests_app.models import Reply, ReplyKind

    replies = (
        Reply.objects.filter(superseded_at__isnull=True, document__isnull=False)
        .exclude(kind=ReplyKind.ACKNOWLEDGEMENT)
        .annotate(signed=Count("signatures"))
        .filter(signed=2)
    )
    if wanted:
        replies = replies.filter(request_id__in=wanted)
    else:
        replies = replies.filter(~Q(request__referent=None))
    pks = sorted(replies.values_list("request_id", flat=True))[: limit if not wanted else None]
    if wanted and sorted(wanted) != pks:
        sys.exit(f"not signed with both signatures and stored: {sorted(set(wanted) - set(pks))}")
    if not pks:
        sys.exit("no request with a stored letter signed twice in this database")
    return pks


def holder(role: str) -> int:
    from accounts.models import User

    user = User.objects.filter(is_active=True, groups__name=role).order_by("pk").first()
    if user is None:
        sys.exit(f"no active account with the role {role}")
    return user.pk


def make_session(user_pk: int, created_devices: list[int]) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts import sessions
    from accounts.models import User

    user = User.objects.get(pk=user_pk)
    device = next(iter(devices_for_user(user, confirmed=True)), None)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="request page bench", confirmed=True)
        created_devices.append(device.pk)
    store = SessionStore()
    now = time.time()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store[DEVICE_ID_SESSION_KEY] = device.persistent_id
    store[sessions.STARTED] = now
    store[sessions.LAST_SEEN] = now
    store.create()
    assert store.session_key is not None
    return store.session_key


def ensure_recorded(pks: list[int]) -> int:
    """Validate, once, each letter with no validation recorded for its file."""
    from django.conf import settings

    from letters import services as letters
    from letters.models import DocumentValidation, ReplyDocument

    done = 0
    for document in ReplyDocument.objects.filter(
        reply__request_id__in=pks, reply__superseded_at__isnull=True
    ).exclude(reply__kind="acknowledgement"):
        check = letters.recorded_check(document)
        if check.file_sha256 is None:
            sys.exit(
                f"the letter of request {document.reply.request_id} is not under "
                f"{settings.PRIVATE_STORAGE_ROOT}: set HUISCLOS_PRIVATE_ROOT"
            )
        if not check.current:
            letters.revalidate_document(document, trigger=DocumentValidation.Trigger.NIGHTLY)
            done += 1
    return done


def verify_times(pks: list[int], n: int) -> tuple[list[float], float]:
    """The work the view used to do on every view, timed here: wall times,
    and the CPU seconds of them all."""
    from letters import services as letters
    from requests_app.models import DisclosureRequest

    replies = [DisclosureRequest.objects.get(pk=pk).reply for pk in pks]
    letters.verify_reply_document(replies[0])  # imports, caches
    times = []
    cpu = time.process_time()
    for i in range(n):
        started = time.perf_counter()
        check = letters.verify_reply_document(replies[i % len(replies)])
        times.append(time.perf_counter() - started)
        if not check.hash_matches:
            sys.exit(f"letter of request {pks[i % len(pks)]}: the file does not match its hash")
    return times, time.process_time() - cpu


def count_queries(reader: Reader) -> list[int]:
    """SQL queries of the page, for this reader, on two different letters."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = reader.session_key
    counts = []
    for pk in reader.pks[:2]:
        client.get(f"/demandes/{pk}/")
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"/demandes/{pk}/")
        if response.status_code != 200:
            sys.exit(f"{reader.label}: the test client got {response.status_code} on {pk}")
        counts.append(len(captured.captured_queries))
    return counts


def read_page(port: int, reader: Reader, pk: int) -> float:
    started = time.perf_counter()
    status, _, body = request(
        port,
        "GET",
        f"/demandes/{pk}/",
        headers={"Cookie": f"sessionid={reader.session_key}", "Accept-Language": "fr-BE"},
    )
    elapsed = time.perf_counter() - started
    if status != 200 or PANEL.encode() not in body:
        raise RuntimeError(f"{reader.label}: GET /demandes/{pk}/ answered {status}")
    return elapsed


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(master: int) -> float:
    """CPU seconds of gunicorn's master and workers."""
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return sum(_cpu_seconds(pid) for pid in pids)


def database_cpu(name: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving `name`, this process's aside
    (PostgreSQL runs on this machine; its /proc entries are readable as root)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        pids = [row[0] for row in cursor.fetchall()]
    return {pid: _cpu_seconds(pid) for pid in pids}


def ms(values: list[float], q: float) -> float:
    return float(percentile(values, q)) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--requests", type=int, default=200, help="measured GETs per reader")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--letters", type=int, default=20, help="signed requests to cycle over")
    parser.add_argument("--pk", type=int, action="append", default=[], help="a signed request")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument(
        "--generated-as",
        default="",
        help="for a copy (createdb -T) of a database built by bench/generate.py: the name "
        "it was built under, whose manifest names the letters signed through the services",
    )
    args = parser.parse_args()
    generated_as = args.generated_as or database_name(args.database_url)
    setup_django(args.database_url, generated_as)

    from django.conf import settings
    from django.contrib.sessions.models import Session
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import Role
    from requests_app.models import DisclosureRequest

    # A generated database names its letters signed through the services.
    real = [
        letter["pk"]
        for letter in manifest(generated_as).get("real_letters", [])
        if letter.get("signatures") == 2
    ]
    pks = signed_requests(args.pk or real[: args.letters], args.letters)
    referents: dict[int, list[int]] = {}
    for pk, referent in DisclosureRequest.objects.filter(pk__in=pks).values_list(
        "pk", "referent_id"
    ):
        if referent is not None:
            referents.setdefault(referent, []).append(pk)
    readers = [
        Reader("Président", holder(Role.PRESIDENT), pks),
        Reader("DG", holder(Role.DIRECTOR_GENERAL), pks),
    ]
    if referents:
        referent, own = max(referents.items(), key=lambda item: len(item[1]))
        readers.append(Reader("referent (own requests)", referent, own))
    created: list[int] = []
    process = None
    try:
        for reader in readers:
            reader.session_key = make_session(reader.user_pk, created)
        validated_here = ensure_recorded(pks)
        for reader in readers:
            reader.queries = count_queries(reader)
        baseline_extra, verify_cpu = verify_times(pks, args.requests)

        extra_env = {
            **generated_env(generated_as),
            "HUISCLOS_PRIVATE_ROOT": str(settings.PRIVATE_STORAGE_ROOT),
        }
        process, port = start_gunicorn(
            args.database_url, workers=args.workers, extra_env=extra_env
        )
        load_start = os.getloadavg()
        for reader in readers:
            for i in range(args.warmup):
                read_page(port, reader, reader.pks[i % len(reader.pks)])
            cpu = server_cpu(process.pid), database_cpu(database_name(args.database_url))
            for i in range(args.requests):
                reader.times.append(read_page(port, reader, reader.pks[i % len(reader.pks)]))
            reader.server_cpu = server_cpu(process.pid) - cpu[0]
            # A backend that ended meanwhile is not counted; one started is, whole.
            reader.database_cpu = sum(
                seconds - cpu[1].get(pid, 0.0)
                for pid, seconds in database_cpu(database_name(args.database_url)).items()
            )
        load_end = os.getloadavg()
    finally:
        if process is not None:
            stop_process(process)
        Session.objects.filter(session_key__in=[r.session_key for r in readers]).delete()
        TOTPDevice.objects.filter(pk__in=created).delete()

    print(
        f"Request page of a signed request: GET /demandes/<pk>/, gunicorn {args.workers} sync "
        f"workers, production settings (DEBUG off), database {database_name(args.database_url)}"
    )
    print(
        f"{len(pks)} signed letter(s); {validated_here} had no validation recorded and were "
        f"validated once before the run; {args.warmup} warm-up + {args.requests} GETs per reader"
    )
    print(
        f"{os.cpu_count()} CPU; load average at start {load_start[0]:.2f}, "
        f"at end {load_end[0]:.2f}"
    )
    verify_ms = [t * 1000 for t in baseline_extra]
    print(
        f"verify_reply_document (the old view's validation), in this process: "
        f"p50 {percentile(verify_ms, 50):.1f}  p95 {percentile(verify_ms, 95):.1f} ms, "
        f"CPU {verify_cpu / args.requests * 1000:.1f} ms each"
    )
    failed = False
    rng = random.Random(15)
    for reader in readers:
        extra = baseline_extra[:]
        rng.shuffle(extra)
        baseline = [page + v for page, v in zip(reader.times, extra, strict=False)]
        p95 = ms(reader.times, 95)
        ratio = p95 / ms(baseline, 95)
        verdict = "PASS" if p95 <= TARGET_P95_MS else "FAIL"
        failed |= verdict == "FAIL"
        print(
            f"{reader.label:24s} page p50 {ms(reader.times, 50):6.1f}  p95 {p95:6.1f} ms | "
            f"baseline (validate on view) p50 {ms(baseline, 50):6.1f}  "
            f"p95 {ms(baseline, 95):6.1f} ms | ratio p95 {ratio:.2f} | "
            f"queries {'/'.join(map(str, reader.queries))} | p95 <= {TARGET_P95_MS:.0f} ms "
            f"{verdict}"
        )
        print(
            f"{'':24s} CPU per page: gunicorn {reader.server_cpu / args.requests * 1000:.1f} ms, "
            f"PostgreSQL {reader.database_cpu / args.requests * 1000:.1f} ms"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
