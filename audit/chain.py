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
the reference implementation of the checks; every entry point (the
management command, the auditor's "verify now" button, the tests on
in-memory rows) goes through it, except that on PostgreSQL
`verify_pg_chunks` first tries a faster walk over whole chunks of rows
and hands any chunk it cannot accept outright to `verify_tuples`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
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


class _Memo[K, V](dict[K, V]):
    """key -> compute(key), remembered while the table has room.

    `remember` decides which keys are stored: the JSON encoding of an
    arbitrary value is memoised for str keys only, so a lookup never
    confuses 1, 1.0 and True.
    """

    def __init__(
        self, compute: Callable[[K], V], remember: Callable[[K], bool] = lambda key: True
    ) -> None:
        super().__init__()
        self._compute = compute
        self._remember = remember

    def __missing__(self, key: K) -> V:
        value = self._compute(key)
        if len(self) < _MEMO_LIMIT and self._remember(key):
            self[key] = value
        return value


NOT_JSON = "\x00not-json"


def _canonical_details(text: str) -> str:
    """JSON text of a details value -> its canonical JSON text."""
    try:
        return str(_dump_canonical(_load(text)))
    except (TypeError, ValueError):
        # Not JSON: no canonical form can hash to the stored value.
        return NOT_JSON


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
    jstr: _Memo[Any, str] = _Memo(_dump_canonical, lambda key: type(key) is str)
    jint: _Memo[int, str] = _Memo(str)
    jdet: _Memo[str, str] = _Memo(_canonical_details)
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


@dataclass(frozen=True)
class _Raised:
    error: BaseException


_END = object()


def _read_ahead[T](produce: Generator[T]) -> Generator[T]:
    """The items of `produce`, each computed by a helper thread while the
    caller works on the previous one: the database produces rows while
    Python hashes. Closing this generator stops the thread before its next
    item."""
    items: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.is_set():
                item = next(produce, _END)
                items.put(item)
                if item is _END:
                    break
        except BaseException as error:  # handed over to the consumer
            items.put(_Raised(error))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        while (item := items.get()) is not _END:
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a helper waiting on a full queue
            with contextlib.suppress(queue.Empty):
                items.get(timeout=0.05)
        thread.join()
        produce.close()  # its cursor, now that no thread uses it


def iter_pg_rows(
    raw_connection: Any, table: str, after: int | None = None, upto: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """Stream rows through a server-side cursor; call inside a transaction."""
    sql, params = pg_range_query(table, after, upto)
    with raw_connection.cursor(name="huisclos_audit_rows") as cursor:
        cursor.itersize = FETCH_SIZE
        cursor.execute(sql, params)

        def batches() -> Generator[list[tuple[Any, ...]]]:
            while rows := cursor.fetchmany(FETCH_SIZE):
                yield rows

        # Closed before the cursor is, so no fetch runs on a closed cursor.
        with contextlib.closing(_read_ahead(batches())) as fetched:
            for rows in fetched:
                yield from rows


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
        return verify_pg_chunks(
            conn,
            table,
            after=after,
            upto=upto,
            checkpoints=checkpoints,
            start_prev_hash=GENESIS_HASH if after is None else None,
        )


# ---------------------------------------------------------------------------
# The fast walk on PostgreSQL: whole chunks of rows, checks in C where possible
#
# Row by row, turning database values into Python objects and back into
# text costs several times the hashing itself. Here each query returns one
# chunk of up to CHUNK_ROWS events as one byte string: the eleven columns
# of each event as text, in canonical key order then `hash`, all separated
# by 0x1f. Python splits it once, builds each canonical text with one
# %-format of memoised pieces, hashes it, and checks the seqs, the links
# and the hashes of the whole chunk with three list comparisons. A chunk
# that does not pass every check as it is goes to `verify_tuples`, which
# names the first broken seq: the fast walk only ever accepts a chunk, it
# never reports a problem itself.
#
# Why an accepted chunk is right, event by event:
# - no column is NULL (`complete`) and no field holds 0x1f (there are
#   exactly 11 fields per event), so the fields line up with the events;
# - the seqs are exactly the expected ones, in order;
# - each stored hash equals the digest computed for its event;
# - each prev_hash equals the previous event's (verified) hash, or genesis,
#   so the raw prev_hash in the text needed no JSON escaping; where the
#   walk has no previous hash (a worker's first event), `stitch` compares
#   it with the previous range's last hash;
# - the text hashed is the one `verify_tuples` builds: the same to_char
#   timestamp, seq and actor_id as decimal or null, the same escaping of
#   the five text columns and the same canonical rendering of details.
#
# Measured alternatives (bench/README.md): building the JSON text in SQL
# (to_json of each text column, or row_to_json) costs PostgreSQL more than
# the memoised escaping costs Python; separate aggregates of hashes, seqs
# and prev_hashes, and concat() of the tail, cost more than three slices.

CHUNK_ROWS = 5000
_FIELDS = 11  # per event: the ten canonical fields, then the stored hash

# Functions are schema-qualified so that nothing on the search_path can
# stand in for them. The 0x1f separator cannot come out of to_char, a
# number or jsonb's text (which escapes control characters); a text column
# holding one is caught by the count of fields, and so is a NULL, which
# concat_ws leaves out (and `complete` reports besides).
PG_CHUNK_SQL = (
    "SELECT pg_catalog.count(*), pg_catalog.bool_and(complete), "
    "pg_catalog.textsend(pg_catalog.string_agg(fields, E'\\x1f')) "
    "FROM (SELECT pg_catalog.concat_ws(E'\\x1f', action, "
    "COALESCE(actor_id::text, 'null'), details::text, from_state, object_id, object_type, "
    "pg_catalog.to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "prev_hash, seq, to_state, hash) AS fields, "
    "(seq, occurred_at, action, object_type, object_id, from_state, to_state, details, "
    "prev_hash, hash) IS NOT NULL AS complete "
    "FROM {table} WHERE {range} ORDER BY seq) AS chunk"
)
# The first chunk of a walk from the start has no lower bound: a row with
# any seq at all (negative, the lowest bigint) must be seen.
_FIRST_RANGE = "seq <= %s"
_RANGE = "seq > %s AND seq <= %s"
_CHUNK_FORMAT = (
    b'{"action":%s,"actor_id":%s,"details":%s,"from_state":%s,"object_id":%s,'
    b'"object_type":%s,"occurred_at":"%s","prev_hash":"%s","seq":%s,"to_state":%s}'
)
# The same, for text columns that need no JSON escaping (json.dumps escapes
# only '"', backslash and characters below U+0020).
_PLAIN_FORMAT = (
    b'{"action":"%s","actor_id":%s,"details":%s,"from_state":"%s","object_id":"%s",'
    b'"object_type":"%s","occurred_at":"%s","prev_hash":"%s","seq":%s,"to_state":"%s"}'
)
_NEEDS_ESCAPE = b'"\\' + bytes(range(0x20))
Chunk = tuple[int | None, int, int, bool | None, bytes]


def _chunk_bounds(after: int | None, upto: int | None) -> Iterator[tuple[int | None, int]]:
    """(low, high] seq ranges of CHUNK_ROWS, from `after` up to `upto`.

    low None: no lower bound.
    """
    low = after
    # Ranges end on multiples of CHUNK_ROWS whatever the lower bound.
    high = (max(low or 0, 0) // CHUNK_ROWS + 1) * CHUNK_ROWS
    while upto is None or low is None or low < upto:
        if upto is not None:
            high = min(high, upto)
        yield low, high
        low, high = high, high + CHUNK_ROWS


def _is_short(low: int | None, high: int, count: int) -> bool:
    """Whether a chunk stops before `high`: the chain ends there (or has a gap).

    The unbounded first range is counted from seq 1.
    """
    return count < high - (low or 0)


def fetch_chunks(
    raw_connection: Any, table: str, after: int | None = None, upto: int | None = None
) -> Iterator[Chunk]:
    """(low, high, count, complete, fields) for each range, in seq order.

    The next query runs (in a helper thread, see _read_ahead) while the
    caller hashes the current chunk; it stops after a short chunk, as the
    caller does.
    """
    import psycopg

    first_sql = PG_CHUNK_SQL.format(table=table, range=_FIRST_RANGE)
    sql = PG_CHUNK_SQL.format(table=table, range=_RANGE)

    def queries() -> Generator[Chunk]:
        # A plain psycopg cursor: Django's client-side cursors cannot take
        # results in binary, and the bytea must arrive as it is.
        with psycopg.Cursor(raw_connection) as cursor:
            for low, high in _chunk_bounds(after, upto):
                if low is None:
                    cursor.execute(first_sql, [high], binary=True)
                else:
                    cursor.execute(sql, [low, high], binary=True)
                row = cursor.fetchone()
                assert row is not None  # an aggregate always returns a row
                count, complete, fields = row
                # An empty range aggregates to NULL.
                yield (low, high, count, complete, bytes(fields or b""))
                if _is_short(low, high, count):
                    break

    yield from _read_ahead(queries())


def verify_pg_chunks(
    raw_connection: Any,
    table: str,
    *,
    after: int | None = None,
    upto: int | None = None,
    checkpoints: Mapping[int, str] | None = None,
    start_prev_hash: str | None = GENESIS_HASH,
) -> Segment:
    """The walk of `verify_tuples` over after < seq <= upto, chunk by chunk.

    Call inside a transaction (one snapshot). The result is the Segment
    `verify_tuples` would return for the same rows with start_seq = the
    first seq of the range (1 without `after`).
    """
    checkpoints = checkpoints or {}
    cp_seqs = sorted(checkpoints)
    result = Segment()
    expected = 1 if after is None else after + 1
    prev: bytes | None = None if start_prev_hash is None else start_prev_hash.encode()

    def take(segment: Segment) -> bool:
        """Add a walked piece; True when the walk stops there."""
        nonlocal expected, prev
        result.checkpoint_hashes.update(segment.checkpoint_hashes)
        if segment.first_seq is not None and result.first_seq is None:
            result.first_seq = segment.first_seq
            result.first_prev_hash = segment.first_prev_hash
        result.count += segment.count
        if segment.count:
            assert segment.last_seq is not None
            assert segment.last_hash is not None
            result.last_seq = segment.last_seq
            result.last_hash = segment.last_hash
            expected = segment.last_seq + 1
            prev = segment.last_hash.encode()
        if segment.finding is not None:
            result.finding = segment.finding
            return True
        return False

    def walk_rows(low: int | None, high: int | None) -> bool:
        return take(
            verify_tuples(
                iter_pg_rows(raw_connection, table, low, high),
                checkpoints=checkpoints,
                start_seq=expected,
                start_prev_hash=None if prev is None else prev.decode(),
            )
        )

    if str(raw_connection.info.encoding).replace("-", "").lower() != "utf8":
        # The fields arrive in the client encoding; the canonical form is UTF-8.
        walk_rows(after, upto)
        return result

    sha = hashlib.sha256
    js: _Memo[bytes, bytes] = _Memo(lambda key: _dump_canonical(key.decode()).encode())
    jd: _Memo[bytes, bytes] = _Memo(lambda key: _canonical_details(key.decode()).encode())
    fmt = _CHUNK_FORMAT
    plain = _PLAIN_FORMAT
    rest_after = after  # where the rows not yet walked start
    for low, high, count, complete, blob in fetch_chunks(raw_connection, table, after, upto):
        rest_after = high
        if count == 0:
            break
        fields = blob.split(b"\x1f")
        seqs = fields[8::_FIELDS]
        numbers = ",".join(map(str, range(expected, expected + count))).encode().split(b",")
        if complete is True and len(fields) == _FIELDS * count and seqs == numbers:
            it = iter(fields)
            events = zip(*[it] * _FIELDS, strict=True)
            texts = b"".join(
                [
                    *fields[0::_FIELDS],
                    *fields[3::_FIELDS],
                    *fields[4::_FIELDS],
                    *fields[5::_FIELDS],
                    *fields[9::_FIELDS],
                ]
            )
            if len(texts.translate(None, _NEEDS_ESCAPE)) == len(texts):
                # The usual case: codes and ids, quoted as they are.
                digests = ",".join(
                    [
                        sha(plain % (a, b, jd[d], f, o, t, at, p, s, x)).hexdigest()
                        for a, b, d, f, o, t, at, p, s, x, _ in events
                    ]
                ).encode()
            else:
                digests = ",".join(
                    [
                        sha(
                            fmt % (js[a], b, jd[d], js[f], js[o], js[t], at, p, s, js[x])
                        ).hexdigest()
                        for a, b, d, f, o, t, at, p, s, x, _ in events
                    ]
                ).encode()
            hashes = fields[10::_FIELDS]
            links = [fields[7] if prev is None else prev, *hashes[:-1]]
            if (
                hashes == digests.split(b",")
                and fields[7::_FIELDS] == links
                and all(
                    hashes[seq - expected] == checkpoints[seq].encode()
                    for seq in cp_seqs
                    if expected <= seq < expected + count
                )
            ):
                first = expected
                take(
                    Segment(
                        count=count,
                        first_seq=first,
                        first_prev_hash=links[0].decode(),
                        last_seq=first + count - 1,
                        last_hash=hashes[-1].decode(),
                        checkpoint_hashes={
                            seq: hashes[seq - first].decode()
                            for seq in cp_seqs
                            if first <= seq < first + count
                        },
                    )
                )
                if _is_short(low, high, count):
                    break
                continue
        # The row walk names the first broken seq (or finds the chunk sound).
        if walk_rows(low, high):
            return result
        if _is_short(low, high, count):
            break
    # After a short chunk: normally nothing is left; otherwise the row walk
    # reports the gap.
    rest = upto is None or (rest_after is not None and rest_after < upto)
    if rest and walk_rows(rest_after, upto):
        return result
    if upto is None:
        # A row whose seq is NULL is in no range (possible only once the
        # primary key is dropped); ordered by seq, the reference walk meets
        # such rows last.
        with raw_connection.cursor() as cursor:
            cursor.execute(PG_ROW_SQL.format(table=table) + " WHERE seq IS NULL LIMIT 1")
            rows = cursor.fetchall()
        take(
            verify_tuples(
                rows,
                checkpoints=checkpoints,
                start_seq=expected,
                start_prev_hash=None if prev is None else prev.decode(),
            )
        )
    return result
