from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import update
from writeback import Dispatcher
from writeback.store import SCHEMA_REVISION, AttemptRecord, Finished, Store, WriteLockBusy
from writeback.store._driver import DriverStatements
from writeback.store._schema import deliveries, metadata
from writeback.store._statements import (
    DUE,
    FINISHED_FIELDS,
    INSERT_ATTEMPTS,
    LEASE,
    NEXT_WAKE,
    RECORD_STATE,
)

from .conftest import event, row


@pytest.fixture
def wb(writeback_any_db_url, registry):
    dispatcher = Dispatcher(Store.open(writeback_any_db_url), registry)
    dispatcher.connectors.add(row())
    yield dispatcher
    dispatcher.close()


def test_migrations_build_exactly_the_declared_schema(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path}/m.db")
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        version = conn.exec_driver_sql("select version_num from alembic_version").scalar()
    assert diff == []
    assert version == SCHEMA_REVISION


def test_migration_head_is_the_declared_revision():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "writeback.store:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION


def test_submit_routes_by_source_app_crud_and_enabled(wb):
    wb.connectors.add(row(name="updates-only", crud_types=["update"]))
    wb.connectors.add(row(name="off", enabled=False))
    wb.connectors.add(row(name="other-app", source_app="OTHER"))
    created = wb.submit_detailed(event("create"))
    assert [c for _, c in created.deliveries] == ["f1"]
    updated = wb.submit_detailed(event("update"))
    assert sorted(c for _, c in updated.deliveries) == ["f1", "updates-only"]
    assert wb.submit(event("create", source="app")) == []  # exact, case-sensitive


def test_resubmitting_an_event_id_creates_nothing(wb):
    first = wb.submit({**event(), "id": "evt-1"})
    again = wb.submit_detailed({**event(), "id": "evt-1"})
    assert again.created is False
    assert [d for d, _ in again.deliveries] == first
    assert len(wb.deliveries.list()) == 1


def test_claim_takes_only_the_head_of_each_appointment_queue(wb):
    a1 = wb.submit(event("create", "A"))
    wb.submit(event("update", "A"))
    b1 = wb.submit(event("create", "B"))
    claims = wb.store.outbox.claim("w1", 10, lease_seconds=60)
    assert [c.id for c in claims] == a1 + b1
    # Leased deliveries are not claimed again, and A's update still waits.
    assert wb.store.outbox.claim("w2", 10, lease_seconds=60) == []


def test_expired_lease_is_claimed_again(wb):
    ids = wb.submit(event())
    assert [c.id for c in wb.store.outbox.claim("dead-worker", 1, lease_seconds=0.05)] == ids
    time.sleep(0.1)
    again = wb.store.outbox.claim("w2", 1, lease_seconds=60)
    assert [c.id for c in again] == ids


def test_retry_requeues_dead_with_same_id_and_rejects_unknown(wb):
    from writeback.store import AttemptRecord

    ids = wb.submit(event())
    claim = wb.store.outbox.claim("w", 1, lease_seconds=60)[0]
    wb.store.outbox.finish(
        claim, "w", AttemptRecord(1, time.time(), 1.0, 400, "failed", "HTTP 400"), status="dead"
    )
    from writeback._errors import DeliveryNotFoundError

    with pytest.raises(DeliveryNotFoundError):
        wb.deliveries.retry(["dlv_nope"])
    assert wb.deliveries.retry(all_dead=True) == ids
    row_, history = wb.deliveries.get(ids[0])
    assert row_.status == "pending" and row_.attempts == 1 and len(history) == 1


def test_a_recorded_batch_keeps_every_field_and_leaves_a_lost_lease_to_its_holder(wb):
    """The batch travels as one JSON document: nothing of an attempt may change
    on the way (NULLs, quotes, non-ASCII, a float's every digit), and a delivery
    whose lease passed to another worker keeps its state (its attempt is kept).
    The next attempt's time is kept as its distance from now, on the database's
    clock: on SQLite (this host's clock) to the digit."""
    ids = [wb.submit(event(key=f"K{n}"))[0] for n in range(4)]
    claims = {c.id: c for c in wb.store.outbox.claim("w", 4, lease_seconds=60)}
    retry_at = time.time() + 12.345678901234
    errors = ['read timed out: "upstream" \u2192 \xfc', 'HTTP 400: {"error": "bad \\ input"}']
    finished = [
        Finished(claims[ids[0]], AttemptRecord(1, 1.25, 5.5, 200, "delivered", None), "delivered"),
        Finished(
            claims[ids[1]], AttemptRecord(1, retry_at, 30000.0, None, "failed", errors[0]),
            "pending", next_attempt_at=retry_at,
        ),
        Finished(claims[ids[2]], AttemptRecord(1, 3.75, 7.0, 400, "failed", errors[1]), "dead"),
        Finished(claims[ids[3]], AttemptRecord(1, 4.0, 1.0, 200, "delivered", None), "delivered"),
    ]  # fmt: skip
    with wb.store.engine.begin() as conn:  # another worker took K3's delivery over
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == ids[3])
            .values(lease_owner="other", lease_expires_at=time.time() + 60)
        )
    assert wb.store.outbox.record(finished, "w") == {claims[ids[3]].seq}
    rows = {i: wb.deliveries.get(i) for i in ids}
    for done in finished:
        assert rows[done.claim.id][1] == [done.attempt]
    states = [
        (r.status, r.attempts, r.last_status_code, r.last_error, r.lease_owner)
        for r, _ in rows.values()
    ]
    assert states == [
        ("delivered", 1, 200, None, None),
        ("pending", 1, None, errors[0], None),
        ("dead", 1, 400, errors[1], None),
        ("pending", 0, None, None, "other"),
    ]
    if wb.store.engine.dialect.name == "sqlite":
        assert rows[ids[1]][0].next_attempt_at == retry_at
    else:
        assert rows[ids[1]][0].next_attempt_at == pytest.approx(retry_at, abs=5)


def test_a_nul_in_an_error_is_recorded_as_a_replacement_character(wb):
    """PostgreSQL's text cannot hold NUL: an error text with one (an endpoint's
    answer) failed the whole record there, and SQLite cut the text short at it."""
    (delivery_id,) = wb.submit(event(key="K0"))
    (claim,) = wb.store.outbox.claim("w", 1, lease_seconds=60)
    error = "HTTP 500: a\x00b\x00"
    attempt = AttemptRecord(1, 1.0, 2.0, 500, "failed", error)
    assert wb.store.outbox.record([Finished(claim, attempt, "pending")], "w") == set()
    row, history = wb.deliveries.get(delivery_id)
    assert row.last_error == history[0].error == "HTTP 500: a\ufffdb\ufffd"
    assert (row.status, row.attempts, row.lease_owner) == ("pending", 1, None)


_FINISHED = {
    "seq": 1, "status": "delivered", "wait": 0.0, "n": 1, "started": 0.0,
    "duration": 1.0, "status_code": 200, "outcome": "delivered", "error": None, "code": None,
}  # fmt: skip
FINISHED_ROWS = json.dumps([[_FINISHED[field] for field in FINISHED_FIELDS]])
#: Values to run each of the worker's hot statements with (seq 1 exists where
#: a test submits one event).
HOT_VALUES = {
    DUE: {"now": 0.0, "limit": 8, "skip": [3]},
    NEXT_WAKE: {"skip": [3], "now": 0.0},
    LEASE: {"seqs": [1, 2, 3], "now": 0.0, "owner": "w", "lease_seconds": 60.0},
    INSERT_ATTEMPTS: {"finished": FINISHED_ROWS},
    RECORD_STATE: {"finished": FINISHED_ROWS, "seqs": [1], "owner": "w", "now": 0.0},
}


def test_sqlite_claims_look_up_rows_by_key_not_by_scanning_the_queue(tmp_path):
    """A claim's cost must not grow with the queue: the statements that touch the
    claimed rows find them by key, never through an index of pending rows."""
    store = Store.open(f"sqlite:///{tmp_path}/plan.db")
    hot = DriverStatements(store.engine)
    values = {statement: HOT_VALUES[statement] for statement in (LEASE, RECORD_STATE)}
    with store.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        for statement, params in values.items():
            sql, args = hot.expand(statement, params)
            plan = " ".join(row[-1] for row in cursor.execute("EXPLAIN QUERY PLAN " + sql, args))
            assert "INTEGER PRIMARY KEY" in plan and "ix_deliveries_due" not in plan, (sql, plan)
    store.close()


def test_sqlite_reads_a_recorded_batch_once(tmp_path):
    """Recording walks the batch's JSON array once and looks each delivery up by
    key; driven by a list of seqs instead, SQLite read the whole array again for
    every delivery (a claim of 16 with its record: 43-46 µs of CPU per delivery
    instead of 34-36)."""
    store = Store.open(f"sqlite:///{tmp_path}/plan.db")
    sql, args = DriverStatements(store.engine).expand(RECORD_STATE, HOT_VALUES[RECORD_STATE])
    with store.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        plan = [row[-1] for row in cursor.execute("EXPLAIN QUERY PLAN " + sql, args)]
    store.close()
    assert plan[0].startswith("SCAN finished") and "PRIMARY KEY" in plan[1], plan


def test_sqlite_claims_walk_the_due_index_in_order(tmp_path, registry):
    """The due query stops after ``limit`` queue heads only if it reads
    ix_deliveries_due in its order; a sort would read every due row first (what
    PostgreSQL's planner sometimes chose, see test_loop_runner).  Also once
    ANALYZE has given SQLite's planner statistics."""
    store = Store.open(f"sqlite:///{tmp_path}/due.db")
    dispatcher = Dispatcher(store, registry)
    dispatcher.connectors.add(row())
    for n in range(300):
        dispatcher.submit(event(key=f"K{n}"))
    sql, args = DriverStatements(store.engine).expand(DUE, HOT_VALUES[DUE])
    with store.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        for analyze in (False, True):
            if analyze:
                cursor.execute("ANALYZE")
            plan = [row[-1] for row in cursor.execute("EXPLAIN QUERY PLAN " + sql, args)]
            assert plan[0].startswith("SEARCH deliveries USING INDEX ix_deliveries_due"), plan
            assert not any("TEMP B-TREE" in step for step in plan), plan
    dispatcher.close()


def test_sqlite_prepares_each_hot_statement_once(tmp_path, registry):
    """SQLite prepares a statement again at every run when a bound value decides
    whether a partial index applies (``status = ?`` against the pending-queue index):
    that tripled the due query's cost.  SQLite's authorizer is asked only while a
    statement is prepared, so a statement run again must not ask it anything."""
    store = Store.open(f"sqlite:///{tmp_path}/prepare.db")
    dispatcher = Dispatcher(store, registry)
    dispatcher.connectors.add(row())
    dispatcher.submit(event())  # delivery seq 1, for the attempt's foreign key
    hot = DriverStatements(store.engine)
    raw = store.engine.raw_connection()
    try:
        connection = raw.driver_connection
        asked: list[tuple[object, ...]] = []
        connection.set_authorizer(lambda *request: asked.append(request) or sqlite3.SQLITE_OK)
        cursor = connection.cursor()
        for statement, params in HOT_VALUES.items():
            sql, args = hot.expand(statement, params)
            cursor.execute(sql, args).fetchall()
            assert asked, "the authorizer is asked while a statement is prepared"
            asked.clear()
            cursor.execute(sql, args).fetchall()
            cursor.execute(sql, args).fetchall()
            assert asked == [], sql
        connection.rollback()
    finally:
        raw.close()
        store.close()


def test_a_claim_that_will_not_wait_for_sqlites_write_lock_changes_nothing(tmp_path, registry):
    store = Store.open(f"sqlite:///{tmp_path}/busy.db")
    dispatcher = Dispatcher(store, registry)
    dispatcher.connectors.add(row())
    dispatcher.submit(event("create", "K0"))
    dispatcher.submit(event("create", "K1"))
    outbox = store.outbox
    (first,) = outbox.claim("w", 1, lease_seconds=60)
    done = Finished(first, AttemptRecord(1, time.time(), 5.0, 200, "delivered", None), "delivered")
    other = sqlite3.connect(tmp_path / "busy.db", isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(WriteLockBusy):
            outbox.claim("w", 1, lease_seconds=60, finished=[done], wait=False)
        assert time.monotonic() - started < 15  # not the busy timeout (30 s)
        statuses = "select status, count(*), count(lease_owner) from deliveries group by status"
        assert other.execute(statuses).fetchall() == [("pending", 2, 1)]
        assert other.execute("select count(*) from attempts").fetchone() == (0,)
        # Waiting (the default) still waits: the busy timeout was put back.
        threading.Timer(0.3, other.rollback).start()
        (second,) = outbox.claim("w", 1, lease_seconds=60, finished=[done])
        assert time.monotonic() - started >= 0.3
    finally:
        other.close()
    assert second.event["appointment"]["appointmentGuid"] == "K1"
    assert dispatcher.deliveries.counts() == {"delivered": 1, "pending": 1}
    dispatcher.close()
