"""Benchmark: verifying the audit chain against raw SHA-256 (T-AU-9).

Usage (PostgreSQL only; the database is created if missing and is used for
nothing else):

    DJANGO_DEBUG=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/huisclos_bench \\
        .venv/bin/python bench/audit_verify.py --events 1000000

It migrates the database, bulk-loads N valid chained events with COPY
(unless the table already holds exactly that chain: pass --regenerate to
rebuild it), then times:

1. the verifier, `audit.log.verify_database()`, exactly as
   `manage.py verify_audit` runs it (reading every row from the database,
   rebuilding each canonical form, hashing, checking links, the head and
   the checkpoints; no checkpoint directory is used here);
2. raw `hashlib.sha256(b).hexdigest()` over the same canonical bytes, already
   in memory, in one Python thread: the floor for any Python verifier.

It prints events/s for both, their ratio and the total seconds, then
where the CPU goes (this process and its PostgreSQL backend, read from
/proc when the server runs on this machine), and a floor: the CPU time of
the work no verifier reading PostgreSQL can skip, against the CPU time a
50 % ratio allows on this machine's cores. Targets (issue 4): < 60 s for
1,000,000 events and a ratio of at least 50 %.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

ACTORS = 40
REQUESTS = 20_000
TRANSITIONS = [
    ("assign_referent", "awaiting_assignment", "awaiting_opinion"),
    ("submit_opinion", "awaiting_opinion", "awaiting_review"),
    ("approve", "awaiting_review", "awaiting_signatures"),
    ("sign_reply", "awaiting_signatures", "partially_signed"),
    ("record_dispatch", "signed", "dispatched"),
    ("close", "dispatched", "closed"),
]


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        sys.exit("The benchmark needs PostgreSQL (DATABASE_URL=postgres://...).")
    name = unquote(parts.path.lstrip("/"))
    if name in {"", "huisclos", "postgres"}:
        sys.exit("Give the benchmark its own database, e.g. .../huisclos_bench.")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def synthetic_events(count: int, actor_ids: list[int]) -> io.StringIO:
    """COPY text for `count` valid chained events, plus the last hash."""
    from audit.chain import GENESIS_HASH, canonical_text

    rng = random.Random(4)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    step = timedelta(days=365) / count
    out = io.StringIO()
    write = out.write
    prev = GENESIS_HASH
    moment = start
    for seq in range(1, count + 1):
        moment += step
        at = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        roll = rng.random()
        actor: int | None = rng.choice(actor_ids)
        if roll < 0.25:
            action = rng.choice(("login", "logout"))
            otype, oid, fs, ts, details = "session", "", "", "", "{}"
            if roll < 0.01:
                action, actor = "login_failed", None
        elif roll < 0.80:
            pk = rng.randrange(1, REQUESTS)
            action = rng.choice(("read_request", "read_request", "read_scan", "read_reply"))
            otype, oid, fs, ts = "disclosure_request", str(pk), "", ""
            details = json.dumps({"reference": f"SP-2026-{pk:05d}", "content": rng.random() < 0.7})
        elif roll < 0.97:
            pk = rng.randrange(1, REQUESTS)
            action, fs, ts = rng.choice(TRANSITIONS)
            otype, oid = "disclosure_request", str(pk)
            details = json.dumps({"reference": f"SP-2026-{pk:05d}"})
        else:
            pk = rng.randrange(1, REQUESTS)
            action, otype, oid, fs, ts = "refused", "disclosure_request", str(pk), "", ""
            details = json.dumps(
                {"attempted": rng.choice(("approve", "read_scan")), "cause": "permission_denied"}
            )
        text = canonical_text(seq, at, actor, action, otype, oid, fs, ts, details, prev)
        digest = hashlib.sha256(text.encode()).hexdigest()
        actor_col = "\\N" if actor is None else str(actor)
        write(
            f"{seq}\t{at}\t{actor_col}\t{action}\t{otype}\t{oid}\t{fs}\t{ts}\t"
            f"{details}\t{prev}\t{digest}\n"
        )
        prev = digest
    out.seek(0)
    return out


def load(count: int, regenerate: bool) -> None:
    from django.db import connection

    from accounts.models import User
    from audit.models import AuditChainHead, AuditEvent

    head = AuditChainHead.objects.filter(id=1).first()
    existing = AuditEvent.objects.count()
    if not regenerate and head and head.seq == count == existing:
        print(f"reusing the {count} events already loaded")
        return
    actor_ids = []
    for i in range(ACTORS):
        user, _ = User.objects.get_or_create(username=f"bench{i:02d}")
        actor_ids.append(user.pk)
    started = time.perf_counter()
    data = synthetic_events(count, actor_ids)
    generated = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.connection
        with raw.transaction():
            raw.execute("SET LOCAL session_replication_role = replica")
            raw.execute("TRUNCATE requests_app_auditevent")
            with raw.cursor().copy(
                "COPY requests_app_auditevent (seq, occurred_at, actor_id, action, "
                "object_type, object_id, from_state, to_state, details, prev_hash, hash) "
                "FROM STDIN"
            ) as copy:
                while block := data.read(1 << 22):
                    copy.write(block)
            last = raw.execute(
                "SELECT seq, hash FROM requests_app_auditevent ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            raw.execute(
                "INSERT INTO requests_app_auditchainhead (id, seq, hash) VALUES (1, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
                last,
            )
        raw.execute("VACUUM ANALYZE requests_app_auditevent")
    print(
        f"loaded {count} events: generated in {generated - started:.1f} s, "
        f"copied in {time.perf_counter() - generated:.1f} s"
    )


@dataclass
class Measure:
    result: Any
    wall: float
    client: float
    server: float | None

    def __str__(self) -> str:
        server = "n/a" if self.server is None else f"{self.server:.2f} s"
        return f"{self.wall:.2f} s (CPU {self.client:.2f} s / {server})"


def measure(backend: int, work: Callable[[], Any]) -> Measure:
    started, cpu, server = time.perf_counter(), time.process_time(), backend_cpu(backend)
    result = work()
    wall, client = time.perf_counter() - started, time.process_time() - cpu
    server_after = backend_cpu(backend)
    used = None if server is None or server_after is None else server_after - server
    return Measure(result, wall, client, used)


def backend_cpu(pid: int) -> float | None:
    """CPU seconds used so far by a PostgreSQL backend on this machine, if visible."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


COLUMNS = (
    "seq, occurred_at, actor_id, action, object_type, object_id, from_state, to_state, "
    "details, prev_hash, hash"
)
SEPARATOR = b"\x1f"
DETAILS_KEY = b',"details":'


def copy_out(raw: Any, table: str) -> int:
    """Every event's columns in PostgreSQL's cheapest form (binary COPY), discarded."""
    size = 0
    with raw.cursor().copy(
        f"COPY (SELECT {COLUMNS} FROM {table} ORDER BY seq) TO STDOUT (FORMAT binary)"
    ) as copy:
        for block in copy:
            size += len(block)
    return size


def minimal_chunks(blobs: Sequence[bytes], size: int) -> list[bytes]:
    """The canonical texts as the most favourable database answer could carry them.

    PostgreSQL cannot render `details` canonically (jsonb orders keys by
    length and prints spaces), so even a query that built everything else
    of the text would send each event in three pieces: the text before the
    details, the details, the rest. One string per `size` events, as the
    verifier fetches them.
    """
    chunks = []
    for start in range(0, len(blobs), size):
        pieces = []
        for blob in blobs[start : start + size]:
            head, tail = blob.split(DETAILS_KEY, 1)
            details, rest = tail.split(b',"from_state":', 1)
            pieces += [head + DETAILS_KEY, details, b',"from_state":' + rest]
        chunks.append(SEPARATOR.join(pieces))
    return chunks


def minimal_walk(chunks: Sequence[bytes]) -> tuple[int, float]:
    """The least Python work per event before hashing, on those chunks.

    Split the chunk, look the details up in a memo table that already
    holds every value (no parsing at all), join the three pieces. No
    timestamp formatting, escaping, seq or link check: all of that would
    only add to it.
    """
    memo: dict[bytes, bytes] = {}
    for chunk in chunks:
        fields = chunk.split(SEPARATOR)
        memo.update(zip(fields[1::3], fields[1::3], strict=True))
    started = time.process_time()
    count = 0
    get = memo.__getitem__
    for chunk in chunks:
        fields = chunk.split(SEPARATOR)
        pieces = zip(fields[0::3], map(get, fields[1::3]), fields[2::3], strict=True)
        texts = list(map(b"".join, pieces))
        count += len(texts)
    return count, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--workers", type=int, default=None, help="verifier processes")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    ensure_database(url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load(args.events, args.regenerate)

    from django.db import connection

    from audit import log
    from audit.chain import CHUNK_ROWS, fetch_chunks, verify_pg_chunks

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    report = log.verify_database(checkpoint_dir=None, workers=args.workers)
    verify_seconds = time.perf_counter() - started
    if not report.ok:
        for line in report.lines():
            print(line)
        sys.exit("the verifier found problems in the synthetic chain")
    events = report.events

    # Breakdown, one process: where the CPU goes. PostgreSQL producing the
    # chunks alone (Python idle), then the whole walk in one process, with
    # the CPU time of this process (all threads) and of its backend.
    from audit.models import AuditEvent

    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with log.consistent_snapshot():
        connection.ensure_connection()
        raw = connection.connection
        backend = raw.execute("SELECT pg_backend_pid()").fetchone()[0]
        fetch = measure(backend, lambda: sum(chunk[2] for chunk in fetch_chunks(raw, table)))
        single = measure(backend, lambda: verify_pg_chunks(raw, table))
        copied = measure(backend, lambda: copy_out(raw, table))
    if fetch.result != events or single.result.finding or single.result.count != events:
        sys.exit("the one-process walk disagrees with the verifier")
    connection.close()

    blobs = [text.encode() for text in log.iter_canonical_texts()]
    sha = hashlib.sha256
    started = time.perf_counter()
    last = ""
    for blob in blobs:
        last = sha(blob).hexdigest()
    raw_seconds = time.perf_counter() - started
    if len(blobs) != events or last != report.head_hash:
        sys.exit("the raw hashes do not reproduce the verified chain")
    walked, walk_cpu = minimal_walk(minimal_chunks(blobs, CHUNK_ROWS))
    if walked != events:
        sys.exit("the minimal walk lost events")
    load_after = os.getloadavg()[0]

    megabytes = sum(map(len, blobs)) / 1e6
    print(f"events:                   {events}")
    print(f"canonical bytes:          {megabytes:.1f} MB")
    print(f"verifier processes:       {report.workers}")
    rate = events / verify_seconds
    print(f"verifier (verify_audit):  {verify_seconds:.2f} s, {rate:,.0f} events/s")
    print(f"raw hashlib.sha256:       {raw_seconds:.2f} s, {events / raw_seconds:,.0f} events/s")
    print(f"ratio verifier/raw:       {raw_seconds / verify_seconds:.1%}")
    print(f"total (verify + raw):     {verify_seconds + raw_seconds:.2f} s")
    print("breakdown, one process (CPU seconds of this process / of its PostgreSQL backend):")
    print(f"  PostgreSQL producing the chunks only: {fetch}")
    print(f"  whole walk, one process:              {single}")
    if single.server is not None:
        # The same CPU work spread evenly over this machine's cores (the
        # workers split both sides): no schedule of it can finish sooner.
        cores = os.cpu_count() or 1
        floor = (single.client + single.server) / cores
        print(
            f"  this CPU work spread over {cores} cores: {floor:.2f} s, "
            f"i.e. at most {raw_seconds / floor:.1%} of raw"
        )
    if copied.server is not None:
        # Work every verifier of this chain reading PostgreSQL has to do, in
        # its cheapest measured form, against what a 50 % ratio allows.
        cores = os.cpu_count() or 1
        budget = 2 * raw_seconds * cores
        floor = copied.server + fetch.client + walk_cpu + raw_seconds
        print(f"floor, CPU seconds (a 50 % ratio allows {budget:.2f} on {cores} cores):")
        print(f"  PostgreSQL emitting the rows (binary COPY, no formatting): {copied.server:.2f}")
        print(f"  receiving them as the verifier does (a string per chunk):  {fetch.client:.2f}")
        print(f"  Python: split, details from a full memo, a join per event:  {walk_cpu:.2f}")
        print(f"  hashing (the raw figure):                                   {raw_seconds:.2f}")
        verdict = "above" if floor > budget else "within"
        print(
            f"  sum {floor:.2f}: {verdict} the budget, i.e. a ratio of at most "
            f"{raw_seconds * cores / floor:.1%} on this machine"
        )
    print(f"load average (1 min) before/after: {load_before:.2f} / {load_after:.2f}")


if __name__ == "__main__":
    main()
