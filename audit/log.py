"""The hash chain of the audit trail: canonical form, append, verification.

Canonical serialisation of an event (documented in docs/audit.md):
UTF-8 JSON of the object below, keys sorted, separators "," and ":", no
whitespace, non-ASCII characters kept as they are:

    {"action", "actor_id", "details", "from_state", "object_id",
     "object_type", "occurred_at", "prev_hash", "seq", "to_state"}

`occurred_at` is UTC, ISO 8601 with microseconds and a "Z" suffix;
`actor_id` is an integer or null; `object_id` is a string. `hash` is the
lowercase hex SHA-256 of those bytes. The first event's `prev_hash` is 64
zeros.

`append` is the one way into the trail. The services of each app call it (or
one of the `record_*` helpers below) as the last statement of their
transaction: the head row it locks serialises every appender until commit.

Besides the chain, this module holds what the auditor's tools share:
`verify_database` (the checks of `manage.py verify_audit` and of the
"Vérifier maintenant" button), signed checkpoints of the head kept outside
the database, the status file of the last verification, and the JSONL and
CSV exports. The walk itself is `audit.chain.verify_tuples`.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .chain import (
    GENESIS_HASH,
    ROW_NAMES,
    Finding,
    Segment,
    canonical_bytes,
    canonical_text,
    compute_hash,
    conclude,
    format_timestamp,
    iter_pg_rows,
    stitch,
    verify_pg_chunks,
    verify_pg_range,
    verify_tuples,
)
from .models import AuditChainHead, AuditEvent

__all__ = [
    "GENESIS_HASH",
    "Finding",
    "Report",
    "append",
    "canonical_bytes",
    "compute_hash",
    "event_fields",
    "format_timestamp",
    "verify_chain",
    "verify_database",
    "verify_rows",
]

SESSION_OBJECT = "session"
TRAIL_OBJECT = "audit_trail"

# Detail values are ids, codes, counts, dates and hashes; keys that would
# carry free text or names are refused outright.
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"name", "names", "note", "reason", "remarks", "text", "comment", "password"}
)


def event_fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "occurred_at": format_timestamp(event.occurred_at),
        "actor_id": event.actor_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }


def _check_details(details: Any, key: str = "details") -> None:
    """Ids, codes, counts: str, int, bool, None, and lists and objects of those.

    Floats are refused: the database may print them differently from
    Python, and the canonical form must survive the round trip.
    """
    if isinstance(details, dict):
        for name, value in details.items():
            if not isinstance(name, str):
                raise TypeError(f"audit detail keys must be strings, got {name!r}")
            if name in _FORBIDDEN_DETAIL_KEYS:
                raise ValueError(f"audit details must not carry {name!r}")
            _check_details(value, name)
    elif isinstance(details, list):
        for value in details:
            _check_details(value, key)
    elif not isinstance(details, str | int | bool | type(None)):
        raise TypeError(f"audit detail {key!r} has unsupported type {type(details)}")


def append(
    *,
    actor_id: int | None,
    action: str,
    object_type: str = "",
    object_id: str | int = "",
    from_state: str = "",
    to_state: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; the caller's transaction commits it or nobody does."""
    (event,) = append_many(
        [
            {
                "actor_id": actor_id,
                "action": action,
                "object_type": object_type,
                "object_id": object_id,
                "from_state": from_state,
                "to_state": to_state,
                "details": details,
            }
        ]
    )
    return event


def append_many(events: Sequence[Mapping[str, Any]]) -> list[AuditEvent]:
    """Append events in this order, under one lock of the chain head.

    Each mapping takes `append`'s keyword arguments. Call it as the last
    statement of the caller's transaction: the head stays locked until that
    transaction ends, so what runs between the lock and the commit is only
    these inserts and the head's update. No savepoint: a failed append fails
    the caller's transaction, which is what must happen.
    """
    for fields in events:
        _check_details(fields.get("details") or {})
    with transaction.atomic(savepoint=False):
        # Locking the head row, not the table, serialises appenders.
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        appended = []
        for fields in events:
            event = AuditEvent(
                seq=head.seq + 1,
                occurred_at=timezone.now(),
                actor_id=fields.get("actor_id"),
                action=fields["action"],
                object_type=fields.get("object_type", ""),
                object_id=str(fields.get("object_id", "")),
                from_state=fields.get("from_state", ""),
                to_state=fields.get("to_state", ""),
                details=fields.get("details") or {},
                prev_hash=head.hash,
            )
            event.hash = compute_hash(event_fields(event))
            event.save(force_insert=True)
            head.seq = event.seq
            head.hash = event.hash
            appended.append(event)
        head.save(update_fields=["seq", "hash"])
    return appended


# ---------------------------------------------------------------------------
# Reading the chain

Row = tuple[Any, ...]


def _table() -> str:
    return connection.ops.quote_name(AuditEvent._meta.db_table)


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


@contextmanager
def consistent_snapshot() -> Iterator[None]:
    """Read the head and every event as of one instant.

    Outside a transaction, open a read-only REPEATABLE READ one (PostgreSQL);
    inside one (tests, callers who know better), use it as it is.
    """
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        if _is_postgres():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def iter_rows(*, after: int | None = None, upto: int | None = None) -> Iterator[Row]:
    """Rows in seq order as `audit_chain.verify_tuples` takes them.

    Call inside a transaction (see `consistent_snapshot`).
    """
    if _is_postgres():
        connection.ensure_connection()
        yield from iter_pg_rows(connection.connection, _table(), after, upto)
        return
    queryset = AuditEvent.objects.order_by("seq")
    if after is not None:
        queryset = queryset.filter(seq__gt=after)
    if upto is not None:
        queryset = queryset.filter(seq__lte=upto)
    dumps = json.dumps
    for seq, at, actor, action, otype, oid, fs, ts, det, prev, h in queryset.values_list(
        *ROW_NAMES
    ).iterator(chunk_size=10_000):
        yield (seq, format_timestamp(at), actor, action, otype, oid, fs, ts, dumps(det), prev, h)


def rows_from_dicts(rows: Iterable[dict[str, Any] | Row]) -> Iterator[Row]:
    """Adapt rows given as dicts (canonical fields plus `hash`) to tuples.

    `details` may be given as a Python value; it is turned into JSON text,
    as the database would hand it over. Tuples (from `as_row`) pass as they are.
    """
    for row in rows:
        if isinstance(row, tuple):
            yield row
            continue
        values = [row[name] for name in ROW_NAMES]
        values[8] = json.dumps(values[8], ensure_ascii=False)
        yield tuple(values)


def as_row(row: dict[str, Any]) -> Row:
    """One dict row as the tuple the walk takes."""
    return next(rows_from_dicts([row]))


def verify_rows(
    rows: Iterable[dict[str, Any] | Row],
    *,
    checkpoints: dict[int, str] | None = None,
    head: tuple[int, str] | None = None,
) -> Finding | None:
    """Walk events given as dicts (in storage order); the first broken link.

    The same walk and conclusion as `manage.py verify_audit`
    (`audit_chain.verify_tuples`, then `audit_chain.conclude`); `head` is
    (seq, hash) of the chain head row, `checkpoints` seq -> signed hash.
    """
    segment = verify_tuples(rows_from_dicts(rows), checkpoints=checkpoints)
    return conclude(segment, checkpoints=checkpoints, head=head)


def iter_event_rows(batch_size: int = 5000) -> Iterator[dict[str, Any]]:
    """Every event as a dict of its canonical fields plus `hash`."""
    with consistent_snapshot():
        for row in iter_rows():
            values = dict(zip(ROW_NAMES, row, strict=True))
            values["details"] = json.loads(values["details"])
            yield values


def iter_canonical_texts() -> Iterator[str]:
    """The canonical text of every event, in seq order (for the benchmark)."""
    with consistent_snapshot():
        for row in iter_rows():
            yield canonical_text(*row[:10])


def verify_chain() -> Finding | None:
    """The first problem with the chain, its head or the checkpoints, if any."""
    return verify_database(checkpoint_dir=checkpoint_directory()).finding


# ---------------------------------------------------------------------------
# Settings: the key and the checkpoints live outside the database


def checkpoint_directory() -> Path:
    value = getattr(settings, "HUISCLOS_AUDIT_CHECKPOINT_DIR", None) or os.environ.get(
        "HUISCLOS_AUDIT_CHECKPOINT_DIR"
    )
    if value:
        return Path(value)
    return Path(settings.BASE_DIR) / "var" / "audit-checkpoints"


def signing_key_path() -> Path | None:
    value = getattr(settings, "HUISCLOS_AUDIT_SIGNING_KEY", None) or os.environ.get(
        "HUISCLOS_AUDIT_SIGNING_KEY"
    )
    return Path(value) if value else None


# ---------------------------------------------------------------------------
# Checkpoints: the head, signed with Ed25519

CHECKPOINT_GLOB = "checkpoint-*.json"
PUBLIC_KEY_GLOB = "signing-key-*.pub.pem"
STATUS_FILE = "last-verification.json"
SIGNATURE_CONTEXT = b"huisclos-audit-checkpoint-v1\n"


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def checkpoint_message(*, seq: int, hash: str, created_at: str, key_fingerprint: str) -> bytes:
    """The signed bytes: a fixed context line, then canonical JSON."""
    body = {
        "created_at": created_at,
        "hash": hash,
        "key_fingerprint": key_fingerprint,
        "seq": seq,
    }
    return SIGNATURE_CONTEXT + canonical_bytes(body)


def public_key_file(directory: Path, fingerprint: str) -> Path:
    return directory / f"signing-key-{fingerprint[:16]}.pub.pem"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def generate_key(key_path: Path, directory: Path) -> tuple[str, Path]:
    """Create an Ed25519 key pair: private PEM (0600), public PEM in `directory`."""
    if key_path.exists():
        raise FileExistsError(f"{key_path} already exists; refusing to overwrite a key")
    private_key = Ed25519PrivateKey.generate()
    _write_private(
        key_path,
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    fingerprint, public_path = write_public_key(private_key.public_key(), directory)
    return fingerprint, public_path


def write_public_key(public_key: Ed25519PublicKey, directory: Path) -> tuple[str, Path]:
    fingerprint = key_fingerprint(public_key)
    path = public_key_file(directory, fingerprint)
    if not path.exists():
        _write_atomically(
            path,
            public_key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )
    return fingerprint, path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    created_at: str
    key_fingerprint: str
    path: Path


def sign_checkpoint(
    private_key: Ed25519PrivateKey, *, seq: int, hash: str, directory: Path
) -> Path:
    """Write checkpoint-<seq>-<UTC time>.json and the public key beside it."""
    fingerprint, _ = write_public_key(private_key.public_key(), directory)
    now = datetime.now(UTC)
    created_at = format_timestamp(now)
    message = checkpoint_message(
        seq=seq, hash=hash, created_at=created_at, key_fingerprint=fingerprint
    )
    document = {
        "version": 1,
        "seq": seq,
        "hash": hash,
        "created_at": created_at,
        "key_fingerprint": fingerprint,
        "signature": base64.b64encode(private_key.sign(message)).decode("ascii"),
    }
    path = directory / f"checkpoint-{seq:012d}-{now:%Y%m%dT%H%M%S%fZ}.json"
    _write_atomically(path, (json.dumps(document, indent=2) + "\n").encode())
    return path


def read_checkpoints(
    directory: Path | None, public_keys: Iterable[Path] | None = None
) -> tuple[list[Checkpoint], list[str]]:
    """Checkpoints whose signature verifies, and a line per file that fails.

    Trusted keys: the files given, else every signing-key-*.pub.pem in the
    directory (keep a copy of the fingerprint elsewhere, see docs/audit.md).
    """
    problems: list[str] = []
    if directory is None or not directory.is_dir():
        return [], problems
    keys: dict[str, Ed25519PublicKey] = {}
    key_paths = (
        list(public_keys) if public_keys is not None else sorted(directory.glob(PUBLIC_KEY_GLOB))
    )
    for key_path in key_paths:
        try:
            key = load_public_key(key_path)
        except (OSError, ValueError) as error:
            problems.append(f"public key {key_path.name}: unreadable ({error})")
            continue
        keys[key_fingerprint(key)] = key
    checkpoints: list[Checkpoint] = []
    for path in sorted(directory.glob(CHECKPOINT_GLOB)):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            seq, digest = document["seq"], document["hash"]
            created_at, fingerprint = document["created_at"], document["key_fingerprint"]
            signature = base64.b64decode(document["signature"], validate=True)
            if type(seq) is not int or not isinstance(digest, str):
                raise ValueError("seq or hash of the wrong type")
        except (OSError, ValueError, KeyError, TypeError) as error:
            problems.append(f"checkpoint {path.name}: unreadable ({error})")
            continue
        trusted = keys.get(fingerprint)
        if trusted is None:
            problems.append(
                f"checkpoint {path.name}: signed by an unknown key ({str(fingerprint)[:16]})"
            )
            continue
        message = checkpoint_message(
            seq=seq, hash=digest, created_at=created_at, key_fingerprint=fingerprint
        )
        try:
            trusted.verify(signature, message)
        except InvalidSignature:
            problems.append(f"checkpoint {path.name}: the signature does not verify")
            continue
        checkpoints.append(Checkpoint(seq, digest, created_at, fingerprint, path))
    return checkpoints, problems


def latest_checkpoint(directory: Path | None) -> Checkpoint | None:
    valid, _ = read_checkpoints(directory)
    return max(valid, key=lambda c: (c.seq, c.created_at), default=None)


def current_head() -> tuple[int, str]:
    head = AuditChainHead.objects.filter(id=1).values_list("seq", "hash").first()
    return head or (0, GENESIS_HASH)


# ---------------------------------------------------------------------------
# Verification


@dataclass
class Report:
    events: int = 0
    checkpoints: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    finding: Finding | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1
    # Set when the chain is longer than the threshold and no signed
    # checkpoint by a trusted key vouches for it (see `verify_database`).
    unanchored: str | None = None

    @property
    def ok(self) -> bool:
        return self.finding is None and not self.problems and self.unanchored is None

    def lines(self) -> list[str]:
        if self.ok:
            return [f"OK {self.events} events, {self.checkpoints} checkpoints"]
        lines = []
        if self.finding is not None:
            lines.append(f"FIRST BROKEN SEQ {self.finding.seq}: {self.finding.problem}")
        if self.unanchored is not None:
            lines.append(f"NO TRUSTED CHECKPOINT: {self.unanchored}")
        lines.extend(f"CHECKPOINT PROBLEM: {problem}" for problem in self.problems)
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "checkpoints": self.checkpoints,
            "head_seq": self.head_seq,
            "first_broken_seq": self.finding.seq if self.finding else None,
            "no_trusted_checkpoint": self.unanchored is not None,
            "lines": self.lines(),
            "seconds": round(self.seconds, 3),
        }


PARALLEL_THRESHOLD = 200_000
DEFAULT_CHECKPOINT_REQUIRED_AFTER = 1000


def checkpoint_required_after() -> int:
    """Above this many events a chain without a trusted checkpoint fails.

    HUISCLOS_AUDIT_CHECKPOINT_REQUIRED_AFTER (default 1,000). Whoever can
    write to the database can rewrite a chain and recompute every hash;
    only a checkpoint signed outside the database shows it.
    """
    value = getattr(settings, "HUISCLOS_AUDIT_CHECKPOINT_REQUIRED_AFTER", None)
    if value is None:
        return DEFAULT_CHECKPOINT_REQUIRED_AFTER
    return int(value)


def _worker_conninfo() -> dict[str, Any]:
    params = connection.settings_dict
    info: dict[str, Any] = {"dbname": params["NAME"]}
    for key, name in (
        ("USER", "user"),
        ("PASSWORD", "password"),
        ("HOST", "host"),
        ("PORT", "port"),
    ):
        if params.get(key):
            info[name] = params[key]
    for key, value in (params.get("OPTIONS") or {}).items():
        if key not in {"isolation_level", "pool", "server_side_binding", "assume_role"}:
            info[key] = value
    return info


def _walk(checkpoints: dict[int, str], head_seq: int, workers: int | None) -> tuple[Segment, int]:
    """Walk the whole table inside the current snapshot; parallel when it pays."""
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
        if head_seq < PARALLEL_THRESHOLD:
            workers = 1
    if not _is_postgres():
        return verify_tuples(iter_rows(), checkpoints=checkpoints), 1
    if workers <= 1 or head_seq < workers * 2:
        connection.ensure_connection()
        return verify_pg_chunks(connection.connection, _table(), checkpoints=checkpoints), 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_export_snapshot()")
        (snapshot,) = cursor.fetchone() or ("",)
    bounds = [head_seq * i // workers for i in range(1, workers)]
    ranges: list[tuple[int | None, int | None]] = []
    low: int | None = None
    for bound in bounds:
        ranges.append((low, bound))
        low = bound
    ranges.append((low, None))  # open-ended: rows past the head are walked too
    conninfo = _worker_conninfo()
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(verify_pg_range, conninfo, snapshot, _table(), after, upto, checkpoints)
            for after, upto in ranges
        ]
        segments = [
            (1 if after is None else after + 1, future.result())
            for (after, _), future in zip(ranges, futures, strict=True)
        ]
    return stitch(segments), workers


def verify_database(
    *,
    checkpoint_dir: Path | None,
    public_keys: Iterable[Path] | None = None,
    workers: int | None = None,
    checkpoint_required_after: int | None = None,
) -> Report:
    """Check the chain, its head and every signed checkpoint.

    The chain: seq gapless from 1, each prev_hash the previous hash, each
    hash recomputed. The head row must name the last event. Each checkpoint
    must carry a valid signature and its hash must be the stored hash at its
    seq: that catches a rewrite with recomputed hashes (T-AU-2) and a
    truncation of the tail below a checkpoint.

    With `checkpoint_required_after` (the auditor's verifications pass
    `checkpoint_required_after()`), a chain of more events than that with
    no valid checkpoint by a trusted key fails too: its hashes alone prove
    nothing against someone who can write to the database. Signing the
    first checkpoint (`audit_checkpoint`) verifies without it.
    """
    started = time.perf_counter()
    report = Report()
    valid, report.problems = read_checkpoints(checkpoint_dir, public_keys)
    signed: dict[int, str] = {}
    for checkpoint in valid:
        if signed.setdefault(checkpoint.seq, checkpoint.hash) != checkpoint.hash:
            report.problems.append(
                f"checkpoint {checkpoint.path.name}: another signed checkpoint names a "
                f"different hash for seq {checkpoint.seq}"
            )
    report.checkpoints = len(valid)
    with consistent_snapshot():
        report.head_seq, report.head_hash = current_head()
        segment, report.workers = _walk(signed, report.head_seq, workers)
    report.events = segment.count
    report.finding = conclude(
        segment, checkpoints=signed, head=(report.head_seq, report.head_hash)
    )
    length = max(report.events, report.head_seq)
    if checkpoint_required_after is not None and length > checkpoint_required_after and not valid:
        report.unanchored = (
            f"{length} events and no checkpoint signed by a trusted key: a chain longer "
            f"than {checkpoint_required_after} events cannot be trusted against a rewrite "
            "by someone with database access (sign the head with manage.py "
            "audit_checkpoint, see docs/audit.md)"
        )
    report.seconds = time.perf_counter() - started
    return report


def record_verification(report: Report, *, by: str, directory: Path | None = None) -> Path:
    """Keep the outcome for the auditor's page, beside the checkpoints."""
    directory = directory or checkpoint_directory()
    status = {**report.as_dict(), "ran_at": format_timestamp(datetime.now(UTC)), "by": by}
    path = directory / STATUS_FILE
    _write_atomically(path, (json.dumps(status, indent=2) + "\n").encode())
    return path


def last_verification(directory: Path | None = None) -> dict[str, Any] | None:
    path = (directory or checkpoint_directory()) / STATUS_FILE
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


# ---------------------------------------------------------------------------
# Exports: JSON Lines (verifiable) and CSV (for spreadsheets)

CSV_HEADER = [*ROW_NAMES]
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise_cell(value: str) -> str:
    """A spreadsheet must not read a cell as a formula (ASVS 1.2.10)."""
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def export_head() -> int:
    """The seq an export started now will stop at."""
    head = AuditChainHead.objects.filter(id=1).values_list("seq", flat=True).first()
    return head or 0


def _export_rows(upto: int) -> Iterator[Row]:
    with transaction.atomic():
        yield from iter_rows(upto=upto)


def jsonl_lines(upto: int) -> Iterator[str]:
    """One JSON object per event: the canonical fields plus `hash`.

    Written in ASCII (non-ASCII as \\u escapes) so that no line separator
    such as U+2028 can split a line; a verifier parses each line and
    re-serialises the fields canonically.
    """
    for row in _export_rows(upto):
        fields = dict(zip(ROW_NAMES, row, strict=True))
        fields["details"] = json.loads(fields["details"])
        yield json.dumps(fields, sort_keys=True, separators=(",", ":")) + "\n"


def csv_lines(upto: int) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield flush()
    for row in _export_rows(upto):
        values = list(row)
        values[8] = json.dumps(
            json.loads(values[8]), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        writer.writerow("" if value is None else neutralise_cell(str(value)) for value in values)
        yield flush()


def export_lines(fmt: str, upto: int) -> Iterator[str]:
    if fmt == "jsonl":
        return jsonl_lines(upto)
    if fmt == "csv":
        return csv_lines(upto)
    raise ValueError(f"unknown export format {fmt!r}")


# ---------------------------------------------------------------------------
# Events any app records the same way


def record_session_event(
    action: str, *, actor_id: int | None, details: dict[str, Any] | None = None
) -> None:
    with transaction.atomic():
        append(actor_id=actor_id, action=action, object_type=SESSION_OBJECT, details=details)


def record_audit_export(*, actor_id: int | None, fmt: str, events: int) -> None:
    with transaction.atomic():
        append(
            actor_id=actor_id,
            action="export_audit",
            object_type=TRAIL_OBJECT,
            details={"format": fmt, "events": events},
        )


def record_audit_verification(
    *, actor_id: int | None, ok: bool, events: int, first_broken_seq: int | None
) -> None:
    """An auditor ran the chain verification from the workspace."""
    with transaction.atomic():
        append(
            actor_id=actor_id,
            action="verify_audit",
            object_type=TRAIL_OBJECT,
            details={"ok": ok, "events": events, "first_broken_seq": first_broken_seq},
        )


def record_admin_change(
    *,
    actor_id: int | None,
    object_type: str,
    object_id: int | str,
    action: str,
    fields: list[str],
    roles_added: list[str] | None = None,
    roles_removed: list[str] | None = None,
) -> None:
    """A change made in the administration (accounts, roles, settings, letters).

    Called inside the admin's transaction: the change and its event commit
    together. Only field names are kept, never their values.
    """
    details: dict[str, Any] = {"fields": [f for f in fields if f != "password"]}
    if "password" in fields:
        details["password_changed"] = True
    if roles_added is not None:
        details["roles_added"] = roles_added
    if roles_removed is not None:
        details["roles_removed"] = roles_removed
    with transaction.atomic():
        append(
            actor_id=actor_id,
            action=f"admin_{action}",
            object_type=object_type,
            object_id=object_id,
            details=details,
        )
