"""The audit hash chain without Django: canonical form and verification.

This module imports nothing from Django, so verification workers can be
started as fresh processes and the canonical form stays in one place.
`requests_app.audit` re-exports what the rest of the project uses.

Canonical serialisation of an event: UTF-8 JSON of the object below, keys
sorted, separators "," and ":", no whitespace, non-ASCII characters kept as
they are (`json.dumps(fields, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`):

    {"action", "actor_id", "details", "from_state", "object_id",
     "object_type", "occurred_at", "prev_hash", "seq", "to_state"}

`occurred_at` is UTC, ISO 8601 with microseconds and a "Z" suffix;
`actor_id` is an integer or null; `object_id` is a string. `hash` is the
lowercase hex SHA-256 of those bytes. The first event's `prev_hash` is 64
zeros. docs/audit.md documents the same form for outside verifiers.

Verification walks rows ordered by `seq`. A row is a tuple

    (seq, occurred_at, actor_id, action, object_type, object_id,
     from_state, to_state, details_json, prev_hash, hash)

where `occurred_at` is already formatted as above and `details_json` is any
JSON text of the details (the database's own rendering of the jsonb value
will do: it is parsed and re-serialised canonically). `verify_tuples` is
the single implementation of the checks; every entry point (the
management command, the auditor's "verify now" button, the tests on
in-memory rows) goes through it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import queue
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

FIELD_NAMES = (
    "seq",
    "occurred_at",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "from_state",
    "to_state",
    "details",
    "prev_hash",
)
ROW_NAMES = (*FIELD_NAMES, "hash")

# The C string encoder behind json.dumps(..., ensure_ascii=False) for str.
_escape = json.encoder.encode_basestring
_dump_canonical = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False
).encode
_load = json.JSONDecoder().decode

# Bounded memo tables: codes (actions, states, object types, ids) repeat a
# lot; a table that fills up simply stops growing.
_MEMO_LIMIT = 200_000


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(fields: Mapping[str, Any]) -> bytes:
    """The reference implementation: slow, obviously right."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def compute_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


class _JsonString(dict[Any, str]):
    """A value -> its JSON encoding, memoising strings only.

    Only str keys are stored, so a lookup never confuses 1, 1.0 and True.
    """

    def __missing__(self, key: Any) -> str:
        value = _dump_canonical(key)
        if type(key) is str and len(self) < _MEMO_LIMIT:
            self[key] = value
        return value


class _JsonInt(dict[int, str]):
    """An int -> its JSON encoding (memoised); only ever looked up with ints."""

    def __missing__(self, key: int) -> str:
        value = str(key)
        if len(self) < _MEMO_LIMIT:
            self[key] = value
        return value


class _JsonDetails(dict[str, str]):
    """JSON text of a details value -> canonical JSON text (memoised)."""

    def __missing__(self, key: str) -> str:
        try:
            value = _dump_canonical(_load(key))
        except (TypeError, ValueError):
            # Not JSON: no canonical form can hash to the stored value.
            return "\x00not-json"
        if len(self) < _MEMO_LIMIT:
            self[key] = value
        return value


def canonical_text(
    seq: int,
    occurred_at: str,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    from_state: str,
    to_state: str,
    details_json: str,
    prev_hash: str,
) -> str:
    """The canonical JSON text, built directly (same result as canonical_bytes)."""
    enc = _dump_canonical
    return (
        f'{{"action":{enc(action)},"actor_id":{enc(actor_id)},'
        f'"details":{enc(_load(details_json))},"from_state":{enc(from_state)},'
        f'"object_id":{enc(object_id)},"object_type":{enc(object_type)},'
        f'"occurred_at":{enc(occurred_at)},"prev_hash":{enc(prev_hash)},'
        f'"seq":{enc(seq)},"to_state":{enc(to_state)}}}'
    )


@dataclass(frozen=True)
class Finding:
    """The first broken seq and what is wrong there.

    kind: "sequence", "link", "hash", "checkpoint", "head" or "truncated".
    """

    seq: int
    problem: str
    kind: str = ""

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.problem}"


@dataclass
class Segment:
    """What the walk over a run of consecutive rows found."""

    count: int = 0
    first_seq: int | None = None
    first_prev_hash: str | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    finding: Finding | None = None
    # Checkpoint seq -> the stored hash found there (only those walked over).
    checkpoint_hashes: dict[int, str] = field(default_factory=dict)


def verify_tuples(
    rows: Iterable[Sequence[Any]],
    *,
    checkpoints: Mapping[int, str] | None = None,
    start_seq: int = 1,
    start_prev_hash: str | None = GENESIS_HASH,
) -> Segment:
    """Walk rows in storage order; stop at the first broken link.

    Checks, for each row: its seq is the expected one (gapless from
    `start_seq`), its prev_hash is the previous row's hash (for the first
    row: `start_prev_hash`, unless None), its hash is the SHA-256 of its
    canonical form, and, where `checkpoints` names its seq, its hash is the
    signed one. A sequence break is reported at the smallest seq involved
    (the missing, duplicated or misplaced number).
    """
    checkpoints = checkpoints or {}
    pending = sorted(s for s in checkpoints if s >= start_seq)
    pending.reverse()
    next_cp = pending.pop() if pending else -1

    sha = hashlib.sha256
    enc = _dump_canonical
    esc = _escape
    jstr = _JsonString()
    jint = _JsonInt()
    jdet = _JsonDetails()
    result = Segment()
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return result
    result.first_seq = first[0]
    result.first_prev_hash = first[9]
    # Without a given start, the first prev_hash is taken as it is (`stitch`
    # checks it); a malformed one cannot hash to anything genuine anyway.
    prev = first[9] if start_prev_hash is None else start_prev_hash
    expected = start_seq
    for row in itertools.chain((first,), iterator):
        seq, at, actor, action, otype, oid, fs, ts, det, ph, h = row
        if seq != expected or type(seq) is not int:
            result.finding = _sequence_finding(seq, expected)
            break
        if ph != prev:
            result.finding = Finding(
                seq, "prev_hash does not match the hash of the previous event", "link"
            )
            break
        # prev_hash equals a verified hex digest (or genesis): no escaping needed.
        try:
            text = (
                f'{{"action":{jstr[action]},'
                f'"actor_id":{jint[actor] if type(actor) is int else enc(actor)},'
                f'"details":{jdet[det]},"from_state":{jstr[fs]},'
                f'"object_id":{jstr[oid]},"object_type":{jstr[otype]},'
                f'"occurred_at":{esc(at)},"prev_hash":"{ph}",'
                f'"seq":{seq},"to_state":{jstr[ts]}}}'
            )
        except TypeError:  # a timestamp that is not a string: no fast path
            try:
                text = canonical_text(seq, at, actor, action, otype, oid, fs, ts, det, ph)
            except (TypeError, ValueError):
                text = "\x00not-serialisable"
        if sha(text.encode()).hexdigest() != h:
            result.finding = Finding(seq, "hash does not match the event's content", "hash")
            break
        if seq == next_cp:
            result.checkpoint_hashes[seq] = h
            if h != checkpoints[seq]:
                result.finding = Finding(
                    seq,
                    "hash differs from the signed checkpoint: the chain up to here was "
                    "rewritten with recomputed hashes",
                    "checkpoint",
                )
                break
            next_cp = pending.pop() if pending else -1
        prev = h
        expected += 1
    result.count = expected - start_seq
    if result.count:
        result.last_seq = expected - 1
        result.last_hash = prev
    return result


def _sequence_finding(seq: Any, expected: int) -> Finding:
    if type(seq) is not int:
        return Finding(expected, f"sequence broken: seq {seq!r} is not an integer", "sequence")
    if seq < expected:
        return Finding(
            seq,
            f"sequence broken: expected {expected}, found {seq} again "
            "(duplicated or reordered event)",
            "sequence",
        )
    return Finding(
        expected,
        f"sequence broken: expected {expected}, found {seq} (missing or reordered event)",
        "sequence",
    )


def stitch(segments: Sequence[tuple[int, Segment]]) -> Segment:
    """Join walks over consecutive seq ranges, as if one walk had been made.

    Each item is (first seq of the range, its Segment walked with
    start_seq=that seq and start_prev_hash=None), in seq order.
    """
    total = Segment()
    expected = 1
    prev = GENESIS_HASH
    for low, seg in segments:
        total.checkpoint_hashes.update(seg.checkpoint_hashes)
        if seg.first_seq is None:  # no rows in this range
            continue
        if expected != low:  # the earlier ranges stopped short of this one
            total.finding = Finding(
                expected,
                f"sequence broken: expected {expected}, found {seg.first_seq} "
                "(missing or reordered event)",
                "sequence",
            )
            return total
        if seg.first_seq == low and seg.first_prev_hash != prev:
            total.finding = Finding(
                low, "prev_hash does not match the hash of the previous event", "link"
            )
            return total
        if total.first_seq is None:
            total.first_seq = seg.first_seq
            total.first_prev_hash = seg.first_prev_hash
        total.count += seg.count
        if seg.count:
            total.last_seq = seg.last_seq
            total.last_hash = seg.last_hash
        if seg.finding is not None:
            total.finding = seg.finding
            return total
        assert seg.last_seq is not None
        assert seg.last_hash is not None
        expected = seg.last_seq + 1
        prev = seg.last_hash
    return total


def conclude(
    segment: Segment,
    *,
    checkpoints: Mapping[int, str] | None = None,
    head: tuple[int, str] | None = None,
) -> Finding | None:
    """The first finding of a finished walk, once the tail is checked too.

    After a clean walk: a signed checkpoint past the last event means the
    tail was cut off; the head row (if given) must name the last event.
    """
    checkpoints = checkpoints or {}
    finding = segment.finding
    if finding is not None:
        if finding.kind != "checkpoint":
            return finding
        earlier = [
            s
            for s, h in segment.checkpoint_hashes.items()
            if s < finding.seq and checkpoints.get(s) == h
        ]
        since = f"after the checkpoint at seq {max(earlier)}" if earlier else "at or before it"
        return Finding(
            finding.seq, f"{finding.problem} (the rewrite starts {since})", finding.kind
        )
    last_seq = segment.last_seq or 0
    last_hash = segment.last_hash or GENESIS_HASH
    beyond = [s for s in checkpoints if s > last_seq]
    if beyond:
        return Finding(
            last_seq + 1,
            f"events missing: the signed checkpoint at seq {max(beyond)} attests "
            f"{max(beyond)} events, the table ends at seq {last_seq} (truncated)",
            "truncated",
        )
    if head is None:
        return None
    head_seq, head_hash = head
    if head_seq > last_seq:
        return Finding(
            last_seq + 1,
            f"events missing: the chain head is at seq {head_seq}, "
            f"the table ends at seq {last_seq}",
            "head",
        )
    if head_seq < last_seq:
        return Finding(
            head_seq + 1,
            f"events past the chain head (seq {head_seq}) up to seq {last_seq}",
            "head",
        )
    if head_hash != last_hash:
        return Finding(
            last_seq, "the chain head's hash differs from the last event's hash", "head"
        )
    return None


# ---------------------------------------------------------------------------
# Reading PostgreSQL (used in-process and by the parallel workers)

PG_ROW_SQL = (
    "SELECT seq, pg_catalog.to_char(occurred_at AT TIME ZONE 'UTC', "
    '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\'), actor_id, action, object_type, object_id, '
    "from_state, to_state, details::text, prev_hash, hash FROM {table}"
)
FETCH_SIZE = 50_000


def pg_range_query(table: str, after: int | None, upto: int | None) -> tuple[str, list[int]]:
    """Rows with after < seq <= upto (either bound may be open), in seq order."""
    clauses, params = [], []
    if after is not None:
        clauses.append("seq > %s")
        params.append(after)
    if upto is not None:
        clauses.append("seq <= %s")
        params.append(upto)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return PG_ROW_SQL.format(table=table) + where + " ORDER BY seq", params


def iter_pg_rows(
    raw_connection: Any, table: str, after: int | None = None, upto: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """Stream rows through a server-side cursor; call inside a transaction.

    A helper thread fetches the next chunk while the caller works on the
    current one, so the database produces rows while Python hashes.
    """
    sql, params = pg_range_query(table, after, upto)
    chunks: queue.Queue[list[tuple[Any, ...]] | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch(cursor: Any) -> None:
        try:
            while not stop.is_set():
                rows = cursor.fetchmany(FETCH_SIZE)
                if not rows:
                    break
                chunks.put(rows)
            chunks.put(None)
        except BaseException as error:  # handed over to the consumer
            chunks.put(error)

    with raw_connection.cursor(name="huisclos_audit_rows") as cursor:
        cursor.itersize = FETCH_SIZE
        cursor.execute(sql, params)
        fetcher = threading.Thread(target=fetch, args=(cursor,), daemon=True)
        fetcher.start()
        try:
            while (chunk := chunks.get()) is not None:
                if isinstance(chunk, BaseException):
                    raise chunk
                yield from chunk
        finally:
            stop.set()
            while fetcher.is_alive():  # unblock a fetcher waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    chunks.get(timeout=0.05)
            fetcher.join()


def verify_pg_range(
    conninfo: dict[str, Any],
    snapshot: str,
    table: str,
    after: int | None,
    upto: int | None,
    checkpoints: dict[int, str],
) -> Segment:
    """Worker: walk one seq range in the exported snapshot of the caller."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(**conninfo) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        # Must be the transaction's first statement.
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        start = 1 if after is None else after + 1
        return verify_tuples(
            iter_pg_rows(conn, table, after, upto),
            checkpoints=checkpoints,
            start_seq=start,
            start_prev_hash=GENESIS_HASH if after is None else None,
        )
