"""The hash chain of the audit trail: canonical form, append, verification.

Canonical serialisation of an event (documented in README.md):
UTF-8 JSON of the object below, keys sorted, separators "," and ":", no
whitespace, non-ASCII characters kept as they are:

    {"action", "actor_id", "details", "from_state", "object_id",
     "object_type", "occurred_at", "prev_hash", "seq", "to_state"}

`occurred_at` is UTC, ISO 8601 with microseconds and a "Z" suffix;
`actor_id` is an integer or null. `hash` is the lowercase hex SHA-256 of
those bytes. The first event's `prev_hash` is 64 zeros.

Only `requests_app.services` calls `append`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64

# Detail values are ids, codes, counts, dates and hashes; keys that would
# carry free text or names are refused outright.
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"name", "names", "note", "reason", "remarks", "text", "comment", "password"}
)


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
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


def compute_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


def _check_details(details: dict[str, Any]) -> None:
    for key, value in details.items():
        if key in _FORBIDDEN_DETAIL_KEYS:
            raise ValueError(f"audit details must not carry {key!r}")
        if isinstance(value, dict):
            _check_details(value)
        elif not isinstance(value, str | int | bool | list | type(None)):
            raise TypeError(f"audit detail {key!r} has unsupported type {type(value)}")


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
    details = details or {}
    _check_details(details)
    with transaction.atomic():
        # Locking the head row, not the table, serialises appenders.
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        event = AuditEvent(
            seq=head.seq + 1,
            occurred_at=timezone.now(),
            actor_id=actor_id,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            from_state=from_state,
            to_state=to_state,
            details=details,
            prev_hash=head.hash,
        )
        event.hash = compute_hash(event_fields(event))
        event.save(force_insert=True)
        head.seq = event.seq
        head.hash = event.hash
        head.save(update_fields=["seq", "hash"])
    return event


@dataclass(frozen=True)
class Finding:
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.problem}"


def verify_rows(rows: Iterable[dict[str, Any]]) -> Finding | None:
    """Walk events in storage order; return the first broken link, if any.

    Each row is the event's canonical fields plus its stored `hash`.
    """
    expected_seq = 1
    prev_hash = GENESIS_HASH
    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            return Finding(
                min(seq, expected_seq), f"sequence gap: expected {expected_seq}, found {seq}"
            )
        if row["prev_hash"] != prev_hash:
            return Finding(seq, "prev_hash does not match the previous event's hash")
        fields = {k: v for k, v in row.items() if k != "hash"}
        if compute_hash(fields) != row["hash"]:
            return Finding(seq, "hash does not match the event's content")
        prev_hash = row["hash"]
        expected_seq += 1
    return None


def iter_event_rows(batch_size: int = 5000) -> Iterator[dict[str, Any]]:
    queryset = AuditEvent.objects.order_by("seq").values_list(
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
        "hash",
    )
    for seq, at, actor, action, otype, oid, fs, ts, det, prev, h in queryset.iterator(
        chunk_size=batch_size
    ):
        yield {
            "seq": seq,
            "occurred_at": format_timestamp(at),
            "actor_id": actor,
            "action": action,
            "object_type": otype,
            "object_id": oid,
            "from_state": fs,
            "to_state": ts,
            "details": det,
            "prev_hash": prev,
            "hash": h,
        }


def verify_chain() -> Finding | None:
    return verify_rows(iter_event_rows())
