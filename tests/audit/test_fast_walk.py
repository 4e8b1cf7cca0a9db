"""The chunked walk on PostgreSQL (`chain.verify_pg_chunks`).

It must return exactly what the reference row walk (`verify_tuples` over
`iter_pg_rows`) returns for the same table: the same count, last hash,
checkpoint hashes and, above all, the same first finding. The chains here
are written by `log.append` (the reference serialisation) with randomised
tricky values, and the chunks are made small so that events fall on chunk
boundaries.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.db import connection

from audit import chain, log
from audit.chain import Segment, iter_pg_rows, verify_pg_chunks, verify_tuples
from audit.models import AuditEvent

from .conftest import TABLE, VARIED_DETAILS, run_sql, triggers_off

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the chunked walk is PostgreSQL only"
)

CHUNK = 16

# Characters that stress JSON escaping, the 0x1f field separator, the ","
# list separator and UTF-8: quotes, backslashes, control characters (PostgreSQL
# text cannot hold NUL), DEL, U+2028/2029, non-ASCII and astral characters.
TRICKY = [
    '"',
    "\\",
    "\n",
    "\t",
    "\r",
    "\x01",
    "\x08",
    "\x0c",
    "\x1e",
    "\x1f",
    "\x7f",
    "\u2028",
    "\u2029",
    "é",
    "ß",
    "🔒",
    ",",
    ":",
    "{",
    "}",
    "[",
    " ",
    "null",
    "\\u0000",
    '","prev_hash":"',
]
PLAIN = "abcdefghijklmnopqrstuvwxyz_0123456789-"
FORBIDDEN = {"name", "names", "note", "reason", "remarks", "text", "comment", "password"}


def random_text(rng: random.Random, limit: int, tricky: bool = True) -> str:
    pieces = []
    for _ in range(rng.randrange(0, 6)):
        pieces.append(rng.choice(TRICKY) if tricky and rng.random() < 0.4 else rng.choice(PLAIN))
    return "".join(pieces)[:limit]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 3 and roll < 0.15:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if depth < 3 and roll < 0.3:
        return random_details(rng, depth + 1)
    return rng.choice(
        [
            None,
            True,
            False,
            0,
            -1,
            2**62,
            -(2**63),
            2**70,
            rng.randrange(-1000, 1000),
            "",
            random_text(rng, 20).replace("\x00", ""),
        ]
    )


def random_details(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    details = {}
    for _ in range(rng.randrange(0, 5)):
        key = random_text(rng, 12)
        if key.lower() not in FORBIDDEN:
            details[key] = random_value(rng, depth)
    return details


def build_random_chain(count: int, seed: int, users: list[Any], tricky: bool = True) -> None:
    rng = random.Random(seed)
    for i in range(count):
        log.append(
            actor_id=rng.choice([None, *[u.pk for u in users]]),
            action=random_text(rng, 64, tricky) or "x",
            object_type=random_text(rng, 64, tricky),
            object_id=random_text(rng, 64, tricky),
            from_state=random_text(rng, 32, tricky),
            to_state=random_text(rng, 32, tricky),
            details=random_details(rng) if rng.random() < 0.8 else VARIED_DETAILS[i % 8],
        )


def both_walks(checkpoints: dict[int, str] | None = None) -> tuple[Segment, Segment]:
    connection.ensure_connection()
    raw = connection.connection
    table = connection.ops.quote_name(TABLE)
    reference = verify_tuples(iter_pg_rows(raw, table), checkpoints=checkpoints)
    fast = verify_pg_chunks(raw, table, checkpoints=checkpoints)
    return fast, reference


@pytest.fixture
def small_chunks(monkeypatch) -> list[tuple[Any, Any]]:
    """Chunks of CHUNK events; records each range the row walk is asked for."""
    monkeypatch.setattr(chain, "CHUNK_ROWS", CHUNK)
    row_walks: list[tuple[Any, Any]] = []
    original = chain.iter_pg_rows

    def recording(raw, table, after=None, upto=None):
        row_walks.append((after, upto))
        return original(raw, table, after, upto)

    monkeypatch.setattr(chain, "iter_pg_rows", recording)
    return row_walks


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_plain_values_take_the_fast_path(chain_users, small_chunks, seed):
    """Codes and ids without special characters: every chunk accepted as it is."""
    build_random_chain(5 * CHUNK + 3, seed, chain_users, tricky=False)
    fast, reference = both_walks()
    assert reference.finding is None
    assert fast == reference
    # Only the check for rows past the last (short) chunk walks rows.
    assert small_chunks == [(6 * CHUNK, None)]


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [4, 5, 6, 7])
def test_tricky_values_verify_exactly_as_the_reference(chain_users, small_chunks, seed):
    build_random_chain(6 * CHUNK, seed, chain_users)
    fast, reference = both_walks()
    assert reference.finding is None, str(reference.finding)
    assert reference.count == 6 * CHUNK
    assert fast == reference
    # Chunks holding 0x1f in a text column are left to the row walk, which
    # accepts them; the others were accepted by the chunked walk itself.
    with_separator = {
        (event.seq - 1) // CHUNK
        for event in AuditEvent.objects.all()
        if "\x1f"
        in event.action + event.object_type + event.object_id + event.from_state + event.to_state
    }
    walked = {(upto - 1) // CHUNK for _, upto in small_chunks if upto is not None}
    assert walked == with_separator


@pytest.mark.django_db
def test_escaping_path_equals_reference_without_separators(chain_users, small_chunks):
    """Quotes, backslashes and control characters (but no 0x1f) in text columns."""
    rng = random.Random(8)
    specials = [c for c in TRICKY if c not in {"\x1f"}]
    for i in range(3 * CHUNK):
        log.append(
            actor_id=None,
            action="".join(rng.choice(specials) for _ in range(3)),
            object_type="t",
            object_id=str(i),
            from_state=rng.choice(specials),
            to_state="",
            details={"k": rng.choice(specials)},
        )
    fast, reference = both_walks()
    assert reference.finding is None
    assert fast == reference
    # 3 full chunks, then an empty one.
    assert small_chunks == [(4 * CHUNK, None)]


def tamper(sql: str, params: list[Any]) -> None:
    with triggers_off():
        run_sql(sql.format(t=TABLE), params)


# Seqs on both sides of chunk boundaries and at the ends of the chain.
BOUNDARY_SEQS = [1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 5, 4 * CHUNK]


@pytest.mark.django_db
@pytest.mark.parametrize("seq", BOUNDARY_SEQS)
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE {t} SET action = action || 'x' WHERE seq = %s",
        "UPDATE {t} SET action = action || E'\\x1f' WHERE seq = %s",
        "UPDATE {t} SET object_id = object_id || ',' WHERE seq = %s",
        "UPDATE {t} SET details = details || '{{\"x\": 1}}' WHERE seq = %s",
        "UPDATE {t} SET occurred_at = occurred_at + interval '1 microsecond' WHERE seq = %s",
        "UPDATE {t} SET actor_id = NULL WHERE seq = %s",
        "UPDATE {t} SET actor_id = (SELECT max(actor_id) FROM {t}) WHERE seq = %s",
        "UPDATE {t} SET prev_hash = repeat('0', 64) WHERE seq = %s",
        "UPDATE {t} SET prev_hash = left(prev_hash, 63) || ',' WHERE seq = %s",
        "UPDATE {t} SET hash = repeat('f', 64) WHERE seq = %s",
        "UPDATE {t} SET hash = left(hash, 62) || ',x' WHERE seq = %s",
        "UPDATE {t} SET seq = seq + 100000 WHERE seq = %s",
        "UPDATE {t} SET seq = 0 WHERE seq = %s",
        "DELETE FROM {t} WHERE seq = %s",
        "DELETE FROM {t} WHERE seq >= %s",
    ],
)
def test_tampering_found_at_the_same_seq_as_the_reference(chain_users, small_chunks, sql, seq):
    build_random_chain(4 * CHUNK, 9, chain_users, tricky=False)
    tamper(sql, [seq])
    fast, reference = both_walks()
    # A truncation is no finding for the walk alone (`conclude` compares the
    # head), nor is a value set to what it was.
    unchanged = (
        "seq >=" in sql
        or "actor_id" in sql
        or (seq == 1 and "repeat('0'" in sql)
        or (seq == 4 * CHUNK and "DELETE" in sql)
    )
    assert reference.finding is not None or unchanged
    assert fast == reference


@pytest.mark.django_db
@pytest.mark.parametrize("seq", [CHUNK, CHUNK + 1, 2 * CHUNK + 3])
def test_null_column_is_not_taken_for_a_field(chain_users, small_chunks, seq):
    """A NULL (possible once NOT NULL is dropped) must not shift the fields."""
    build_random_chain(3 * CHUNK, 10, chain_users, tricky=False)
    with triggers_off():
        run_sql(f"ALTER TABLE {TABLE} ALTER COLUMN from_state DROP NOT NULL")
        # One field fewer (the NULL) and one more (the 0x1f): the same count.
        run_sql(
            f"UPDATE {TABLE} SET from_state = NULL, to_state = to_state || E'\\x1f' "
            "WHERE seq = %s",
            [seq],
        )
    fast, reference = both_walks()
    assert reference.finding is not None
    assert reference.finding.seq == seq
    assert fast == reference


@pytest.mark.django_db
def test_checkpoints_in_chunks(chain_users, small_chunks):
    build_random_chain(4 * CHUNK, 11, chain_users, tricky=False)
    hashes = dict(AuditEvent.objects.values_list("seq", "hash"))
    good = {CHUNK: hashes[CHUNK], 2 * CHUNK + 1: hashes[2 * CHUNK + 1]}
    fast, reference = both_walks(good)
    assert reference.finding is None
    assert fast == reference
    assert fast.checkpoint_hashes == good
    bad = good | {3 * CHUNK: "0" * 64}
    fast, reference = both_walks(bad)
    assert reference.finding is not None
    assert reference.finding.kind == "checkpoint"
    assert fast == reference


@pytest.mark.django_db
def test_parallel_ranges_stitch_like_one_walk(chain_users, small_chunks):
    build_random_chain(5 * CHUNK, 12, chain_users)
    raw = connection.connection
    table = connection.ops.quote_name(TABLE)
    ranges = [(None, 2 * CHUNK + 3), (2 * CHUNK + 3, 4 * CHUNK), (4 * CHUNK, None)]
    segments = [
        (
            1 if after is None else after + 1,
            verify_pg_chunks(
                raw,
                table,
                after=after,
                upto=upto,
                start_prev_hash=log.GENESIS_HASH if after is None else None,
            ),
        )
        for after, upto in ranges
    ]
    stitched = chain.stitch(segments)
    assert stitched.finding is None
    assert stitched.count == 5 * CHUNK
    assert stitched.last_hash == AuditEvent.objects.get(seq=5 * CHUNK).hash


def forge_row_with_seq(seq_sql: str) -> None:
    """A copy of the last event under another seq (constraints dropped first)."""
    with triggers_off():
        run_sql(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {TABLE}_seq_check")
        run_sql(f"ALTER TABLE {TABLE} DROP CONSTRAINT {TABLE}_pkey")
        run_sql(f"ALTER TABLE {TABLE} ALTER COLUMN seq DROP NOT NULL")
        run_sql(
            f"INSERT INTO {TABLE} (seq, occurred_at, actor_id, action, object_type, object_id, "
            "from_state, to_state, details, prev_hash, hash) "
            f"SELECT {seq_sql}, occurred_at, actor_id, 'forged', object_type, object_id, "
            "from_state, to_state, details, prev_hash, 'forged' || seq::text "
            f"FROM {TABLE} ORDER BY seq DESC LIMIT 1"
        )


@pytest.mark.django_db
@pytest.mark.parametrize("seq_sql", ["NULL", "-9223372036854775808", "-1", "0"])
def test_rows_outside_every_range_are_seen(chain_users, small_chunks, seq_sql):
    build_random_chain(2 * CHUNK + 1, 13, chain_users, tricky=False)
    forge_row_with_seq(seq_sql)
    fast, reference = both_walks()
    assert reference.finding is not None
    assert fast == reference
