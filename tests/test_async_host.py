"""The host API for asyncio services: ``AsyncDispatcher`` and ``WorkerRunner``.

On real SQLite and PostgreSQL, against a webhook receiver on 127.0.0.1.  What
"never blocks the loop" means is checked two ways, neither by timing: every
statement SQLAlchemy runs, and every call of the four worker calls that once
ran on the loop (renew, release, next_wake, a connector's row), is recorded
with its thread and none may be the loop's; and with SQLite's write lock held by
another connection, the loop must go on serving the test while the host API's
calls (or the worker) wait for it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import writeback._connector_states as connector_states
from sqlalchemy import event as sa_event
from writeback import (
    AsyncDispatcher,
    ConnectorView,
    DeliveryView,
    InvalidConnectorError,
    InvalidEventError,
    UserError,
)
from writeback_testing import Step

from .conftest import appointment_event, webhook_row


class LoopWatch:
    """Records the thread of every statement run through the store's engines, and
    of every call of the given methods, to tell those made on the loop's thread."""

    def __init__(self, wb: AsyncDispatcher) -> None:
        self.loop_thread = threading.get_ident()
        self.statements = 0
        self.on_loop: list[str] = []
        self.calls: dict[str, int] = {}
        store = wb.dispatcher.store
        self._engines = [e for e in (store.engine, store.work_engine) if e is not None]
        for engine in self._engines:
            sa_event.listen(engine, "before_cursor_execute", self._statement)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements += 1
        if threading.get_ident() == self.loop_thread:
            self.on_loop.append(statement.split("\n")[0])

    def wrap(self, owner: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
        real: Callable[..., Any] = getattr(owner, name)

        def watched(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            if threading.get_ident() == self.loop_thread:
                self.on_loop.append(f"{name}()")
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, watched)

    def close(self) -> None:
        for engine in self._engines:
            sa_event.remove(engine, "before_cursor_execute", self._statement)


async def _until(predicate: Callable[[], Any], timeout: float = 60.0) -> None:
    """Await ``predicate()`` (a coroutine function's result) turning true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "gave up waiting"
        await asyncio.sleep(0.05)


def test_the_host_api_end_to_end_off_the_loop(writeback_any_db_url, writeback_receiver):
    rx = writeback_receiver
    secret_row = webhook_row(
        "hook", rx.url, auth={"method": "basic", "username": "u", "password": "s3cret-pw"}
    )

    async def scenario() -> None:
        async with await AsyncDispatcher.open(writeback_any_db_url) as wb:
            watch = LoopWatch(wb)
            view = await wb.connectors.put("hook", {k: v for k, v in secret_row.items()})
            assert isinstance(view, ConnectorView)
            assert view.to_dict()["auth"]["password"] == "***"
            assert view.paused is False and view.to_dict()["paused_reason"] is None
            assert [c.name for c in await wb.connectors.list()] == ["hook"]
            with pytest.raises(InvalidConnectorError, match="differs from 'other'"):
                await wb.connectors.put("other", secret_row)

            one = await wb.submit({**appointment_event("create", "G0"), "id": "evt-0"})
            assert one.created and [c for _, c in one.deliveries] == ["hook"]
            again = await wb.submit({**appointment_event("create", "G0"), "id": "evt-0"})
            assert not again.created and again.deliveries == one.deliveries
            many = await wb.submit_many([appointment_event("update", f"G{n}") for n in (1, 2, 3)])
            assert [r.created for r in many] == [True, True, True]
            with pytest.raises(InvalidEventError):
                await wb.submit({"action": "move"})

            first = await wb.deliveries.list(limit=3)
            assert len(first.items) == 3 and first.next is not None
            rest = await wb.deliveries.list(limit=3, after=first.next)
            assert len(rest.items) == 1 and rest.next is None
            ids = [d.id for d in (*first.items, *rest.items)]
            assert ids[0] == one.deliveries[0][0] and len(set(ids)) == 4
            assert all(d.to_dict()["next_attempt_at"] for d in first.items)  # pending: due

            stats = await wb.run_worker(until_idle=True, concurrency=2)
            assert stats.delivered == 4 and stats.pending == 0

            shown = await wb.deliveries.get(ids[0])
            assert isinstance(shown, DeliveryView) and shown.status == "delivered"
            data = shown.to_dict()
            assert data["next_attempt_at"] is None and [h["n"] for h in data["history"]] == [1]
            assert (await wb.deliveries.stats()).to_dict()["totals"]["delivered"] == 4
            with pytest.raises(UserError, match="no delivery with id 'dlv_nope'"):
                await wb.deliveries.get("dlv_nope")

            assert await wb.deliveries.retry([ids[0]]) == [ids[0]]
            assert (await wb.deliveries.get(ids[0])).next_attempt_at is not None
            runner = wb.start_worker(concurrency=1)

            async def redelivered() -> bool:
                return (await wb.deliveries.get(ids[0])).status == "delivered"

            await _until(redelivered)
            assert (await runner.stop(grace=5)).delivered == 1 and not runner.running

            paused = await wb.connectors.pause("hook", "maintenance")
            assert paused.to_dict()["paused"] is True and paused.paused_reason == "maintenance"
            assert (await wb.connectors.resume("hook")).paused is False
            report = await wb.connectors.test("hook")
            assert report.ok, report.detail
            assert await wb.connectors.remove("hook") == 0
            assert watch.statements > 0
            assert watch.on_loop == []
            watch.close()

    asyncio.run(scenario())


def test_the_worker_calls_that_wait_on_the_database_run_off_the_loop(
    writeback_any_db_url, writeback_receiver_factory, monkeypatch
):
    """renew, release, next_wake and a connector's row: each called, none on the loop."""
    rx = writeback_receiver_factory(plan=lambda request: Step(200, delay=0.3))
    monkeypatch.setattr(connector_states, "ROW_CHECK_INTERVAL", 0.0)

    async def scenario() -> None:
        async with await AsyncDispatcher.open(writeback_any_db_url) as wb:
            store = wb.dispatcher.store
            watch = LoopWatch(wb)
            for name in ("renew", "release", "next_wake"):
                watch.wrap(store.outbox, name, monkeypatch)
            watch.wrap(store.connectors, "get_by_id", monkeypatch)
            await wb.connectors.put("hook", webhook_row("hook", rx.url))
            await wb.submit_many([appointment_event("create", f"K{n}") for n in range(8)])
            # A lease of 1.5 s is renewed every 0.5 s while the slow answers come.
            runner = wb.start_worker(concurrency=1, lease_seconds=1.5, poll_interval=0.05)
            await asyncio.to_thread(rx.wait_for, 8)

            async def idle() -> bool:  # nothing left: the worker asks when to look again
                return bool(watch.calls.get("next_wake"))

            await _until(idle)
            # The stop gives back what was claimed and not started (none by now).
            stats = await runner.stop(grace=5)
            assert stats.delivered == 8
            assert {"renew", "release", "next_wake", "get_by_id"} <= set(watch.calls), watch.calls
            assert watch.on_loop == []
            watch.close()

    asyncio.run(scenario())


class WriteLock:
    """SQLite's write lock held by another connection until ``release()``, or until
    ``hold`` seconds have passed (so that a loop stuck behind it comes free)."""

    def __init__(self, path: Path, hold: float = 40.0) -> None:
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._connection.execute("BEGIN IMMEDIATE")
        self._done = threading.Event()
        self.released_by_timeout = False
        self._thread = threading.Thread(target=self._hold, args=(hold,), daemon=True)
        self._thread.start()

    def _hold(self, hold: float) -> None:
        if not self._done.wait(hold):
            self.released_by_timeout = True
        self._connection.execute("COMMIT")
        self._connection.close()

    def release(self) -> None:
        self._done.set()
        self._thread.join()


def test_calls_waiting_for_sqlites_write_lock_leave_the_loop_free(tmp_path, writeback_receiver):
    """While another connection holds the write lock, a submit, a listing and the
    stats wait for it in threads: the loop meanwhile runs this test, which then
    lets the lock go.  Had a call waited on the loop, the test could not run again
    before the lock timed out (the lock's own 40 s), and would see that."""
    path = tmp_path / "locked.db"

    async def scenario() -> None:
        async with await AsyncDispatcher.open(f"sqlite:///{path}") as wb:
            await wb.connectors.put("hook", webhook_row("hook", writeback_receiver.url))
            lock = WriteLock(path)
            calls = [
                asyncio.create_task(wb.submit(appointment_event("create", "L1"))),
                asyncio.create_task(wb.deliveries.list()),
                asyncio.create_task(wb.deliveries.stats()),
            ]
            ticks = 0
            for _ in range(10):
                await asyncio.sleep(0.02)
                ticks += 1
            waiting = [not c.done() for c in calls]
            lock.release()
            assert not lock.released_by_timeout and ticks == 10
            assert waiting == [True, True, True]
            submitted, _, _ = await asyncio.gather(*calls)
            assert submitted.created

    asyncio.run(scenario())


def test_a_worker_sharing_the_loop_does_not_stop_it_while_sqlite_is_locked(
    tmp_path, writeback_receiver
):
    """An idle worker looks for work every poll; with the write lock held
    elsewhere, its claim and its other calls wait in threads and the loop goes on."""
    path = tmp_path / "locked.db"

    async def scenario() -> None:
        async with await AsyncDispatcher.open(f"sqlite:///{path}") as wb:
            await wb.connectors.put("hook", webhook_row("hook", writeback_receiver.url))
            runner = wb.start_worker(concurrency=2, poll_interval=0.05)
            await asyncio.sleep(0.2)
            lock = WriteLock(path)
            for _ in range(30):  # well over one of the worker's polls (at most 1 s apart)
                await asyncio.sleep(0.05)
            lock.release()
            assert not lock.released_by_timeout
            await wb.submit(appointment_event("create", "W1"))

            async def delivered() -> bool:
                return (await wb.deliveries.counts()).get("delivered") == 1

            await _until(delivered)
            await runner.stop()

    asyncio.run(scenario())


def test_stop_lets_an_attempt_in_flight_end_within_the_grace_period(
    writeback_any_db_url, writeback_receiver_factory
):
    arrived = threading.Event()
    rx = writeback_receiver_factory(plan=lambda request: (arrived.set(), Step(200, delay=1.0))[1])

    async def scenario() -> None:
        async with await AsyncDispatcher.open(writeback_any_db_url) as wb:
            await wb.connectors.put("hook", webhook_row("hook", rx.url))
            [made] = (await wb.submit(appointment_event("create", "S1"))).deliveries
            runner = wb.start_worker(concurrency=1)
            assert await asyncio.to_thread(arrived.wait, 30)  # the attempt is in flight
            stats = await runner.stop(grace=30)
            assert stats.delivered == 1
            assert (await wb.deliveries.get(made[0])).status == "delivered"

    asyncio.run(scenario())


def test_stop_with_no_grace_interrupts_the_attempt_which_stays_pending(
    writeback_any_db_url, writeback_receiver_factory
):
    arrived = threading.Event()
    rx = writeback_receiver_factory(plan=lambda request: (arrived.set(), Step(200, delay=5.0))[1])

    async def scenario() -> None:
        async with await AsyncDispatcher.open(writeback_any_db_url) as wb:
            await wb.connectors.put("hook", webhook_row("hook", rx.url))
            [made] = (await wb.submit(appointment_event("create", "S2"))).deliveries
            runner = wb.start_worker(concurrency=1)
            assert await asyncio.to_thread(arrived.wait, 30)
            stats = await runner.stop(grace=0)
            assert stats.delivered == 0
            shown = await wb.deliveries.get(made[0])
            assert shown.status == "pending" and shown.history is not None
            assert [h.code for h in shown.history] == ["WB-350"]

    asyncio.run(scenario())


def test_a_runner_left_running_is_stopped_by_aclose(writeback_db_url, writeback_receiver):
    async def scenario() -> None:
        wb = await AsyncDispatcher.open(writeback_db_url)
        runner = wb.start_worker()
        await asyncio.sleep(0.1)
        assert runner.running
        await wb.aclose()
        assert not runner.running
        with pytest.raises(RuntimeError, match="started already"):
            runner.start()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "lost"}, "status 'lost' is not a status"),
        ({"limit": -1}, "limit -1 is not a count"),
        ({"after": "bm90IGEgY3Vyc29y"}, "is not a cursor a listing gave"),
        ({"after": "!!"}, "is not a cursor a listing gave"),
    ],
)
def test_a_bad_listing_request_is_one_sentence(writeback_db_url, kwargs, message):
    async def scenario() -> None:
        async with await AsyncDispatcher.open(writeback_db_url) as wb:
            with pytest.raises(UserError, match=message):
                await wb.deliveries.list(**kwargs)

    asyncio.run(scenario())
