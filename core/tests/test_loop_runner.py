"""The worker's claims run from its event loop: PostgreSQL's on an asyncio connection."""

from __future__ import annotations

import asyncio
import json
import time

import psycopg
import pytest
from sqlalchemy import insert, literal_column, select, text
from writeback import Dispatcher
from writeback.store import Store
from writeback.store import _loop as loop_module
from writeback.store._driver import Query
from writeback.store._schema import deliveries, events
from writeback.store._statements import DUE, FINISHED_FIELDS, RECORD_STATE

from .conftest import event, row


@pytest.fixture
def pg(writeback_pg_url, registry):
    with Dispatcher(Store.open(writeback_pg_url), registry) as dispatcher:
        dispatcher.connectors.add(row())
        yield dispatcher


#: Where the connection's settings came from: "client" is its connection options
#: (the test cluster itself runs with synchronous_commit=off).
SETTINGS = text(
    "SELECT pg_backend_pid(),"
    " (SELECT setting || ' from ' || source FROM pg_settings WHERE name = 'synchronous_commit'),"
    " current_setting('statement_timeout'),"
    " current_setting('enable_sort')"
)


def _settings():
    """A unit of work: this connection's backend and settings."""
    rows = yield Query(SETTINGS, {})
    return rows[0]


def _divide_by_zero():
    yield Query(select(literal_column("1/0")), {})


def _in_a_loop(work):
    """Run ``work(runner)`` on a new loop with a runner of that loop, then close it."""

    async def scenario(store: Store):
        runner = store.outbox.loop_runner()
        try:
            return await work(runner)
        finally:
            await runner.aclose()

    return scenario


def test_postgresql_claims_run_on_the_loop_without_a_thread(pg, script, monkeypatch):
    """In a thread, each answer from the server waited for the GIL from the busy
    loop: claims took 11 ms instead of 3 and the worker's queue ran dry."""
    for n in range(30):
        pg.submit(event(key=f"K{n}"))

    def no_thread(*args, **kwargs):
        raise AssertionError("a PostgreSQL claim went to a thread")

    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    stats = pg.run_worker(until_idle=True, concurrency=4)
    assert stats.delivered == 30 and len(script.sent) == 30
    assert pg.deliveries.counts() == {"delivered": 30}


def test_a_connection_the_server_dropped_is_replaced_once(pg):
    """The pool pings before lending a connection; the runner holds one for the
    whole run, so it must notice a dropped one itself (a server restart)."""
    pg.submit(event(key="K0"))
    pg.submit(event(key="K1"))
    outbox = pg.store.outbox

    async def work(runner):
        first = await runner.run(outbox.claim_steps("w", 1, lease_seconds=60))
        (pid, *_) = await runner.run(_settings)
        with pg.store.engine.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        second = await runner.run(outbox.claim_steps("w", 1, lease_seconds=60))
        (new_pid, *_) = await runner.run(_settings)
        return first, second, pid, new_pid

    first, second, pid, new_pid = asyncio.run(_in_a_loop(work)(pg.store))
    assert len(first) == 1 and len(second) == 1 and first[0].id != second[0].id
    assert new_pid != pid


def test_an_error_in_a_statement_rolls_back_and_keeps_the_connection(pg):
    pg.submit(event(key="K0"))
    outbox = pg.store.outbox

    async def work(runner):
        (pid, *_) = await runner.run(_settings)
        with pytest.raises(psycopg.errors.DivisionByZero):
            await runner.run(_divide_by_zero)
        claims = await runner.run(outbox.claim_steps("w", 5, lease_seconds=60))
        (same_pid, *_) = await runner.run(_settings)
        return pid, claims, same_pid

    pid, claims, same_pid = asyncio.run(_in_a_loop(work)(pg.store))
    assert len(claims) == 1 and same_pid == pid


def test_the_runner_connects_with_the_work_engines_settings(writeback_pg_url):
    """Not durable (the worker's bookkeeping) and without sorts, like the pool's
    connections, and with what the URL itself asks for."""
    url = writeback_pg_url + "?options=-c%20statement_timeout%3D12345"
    store = Store.open(url)
    try:

        async def work(runner):
            return await runner.run(_settings)

        worker_settings = ("off from client", "12345ms", "off")
        assert tuple(asyncio.run(_in_a_loop(work)(store)))[1:] == worker_settings
        with store.work_engine.connect() as conn:  # type: ignore[union-attr]
            assert tuple(conn.execute(SETTINGS).one())[1:] == worker_settings
        with store.engine.connect() as conn:  # submissions: the server's own settings
            _, commit, timeout, sorts = conn.execute(SETTINGS).one()
            assert not commit.endswith("from client") and (timeout, sorts) == ("12345ms", "on")
    finally:
        store.close()


def test_a_claim_walks_the_due_index_whatever_the_planner_estimates(pg):
    """The claim must stop after ``limit`` queue heads.  Without statistics the
    planner estimates one due row, and then walking the due index, or a bitmap
    or unordered scan and a sort, cost about the same on paper; the last two read
    every due row (in a benchmark: 3,500 rows read for 16 claimed).  Here the price of
    a random read tips that balance both ways; the worker's connections walk the
    index whatever it is.  A generic plan, as psycopg prepares a statement run
    five times.  (Due is by the server's clock: every delivery submitted is due.)"""
    for n in range(300):
        pg.submit(event(key=f"K{n}"))
    statements = pg.store.outbox._hot
    sql, params = statements.expand(DUE, {"limit": 8, "skip": []})
    read_all = 0
    for random_page_cost in (10, 1000):
        for engine in (pg.store.engine, pg.store.work_engine):
            with engine.connect() as conn:
                cursor = conn.connection.driver_connection.cursor()
                cursor.execute(f"SET random_page_cost = {random_page_cost}")
                cursor.execute("SET plan_cache_mode = force_generic_plan")
                cursor.execute(sql, params, prepare=True)
                cursor.execute(
                    "SELECT name FROM pg_prepared_statements WHERE statement LIKE '%SKIP LOCKED%'"
                )
                (name,) = cursor.fetchone()
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE {name}(8)")
                scans = _scans(cursor.fetchone()[0][0]["Plan"])
                conn.rollback()
            if engine is pg.store.work_engine:
                assert scans == [("Index Scan", "ix_deliveries_due", 8)], random_page_cost
            else:
                read_all += ("Sort", None, 8) in scans
    # Without the worker's settings every due row was read: the test tips the
    # balance it means to (were it not, it would show nothing).
    assert read_all == 2


def test_recording_a_batch_finds_its_deliveries_by_key(pg):
    """PostgreSQL guesses 100 rows for any JSON array; joined with that alone,
    recording a batch scanned the whole deliveries table (here 5,000 rows, in a
    benchmark 6,000).  With the batch's seqs it probes the key."""
    _bulk_pending(pg.store, 5000)
    seqs = [5, 6, 7]
    finished = json.dumps(
        [[seq, "delivered", 0.0, 1, 0.0, 1.0, 200, "delivered", None, None] for seq in seqs]
    )
    assert len(json.loads(finished)[0]) == len(FINISHED_FIELDS)
    sql, params = pg.store.outbox._hot.expand(
        RECORD_STATE, {"finished": finished, "seqs": seqs, "owner": "w", "now": 0.0}
    )
    with pg.store.work_engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        nodes = [
            (node["Node Type"], node.get("Relation Name"), node.get("Index Name"))
            for node in _plan_nodes(cursor.fetchone()[0][0]["Plan"])
        ]
        conn.rollback()
    assert ("Seq Scan", "deliveries", None) not in nodes, nodes
    assert any(index == "deliveries_pkey" for _, _, index in nodes), nodes


def _bulk_pending(store, n):
    """``n`` pending deliveries of one event, written at once (``submit`` takes
    a transaction each)."""
    now = time.time()
    with store.engine.begin() as conn:
        conn.execute(
            insert(events).values(
                id="evt-bulk", action="create", source_app="APP", appointment_key="K",
                payload="{}", submitted_at=now,
            )
        )  # fmt: skip
        conn.execute(
            insert(deliveries),
            [
                {
                    "id": f"dlv_bulk{i}", "event_id": "evt-bulk", "connector_id": None,
                    "connector_name": "f1", "action": "create", "appointment_key": f"K{i}",
                    "status": "pending", "attempts": 0, "replayed_after": 0,
                    "next_attempt_at": now, "created_at": now, "updated_at": now,
                }
                for i in range(n)
            ],
        )  # fmt: skip


def _plan_nodes(plan):
    """Every node of an EXPLAIN (FORMAT JSON) plan, depth first."""
    yield plan
    for child in plan.get("Plans", ()):
        yield from _plan_nodes(child)


def _scans(plan):
    """(node type, index, rows read) of the plan's scans of deliveries, and its sorts."""
    return [
        (node["Node Type"], node.get("Index Name"), node.get("Actual Rows"))
        for node in _plan_nodes(plan)
        if (node.get("Relation Name") == "deliveries" and node.get("Alias") == "deliveries")
        or node["Node Type"] == "Sort"
    ]


def test_where_the_loop_cannot_watch_sockets_claims_go_to_a_thread(pg, script, monkeypatch):
    """Windows' default ProactorEventLoop has no add_reader, which psycopg's
    asyncio mode needs."""
    for n in range(10):
        pg.submit(event(key=f"K{n}"))
    monkeypatch.setattr(loop_module, "_loop_can_watch_sockets", lambda: False)
    threads = []
    real_to_thread = asyncio.to_thread

    async def to_thread(function, *args, **kwargs):
        threads.append(function)
        return await real_to_thread(function, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", to_thread)
    stats = pg.run_worker(until_idle=True, concurrency=2)
    assert stats.delivered == 10 and threads
