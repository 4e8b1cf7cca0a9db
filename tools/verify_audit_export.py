#!/usr/bin/env python3
"""Verify a Huis clos audit export without Huis clos (Python 3.12 stdlib only).

    python3 verify_audit_export.py audit.jsonl [--checkpoints DIR] [--public-key PEM]

The export comes from `manage.py export_audit --format jsonl` (or the
auditor's "Exporter (JSONL)" link): one JSON object per event, with the
canonical fields and the stored hash. This script

1. rebuilds each event's canonical bytes (JSON, keys sorted, separators ","
   and ":", non-ASCII kept, UTF-8) from the fields, checks that SHA-256 of
   them is the stored hash, that seq runs 1, 2, 3... without a gap and that
   each prev_hash is the previous event's hash (64 zeros for the first);
2. for every checkpoint-*.json in --checkpoints, checks that the export's
   event at the checkpoint's seq has exactly the checkpoint's hash (a chain
   rewritten with recomputed hashes fails here);
3. checks each checkpoint's Ed25519 signature if the `cryptography` package
   can be imported (Ed25519 is not in the standard library); otherwise it
   says that it skipped the signature checks.

Exit status 0 when everything holds, 1 on any finding, 2 on bad usage.
See docs/audit.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

GENESIS_HASH = "0" * 64
FIELDS = {
    "action",
    "actor_id",
    "details",
    "from_state",
    "object_id",
    "object_type",
    "occurred_at",
    "prev_hash",
    "seq",
    "to_state",
}
SIGNATURE_CONTEXT = b"huisclos-audit-checkpoint-v1\n"


def canonical_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def load_checkpoints(directory: Path) -> tuple[list[dict[str, Any]], list[str]]:
    checkpoints, problems = [], []
    for path in sorted(directory.glob("checkpoint-*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            missing = {"seq", "hash", "created_at", "key_fingerprint", "signature"} - set(document)
            if missing:
                raise KeyError(", ".join(sorted(missing)))
            if type(document["seq"]) is not int:
                raise ValueError("seq is not an integer")
        except (OSError, ValueError, KeyError, TypeError) as error:
            problems.append(f"checkpoint {path.name}: unreadable ({error})")
            continue
        document["_name"] = path.name
        checkpoints.append(document)
    return checkpoints, problems


def check_signatures(
    checkpoints: list[dict[str, Any]], key_paths: list[Path]
) -> tuple[list[str], str]:
    """Problems found, and a note on what was checked."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return [], "signature checks skipped (the cryptography package is not installed)"
    keys: dict[str, Ed25519PublicKey] = {}
    problems: list[str] = []
    for path in key_paths:
        try:
            key = serialization.load_pem_public_key(path.read_bytes())
        except (OSError, ValueError) as error:
            problems.append(f"public key {path.name}: unreadable ({error})")
            continue
        if not isinstance(key, Ed25519PublicKey):
            problems.append(f"public key {path.name}: not an Ed25519 key")
            continue
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        keys[hashlib.sha256(raw).hexdigest()] = key
    for document in checkpoints:
        trusted = keys.get(document["key_fingerprint"])
        if trusted is None:
            problems.append(f"checkpoint {document['_name']}: signed by an unknown key")
            continue
        message = SIGNATURE_CONTEXT + canonical_bytes(
            {
                "created_at": document["created_at"],
                "hash": document["hash"],
                "key_fingerprint": document["key_fingerprint"],
                "seq": document["seq"],
            }
        )
        try:
            trusted.verify(base64.b64decode(document["signature"], validate=True), message)
        except (InvalidSignature, ValueError):
            problems.append(f"checkpoint {document['_name']}: the signature does not verify")
    return problems, f"signatures verified with {len(keys)} public key(s)"


def verify_export(
    path: Path, checkpoints: list[dict[str, Any]]
) -> tuple[int, str | None, dict[int, str]]:
    """Events walked, the first finding (or None), and seq -> hash at checkpoints."""
    wanted = {c["seq"] for c in checkpoints}
    seen: dict[int, str] = {}
    expected, prev = 1, GENESIS_HASH
    count = 0
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
                stored = event.pop("hash")
            except (ValueError, KeyError, AttributeError) as error:
                return count, f"line {number}: not an exported event ({error})", seen
            if set(event) != FIELDS:
                return (
                    count,
                    f"line {number}: unexpected fields {sorted(set(event) ^ FIELDS)}",
                    seen,
                )
            seq = event["seq"]
            if type(seq) is not int or seq != expected:
                first = min(seq, expected) if type(seq) is int else expected
                return (
                    count,
                    f"seq {first}: sequence broken: expected {expected}, found {seq!r}",
                    seen,
                )
            if event["prev_hash"] != prev:
                return count, f"seq {seq}: prev_hash does not match the previous hash", seen
            if hashlib.sha256(canonical_bytes(event)).hexdigest() != stored:
                return count, f"seq {seq}: hash does not match the event's content", seen
            if seq in wanted:
                seen[seq] = stored
            prev, expected, count = stored, expected + 1, count + 1
    return count, None, seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Huis clos audit export (JSONL).")
    parser.add_argument("export", type=Path, help="the .jsonl export")
    parser.add_argument("--checkpoints", type=Path, help="directory of checkpoint-*.json")
    parser.add_argument(
        "--public-key",
        type=Path,
        action="append",
        default=None,
        help="trusted public key (PEM), repeatable; default: signing-key-*.pub.pem "
        "in the checkpoint directory",
    )
    args = parser.parse_args(argv)
    if not args.export.is_file():
        parser.error(f"{args.export} is not a file")

    problems: list[str] = []
    checkpoints: list[dict[str, Any]] = []
    note = "no checkpoints given"
    if args.checkpoints is not None:
        if not args.checkpoints.is_dir():
            parser.error(f"{args.checkpoints} is not a directory")
        checkpoints, problems = load_checkpoints(args.checkpoints)
        keys = args.public_key or sorted(args.checkpoints.glob("signing-key-*.pub.pem"))
        signature_problems, note = check_signatures(checkpoints, keys)
        problems += signature_problems

    count, finding, seen = verify_export(args.export, checkpoints)
    matched = 0
    if finding is None:
        for document in sorted(checkpoints, key=lambda c: c["seq"]):
            seq = document["seq"]
            if seq > count:
                print(f"note: checkpoint {document['_name']} (seq {seq}) is past this export")
                continue
            if seen.get(seq) != document["hash"]:
                finding = (
                    f"seq {seq}: hash differs from the signed checkpoint {document['_name']}"
                    " (the chain was rewritten)"
                )
                break
            matched += 1

    if finding is None and not problems:
        print(f"OK {count} events, {matched} checkpoints matched; {note}")
        return 0
    if finding is not None:
        print(f"FIRST BROKEN {finding}")
    for problem in problems:
        print(f"CHECKPOINT PROBLEM: {problem}")
    print(f"({count} events verified before the first finding; {note})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
