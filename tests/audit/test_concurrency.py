"""T-CC-3: concurrent appenders never fork the chain; the parallel verifier agrees."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from audit import log
from audit.models import AuditEvent

from .conftest import run_sql

WRITERS = 20
EACH = 500


def _writer(number: int, barrier: threading.Barrier, errors: list[BaseException]) -> None:
    try:
        barrier.wait()
        for i in range(EACH):
            log.append(
                actor_id=None,
                action="concurrent_write",
                object_type="test",
                object_id=number,
                details={"writer": number, "i": i},
            )
    except BaseException as error:  # reported by the main thread
        errors.append(error)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_twenty_writers_five_hundred_events_each():
    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_writer, args=(n, barrier, errors)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    total = WRITERS * EACH
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, total + 1))
    prev_hashes = AuditEvent.objects.values_list("prev_hash", flat=True)
    assert len(set(prev_hashes)) == total  # no fork: no two events share a parent
    for n in range(WRITERS):
        assert AuditEvent.objects.filter(object_id=str(n)).count() == EACH

    report = log.verify_database(checkpoint_dir=None, workers=1)
    assert report.ok, report.lines()
    assert report.events == total
    parallel = log.verify_database(checkpoint_dir=None, workers=2)
    assert parallel.ok, parallel.lines()
    assert parallel.workers == 2
    assert parallel.events == total


@pytest.mark.django_db(transaction=True)
def test_parallel_verifier_reports_the_same_first_broken_seq():
    for i in range(3000):
        log.append(actor_id=None, action="login", object_type="session", details={"i": i})
    table = "requests_app_auditevent"
    cases = [
        (f"UPDATE {table} SET action = 'x' WHERE seq = 2200", 2200),
        # Around the boundary between the two workers' ranges (1500 | 1501).
        (f"DELETE FROM {table} WHERE seq = 1501", 1501),
        (f"DELETE FROM {table} WHERE seq = 1500", 1500),
        (f"UPDATE {table} SET prev_hash = repeat('1', 64) WHERE seq = 1501", 1501),
        (f"UPDATE {table} SET hash = repeat('2', 64) WHERE seq = 1500", 1500),
        (f"DELETE FROM {table} WHERE seq > 2990", 2991),
        (f"UPDATE {table} SET details = '{{}}' WHERE seq = 3", 3),
        (f"UPDATE {table} SET seq = 0 WHERE seq = 1", 0),
    ]
    # Autocommit: each statement is committed, so the worker processes see it.
    run_sql(f"CREATE TEMP TABLE pristine AS SELECT * FROM {table}")
    run_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    try:
        for sql, first_broken in cases:
            run_sql(sql)
            for workers in (1, 2):
                report = log.verify_database(checkpoint_dir=None, workers=workers)
                assert report.finding is not None, (sql, workers)
                assert report.finding.seq == first_broken, (sql, workers, report.lines())
                assert report.workers == workers
            run_sql(f"DELETE FROM {table}")
            run_sql(f"INSERT INTO {table} SELECT * FROM pristine")
        assert log.verify_database(checkpoint_dir=None, workers=2).ok
    finally:
        run_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
