"""The worker's claims run from its event loop: PostgreSQL's on an asyncio connection."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from sqlalchemy import literal_column, select, text
from writeback import Dispatcher
from writeback.store import Store
from writeback.store import _loop as loop_module
from writeback.store._driver import Query

from .conftest import event, row


@pytest.fixture
def pg(writeback_pg_url, registry):
    dispatcher = Dispatcher(Store.open(writeback_pg_url), registry)
    dispatcher.connectors.add(row())
    yield dispatcher
    dispatcher.close()


#: Where the connection's settings came from: "client" is its connection options
#: (the test cluster itself runs with synchronous_commit=off).
SETTINGS = text(
    "SELECT pg_backend_pid(),"
    " (SELECT setting || ' from ' || source FROM pg_settings WHERE name = 'synchronous_commit'),"
    " current_setting('statement_timeout')"
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
    """Not durable (the worker's bookkeeping), like the pool's connections, and
    with what the URL itself asks for."""
    url = writeback_pg_url + "?options=-c%20statement_timeout%3D12345"
    store = Store.open(url)
    try:

        async def work(runner):
            return await runner.run(_settings)

        _, commit, timeout = asyncio.run(_in_a_loop(work)(store))
        assert (commit, timeout) == ("off from client", "12345ms")
        with store.work_engine.connect() as conn:  # type: ignore[union-attr]
            assert tuple(conn.execute(SETTINGS).one())[1:] == ("off from client", "12345ms")
        with store.engine.connect() as conn:  # submissions: the server's own setting
            _, commit, timeout = conn.execute(SETTINGS).one()
            assert not commit.endswith("from client") and timeout == "12345ms"
    finally:
        store.close()


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
