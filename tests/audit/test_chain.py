"""T-AU-1: any single-row tamper is detected, at exactly the first broken seq.

The in-memory cases run `log.verify_rows`, i.e. the same walk
(`chain.verify_tuples`) and conclusion (`chain.conclude`) as
`manage.py verify_audit`, over the 1,000 rows read back from PostgreSQL.
The SQL cases tamper with the real table (triggers switched off inside the
test transaction, as a superuser could) and run the command itself.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from audit import log
from audit.chain import ROW_NAMES, canonical_text, verify_tuples
from audit.models import AuditChainHead, AuditEvent

from .conftest import VARIED_DETAILS, build_chain, run_sql, triggers_off

N = 1000


@pytest.fixture
def chain(chain_users, checkpoint_dir) -> list[dict[str, Any]]:
    build_chain(N, chain_users)
    return list(log.iter_event_rows())


SMALL = 200


@pytest.fixture
def small_chain(chain_users, checkpoint_dir) -> None:
    """A shorter chain for the cases that tamper with the table itself."""
    build_chain(SMALL, chain_users)


def head_of(rows: list[dict[str, Any]]) -> tuple[int, str]:
    return rows[-1]["seq"], rows[-1]["hash"]


def tampered_value(column: str, row: dict[str, Any], other_user: int):
    value = row[column]
    if column == "seq":
        return value + 10**6
    if column == "occurred_at":
        # One microsecond later: still a well-formed timestamp.
        return value[:-2] + ("1" if value[-2] != "1" else "2") + "Z"
    if column == "actor_id":
        return other_user if value is None else None
    if column == "details":
        changed = copy.deepcopy(value)
        changed["injected"] = 1
        return changed
    if column in {"prev_hash", "hash"}:
        return value[:-1] + ("0" if value[-1] != "0" else "1")
    return value + "x"


def forged_after(rows: list[dict[str, Any]], index: int) -> dict[str, Any]:
    """A well-formed event chained on row `index`, with a valid hash of its own."""
    fields = {name: rows[index][name] for name in ROW_NAMES if name != "hash"} | {
        "seq": rows[index]["seq"] + 1,
        "prev_hash": rows[index]["hash"],
        "action": "forged",
    }
    return fields | {"hash": log.compute_hash(fields)}


@pytest.mark.django_db
def test_chain_reads_back_and_verifies(chain):
    assert len(chain) == N
    assert [r["seq"] for r in chain] == list(range(1, N + 1))
    assert log.verify_rows(chain, head=head_of(chain)) is None
    # Every row's stored hash is the reference serialisation's hash.
    for row in chain:
        fields = {k: v for k, v in row.items() if k != "hash"}
        assert log.compute_hash(fields) == row["hash"]
    report = log.verify_database(checkpoint_dir=None)
    assert report.ok, report.lines()
    assert report.events == N


def test_fast_canonical_form_equals_reference():
    for i, details in enumerate(VARIED_DETAILS):
        fields = {
            "seq": i + 1,
            "occurred_at": "2026-11-02T10:00:00.000001Z",
            "actor_id": None if i % 2 else 7,
            "action": 'é"\\\n',
            "object_type": "disclosure_request",
            "object_id": "42",
            "from_state": "",
            "to_state": "\u2028",
            "details": details,
            "prev_hash": "a" * 64,
        }
        expected = log.canonical_bytes(fields)
        row: list[Any] = [fields[name] for name in ROW_NAMES[:-1]]
        row[8] = json.dumps(details)  # any JSON text of the details will do
        assert canonical_text(*row).encode() == expected
        digest = hashlib.sha256(expected).hexdigest()
        segment = verify_tuples([(*row, digest)], start_seq=i + 1, start_prev_hash="a" * 64)
        assert segment.finding is None


@pytest.mark.django_db
def test_every_column_of_every_row(chain, chain_users):
    other_user = chain_users[0].pk
    head = head_of(chain)
    # Rows adapted once; each case swaps in one tampered row (same walk).
    adapted = [log.as_row(row) for row in chain]
    detected = 0
    for index, row in enumerate(chain):
        for column in ROW_NAMES:
            rows = list(adapted)
            rows[index] = log.as_row(
                dict(row, **{column: tampered_value(column, row, other_user)})
            )
            finding = log.verify_rows(rows, head=head)
            assert finding is not None, (index, column)
            assert finding.seq == row["seq"], (index, column, str(finding))
            detected += 1
    assert detected == N * len(ROW_NAMES)


@pytest.mark.django_db
def test_delete_duplicate_swap_insert_every_row(chain):
    head = head_of(chain)
    dicts, chain = chain, [log.as_row(row) for row in chain]
    for index, row in enumerate(dicts):
        seq = row["seq"]
        # Delete: the missing number is reported (the last one via the head).
        finding = log.verify_rows(chain[:index] + chain[index + 1 :], head=head)
        assert finding is not None
        assert finding.seq == seq, ("delete", seq, str(finding))
        # Duplicate: the repeated number.
        finding = log.verify_rows([*chain[: index + 1], row, *chain[index + 1 :]], head=head)
        assert finding is not None
        assert finding.seq == seq, ("duplicate", seq, str(finding))
        # Swap with the next neighbour (the last row with the previous one).
        rows = list(chain)
        j = index + 1 if index + 1 < N else index - 1
        rows[index], rows[j] = rows[j], rows[index]
        finding = log.verify_rows(rows, head=head)
        assert finding is not None
        assert finding.seq == min(seq, dicts[j]["seq"]), ("swap", seq, str(finding))
        # Insert a forged, self-consistent row right after this one: its seq
        # collides with the genuine next event (or runs past the head).
        forged = log.as_row(forged_after(dicts, index))
        finding = log.verify_rows([*chain[: index + 1], forged, *chain[index + 1 :]], head=head)
        assert finding is not None
        assert finding.seq == seq + 1, ("insert", seq, str(finding))
    # Inserting before the first event.
    first = dict(dicts[0], action="forged-first")
    finding = log.verify_rows([first, *chain], head=head)
    assert finding is not None
    assert finding.seq == 1


def verify_command() -> str:
    from io import StringIO

    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit", stdout=out)
    return out.getvalue() + str(failure.value)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sql", "params", "first_broken"),
    [
        ("UPDATE {t} SET details = details || '{{\"x\": 1}}' WHERE seq = %s", [150], 150),
        ("UPDATE {t} SET action = 'approve' WHERE seq = %s", [1], 1),
        (
            "UPDATE {t} SET occurred_at = occurred_at + interval '1 microsecond' WHERE seq = %s",
            [77],
            77,
        ),
        ("UPDATE {t} SET actor_id = NULL WHERE seq = %s", [2], 2),
        ("UPDATE {t} SET object_id = '999' WHERE seq = %s", [2], 2),
        ("UPDATE {t} SET from_state = 'closed' WHERE seq = %s", [199], 199),
        ("UPDATE {t} SET to_state = 'closed' WHERE seq = %s", [200], 200),
        ("UPDATE {t} SET object_type = 'session' WHERE seq = %s", [3], 3),
        ("UPDATE {t} SET prev_hash = repeat('0', 64) WHERE seq = %s", [120], 120),
        ("UPDATE {t} SET hash = repeat('f', 64) WHERE seq = %s", [120], 120),
        ("UPDATE {t} SET seq = 5000 WHERE seq = %s", [100], 100),
        ("DELETE FROM {t} WHERE seq = %s", [120], 120),
        ("DELETE FROM {t} WHERE seq >= %s", [190], 190),
        ("DELETE FROM {t} WHERE seq = %s", [200], 200),
    ],
)
def test_sql_tampering_is_reported_by_the_command(small_chain, sql, params, first_broken):
    with triggers_off():
        run_sql(sql.format(t="requests_app_auditevent"), params)
    output = verify_command()
    assert f"FIRST BROKEN SEQ {first_broken}:" in output
    assert f"first broken seq {first_broken}" in output


@pytest.mark.django_db
def test_sql_swap_of_neighbours(small_chain):
    a, b = AuditEvent.objects.get(seq=10), AuditEvent.objects.get(seq=11)
    with triggers_off():
        # Swap the contents of two neighbours; seq (and the unique hash) kept.
        for target, source in ((10, b), (11, a)):
            run_sql(
                "UPDATE requests_app_auditevent SET action = %s, details = %s::jsonb, "
                "occurred_at = %s, actor_id = %s, prev_hash = %s WHERE seq = %s",
                [
                    source.action,
                    json.dumps(source.details),
                    source.occurred_at,
                    source.actor_id,
                    source.prev_hash,
                    target,
                ],
            )
    assert "FIRST BROKEN SEQ 10:" in verify_command()


@pytest.mark.django_db
def test_sql_forged_row_past_the_head(small_chain):
    last = AuditEvent.objects.get(seq=SMALL)
    fields = log.event_fields(last) | {
        "seq": SMALL + 1,
        "prev_hash": last.hash,
        "action": "forged",
    }
    run_sql(
        "INSERT INTO requests_app_auditevent (seq, occurred_at, actor_id, action, object_type, "
        "object_id, from_state, to_state, details, prev_hash, hash) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s)",
        [
            SMALL + 1,
            last.occurred_at,
            last.actor_id,
            "forged",
            last.object_type,
            last.object_id,
            last.from_state,
            last.to_state,
            json.dumps(last.details),
            last.hash,
            log.compute_hash(fields),
        ],
    )
    output = verify_command()
    assert f"FIRST BROKEN SEQ {SMALL + 1}:" in output
    assert "past the chain head" in output


@pytest.mark.django_db
def test_clean_chain_command_output(small_chain):
    from io import StringIO

    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().strip() == f"OK {SMALL} events, 0 checkpoints"
    assert AuditChainHead.objects.get().seq == SMALL
