from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
import time

import pytest
from writeback import Dispatcher
from writeback._schedule import idle_sleep
from writeback._worker import Worker, next_delay
from writeback.plugin import AttemptResult, Outcome
from writeback.store import Store

from .conftest import event, row


@pytest.fixture
def wb(writeback_any_db_url, registry, script):
    dispatcher = Dispatcher(Store.open(writeback_any_db_url), registry)
    yield dispatcher
    dispatcher.close()


def test_delivers_and_records_the_attempt(wb, script):
    wb.connectors.add(row())
    [delivery_id] = wb.submit(event(subject="hello"))
    stats = wb.run_worker(until_idle=True)
    assert stats.delivered == 1
    assert script.sent[0].payload["data"]["subject"] == "hello"
    record, history = wb.deliveries.get(delivery_id)
    assert record.status == "delivered" and [h.outcome for h in history] == ["delivered"]
    assert history[0].status_code == 200 and history[0].duration_ms >= 0


def test_retry_then_dead_when_schedule_is_used_up(wb, script):
    wb.connectors.add(row(retry={"schedule": [0, 0]}))
    script.default = AttemptResult(Outcome.RETRY, 503, "HTTP 503")
    [delivery_id] = wb.submit(event())
    wb.run_worker(until_idle=True)
    record, history = wb.deliveries.get(delivery_id)
    assert record.status == "dead" and len(history) == 3
    assert "gave up after 3 attempts" in record.last_error


def test_failed_goes_dead_at_once(wb, script):
    wb.connectors.add(row())
    script.answers = [AttemptResult(Outcome.FAILED, 400, "HTTP 400: bad")]
    [delivery_id] = wb.submit(event())
    wb.run_worker(until_idle=True)
    record, history = wb.deliveries.get(delivery_id)
    assert record.status == "dead" and len(history) == 1 and record.last_error == "HTTP 400: bad"


def test_retry_after_is_waited_out(wb, script):
    wb.connectors.add(row(retry={"schedule": [0.01]}))
    script.answers = [AttemptResult(Outcome.RETRY, 503, "HTTP 503", retry_after=0.6)]
    [delivery_id] = wb.submit(event())
    wb.run_worker(until_idle=True)
    _, history = wb.deliveries.get(delivery_id)
    assert [h.outcome for h in history] == ["retry", "delivered"]
    assert history[1].started_at - history[0].started_at >= 0.6


def test_later_change_waits_for_earlier_retry(wb, script):
    wb.connectors.add(row(retry={"schedule": [0.2]}))
    script.answers = [AttemptResult(Outcome.RETRY, 500, "HTTP 500")]
    wb.submit(event("create", "A"))
    wb.submit(event("update", "A"))
    wb.submit(event("create", "B"))
    wb.run_worker(until_idle=True, concurrency=4)
    order = [(m.payload["data"]["appointmentGuid"], m.payload["action"]) for m in script.sent]
    assert order.index(("A", "update")) > max(
        i for i, o in enumerate(order) if o == ("A", "create")
    )
    assert order.index(("B", "create")) < order.index(("A", "update"))  # B did not wait for A


def test_missing_env_secret_fails_naming_the_variable(wb, script, monkeypatch):
    monkeypatch.delenv("WB_TEST_MISSING", raising=False)
    wb.connectors.add(row(auth={"method": "key", "password": "env:WB_TEST_MISSING"}))
    [delivery_id] = wb.submit(event())
    wb.run_worker(until_idle=True)
    record, _ = wb.deliveries.get(delivery_id)
    assert record.status == "dead" and "WB_TEST_MISSING" in record.last_error
    assert record.last_error.startswith("WB-202")


def test_next_delay_jitter_and_floor():
    waits = [next_delay((10.0,), 1, None) for _ in range(50)]
    assert all(8.0 <= w <= 12.0 for w in waits) and len(set(waits)) > 1
    assert next_delay((1.0,), 1, 30.0) == 30.0
    assert next_delay((1.0,), 2, None) is None


def test_an_idle_worker_wakes_when_the_next_delivery_is_due_however_long_it_idled():
    # Nothing due before ``wake``: sleep to the moment, whatever the back-off.
    assert idle_sleep(100.03, 100.0, idle=16, poll_interval=0.5) == pytest.approx(0.03)
    assert idle_sleep(100.7, 100.0, idle=0, poll_interval=0.5) == pytest.approx(0.7)
    # Due, yet nothing claimed: back off from 5 ms to the poll interval.
    assert [idle_sleep(99.0, 100.0, idle=i, poll_interval=0.5) for i in (0, 3, 7, 16)] == [
        0.005,
        0.04,
        0.5,
        0.5,
    ]
    assert idle_sleep(None, 100.0, idle=0, poll_interval=0.5) == 0.5


def test_concurrency_runs_attempts_in_parallel(wb, script, monkeypatch):
    """Each attempt waits until all eight are in flight: only a worker that runs
    them in parallel gets past that (one that does not sits out the timeout)."""
    from .conftest import FakeFormat

    wb.connectors.add(row())
    for n in range(8):
        wb.submit(event(key=f"K{n}"))
    in_flight, most = [0], [0]
    real_send = FakeFormat.send

    async def send(self, message, auth):
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        try:
            deadline = time.monotonic() + 30  # a sanity timeout, not a timing bound
            while in_flight[0] < 8 and most[0] < 8 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            return await real_send(self, message, auth)
        finally:
            in_flight[0] -= 1

    monkeypatch.setattr(FakeFormat, "send", send)
    assert wb.run_worker(until_idle=True, concurrency=8).delivered == 8
    assert most[0] == 8


def test_replay_restarts_the_retry_schedule(wb, script):
    wb.connectors.add(row(retry={"schedule": [0, 0]}))
    script.default = AttemptResult(Outcome.RETRY, 503, "HTTP 503")
    [delivery_id] = wb.submit(event())
    wb.run_worker(until_idle=True)
    assert wb.deliveries.get(delivery_id)[0].status == "dead"
    wb.deliveries.retry(all_dead=True)
    wb.run_worker(until_idle=True)
    record, history = wb.deliveries.get(delivery_id)
    assert record.status == "dead" and len(history) == 6  # three more, not one
    assert [h.n for h in history] == [1, 2, 3, 4, 5, 6]


# -- leases, throttling, shutdown -------------------------------------------------


async def _until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def test_a_slow_attempt_keeps_its_lease(wb, script):
    wb.connectors.add(row())
    script.delay = 5.0
    [delivery_id] = wb.submit(event())
    worker = Worker(wb.store, wb.registry, lease_seconds=3)

    async def scenario():
        task = asyncio.create_task(worker.run(until_idle=True))
        await _until(lambda: worker._inflight)
        first_expiry = wb.deliveries.get(delivery_id)[0].lease_expires_at
        # Past the first lease (renewed every third of it), on the store's clock.
        await _until(lambda: _store_now(wb) > first_expiry + 0.5)
        stolen = wb.store.outbox.claim("another-worker", 10, lease_seconds=60)
        await task
        return stolen

    assert asyncio.run(scenario()) == []
    record, history = wb.deliveries.get(delivery_id)
    assert record.status == "delivered" and len(history) == 1


def _store_now(wb) -> float:
    """The clock leases are compared on (the database's)."""
    from sqlalchemy import select
    from writeback.store._statements import db_now

    with wb.store.engine.connect() as conn:
        return conn.execute(select(db_now())).scalar_one()


def test_429_pauses_the_whole_connector(wb, script):
    wb.connectors.add(row())
    script.answers = [AttemptResult(Outcome.RETRY, 429, "HTTP 429", retry_after=1.0)]
    for n in range(4):
        wb.submit(event(key=f"K{n}"))
    wb.run_worker(until_idle=True, concurrency=1)
    gaps = [b - a for a, b in zip(script.times, script.times[1:], strict=False)]
    # Not only the throttled delivery waits: the next one, for another appointment, too.
    assert gaps[0] >= 0.9 and len(script.sent) == 5


def test_a_failing_endpoint_gets_one_probe_at_a_time(wb, script):
    wb.connectors.add(row(retry={"schedule": [0] * 30}))
    script.default = AttemptResult(Outcome.RETRY, None, "connection refused")
    for n in range(20):
        wb.submit(event(key=f"K{n}"))
    worker = Worker(wb.store, wb.registry, concurrency=1, poll_interval=0.05)
    [connector] = wb.store.connectors.list()

    async def scenario():
        task = asyncio.create_task(worker.run())
        await _until(lambda: len(script.sent) >= 5 or task.done())
        # The fifth failure opened the circuit: the worker skips the connector.
        closed = connector.id in worker._connectors.closed()
        worker.stop()
        await task
        return closed

    assert asyncio.run(scenario())
    # Five failures open the circuit; during the 5 s cool-down nothing more is sent.
    assert len(script.sent) == 5
    untouched = [r for r in wb.deliveries.list() if r.attempts == 0]
    assert len(untouched) == 15 and all(r.status == "pending" for r in untouched)


def test_stop_lets_in_flight_attempts_finish(wb, script):
    wb.connectors.add(row())
    script.delay = 0.5
    [delivery_id] = wb.submit(event())
    worker = Worker(wb.store, wb.registry)

    async def scenario():
        task = asyncio.create_task(worker.run())
        await _until(lambda: worker._inflight)
        worker.stop()
        await task

    asyncio.run(scenario())
    assert wb.deliveries.get(delivery_id)[0].status == "delivered"


def test_a_second_stop_interrupts_and_leaves_the_delivery_pending(wb, script):
    wb.connectors.add(row(retry={"schedule": [0]}))
    script.delay = 30
    [delivery_id] = wb.submit(event())
    worker = Worker(wb.store, wb.registry)

    async def scenario():
        task = asyncio.create_task(worker.run())
        await _until(lambda: worker._inflight)
        worker.stop()
        await asyncio.sleep(0.1)
        worker.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    record, history = wb.deliveries.get(delivery_id)
    assert record.status == "pending" and record.lease_owner is None
    assert [h.outcome for h in history] == ["retry"] and history[0].error.startswith("WB-350")
    # It does not use up the schedule: the next worker delivers it.
    script.delay = 0
    wb.run_worker(until_idle=True)
    assert wb.deliveries.get(delivery_id)[0].status == "delivered"


def test_a_slot_going_on_by_itself_takes_the_queue_in_claim_order(wb, script):
    wb.connectors.add(row())
    for i in range(12):
        wb.submit(event("create", f"K{i}"))
    stats = wb.run_worker(until_idle=True, concurrency=1)
    assert stats.delivered == 12
    assert [m.payload["data"]["appointmentGuid"] for m in script.sent] == [
        f"K{i}" for i in range(12)
    ]


def test_pipelines_are_built_at_start_before_the_first_claim(wb, script, monkeypatch):
    """So that the first deliveries after a (re)start do not wait while plugins
    import their libraries; each is built once, and a disabled connector not at all."""
    from writeback._pipeline import Pipeline

    wb.connectors.add([row(), row(name="f2"), row(name="off")])
    wb.connectors.disable("off")
    wb.submit(event())
    order: list[tuple[str, ...]] = []
    real_build = Pipeline.build

    def build(connector, **options):
        order.append(("build", connector.name))
        return real_build(connector, **options)

    real_claim_steps = wb.store.outbox.claim_steps

    def claim_steps(*args, **options):
        order.append(("claim",))
        return real_claim_steps(*args, **options)

    monkeypatch.setattr(Pipeline, "build", build)
    monkeypatch.setattr(wb.store.outbox, "claim_steps", claim_steps)
    ready = lambda: order.append(("ready",))  # noqa: E731
    assert wb.run_worker(until_idle=True, on_ready=ready).delivered == 2  # f1 and f2
    assert order[:4] == [("build", "f1"), ("build", "f2"), ("ready",), ("claim",)]
    assert order.count(("ready",)) == 1
    assert order.count(("build", "f1")) == 1 and ("build", "off") not in order


def test_the_worker_command_freezes_what_its_start_made(wb, script):
    """``writeback worker`` owns its process: once its pipelines are built, what
    start-up made is left out of every later garbage collection."""
    from writeback.cli._run_cmd import drain

    wb.connectors.add(row())
    wb.submit(event())
    gc.unfreeze()
    try:
        assert drain(wb, until_idle=True, concurrency=2).delivered == 1
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_claims_come_in_batches_of_twice_the_concurrency(wb):
    """While every slot is busy, a claim waits until two concurrencies' worth are
    wanted (fewer, larger claims cost less per delivery), or until an ended
    attempt has waited ``FLUSH_AFTER`` to be recorded."""
    import writeback._worker as worker_module

    worker = Worker(wb.store, wb.registry, concurrency=4)
    assert worker._claim_due()  # nothing in hand: claim at once
    worker._inflight = {object(): None for _ in range(4)}  # type: ignore[misc]
    worker._ready.extend([None] * 4 * worker_module.QUEUE_DEPTH)  # type: ignore[list-item]
    assert worker._wanted() == 0 and not worker._claim_due()
    for _ in range(7):
        worker._ready.pop()
    assert worker._wanted() == 7 and not worker._claim_due()
    worker._ready.pop()
    assert worker._wanted() == 8 and worker._claim_due()
    worker._ready.extend([None] * 4)  # type: ignore[list-item]

    class Ended:
        ended = time.monotonic()

    worker._finished = [Ended()]  # type: ignore[list-item]
    assert not worker._claim_due()
    Ended.ended -= worker_module.FLUSH_AFTER
    assert worker._claim_due()


def test_a_connector_that_cannot_be_built_at_start_does_not_stop_the_worker(
    wb, script, monkeypatch
):
    from writeback._pipeline import Pipeline
    from writeback.plugin import AttemptError

    wb.connectors.add([row(name="broken"), row(name="ok", source_app="OTHER")])
    [broken_id] = wb.submit(event())
    [ok_id] = wb.submit(event(source="OTHER"))
    real_build = Pipeline.build

    def build(connector, **options):
        if connector.name == "broken":
            raise AttemptError("the plugin's library is missing", code="WB-398")
        return real_build(connector, **options)

    monkeypatch.setattr(Pipeline, "build", build)
    assert wb.run_worker(until_idle=True).delivered == 1
    assert wb.deliveries.get(ok_id)[0].status == "delivered"
    broken, _ = wb.deliveries.get(broken_id)
    assert broken.status == "dead" and "library is missing" in broken.last_error


def test_an_error_of_the_worker_itself_in_a_slot_stops_the_run(wb, script, monkeypatch):
    """Not an attempt's failure, which is recorded: e.g. the database gone while a
    slot looks up the connector of the next claim in its queue.  Here the run loop
    has nothing left to start, so only the slot sees the error."""
    import writeback._connector_states as states_module

    wb.connectors.add(row())
    wb.submit(event("create", "K0"))
    wb.submit(event("create", "K1"))
    monkeypatch.setattr(states_module, "ROW_CHECK_INTERVAL", 0.0)
    lookups = []
    real = wb.store.connectors.get_by_id

    def get_by_id(connector_id):
        lookups.append(connector_id)
        if len(lookups) > 1:
            raise RuntimeError("database gone")
        return real(connector_id)

    monkeypatch.setattr(wb.store.connectors, "get_by_id", get_by_id)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="database gone"):
        # Were the error lost, the worker would wait for K1's lease to run out.
        wb.run_worker(until_idle=True, concurrency=1, lease_seconds=300)
    assert time.monotonic() - started < 150  # far less than the lease: not waited out
    # The attempt that ended before is recorded; the other stays pending.
    counts = wb.deliveries.counts()
    assert counts.get("delivered") == 1 and counts.get("pending") == 1


def test_waiting_long_for_a_queue_another_worker_holds_does_not_overflow(wb, script):
    """Due but unclaimable for over a thousand looks (the back-off's exponent once
    grew without bound and overflowed a float after ~1,024 of them)."""
    wb.connectors.add(row())
    wb.submit(event("create", "K"))
    assert len(wb.store.outbox.claim("another-worker", 1, lease_seconds=60)) == 1
    worker = Worker(wb.store, wb.registry, poll_interval=0.0001)
    looks = []
    real_next_wake = wb.store.outbox.next_wake

    def next_wake(*args):
        looks.append(1)
        return real_next_wake(*args)

    wb.store.outbox.next_wake = next_wake

    async def scenario():
        task = asyncio.create_task(worker.run(until_idle=True))
        while len(looks) < 1100 and not task.done():
            await asyncio.sleep(0.05)
        worker.stop()
        return await task

    stats = asyncio.run(scenario())
    assert len(looks) >= 1100 and stats.attempts == 0 and script.sent == []


def test_attempts_go_on_while_another_process_holds_sqlites_write_lock(tmp_path, registry, script):
    """SQLite claims run on the loop's thread, except when another process holds the
    file's write lock: then the claim waits in a thread, and the attempts already
    claimed go on meanwhile instead of the whole worker standing still."""
    dispatcher = Dispatcher(Store.open(f"sqlite:///{tmp_path}/lock.db"), registry)
    dispatcher.connectors.add(row())
    for n in range(24):
        dispatcher.submit(event(key=f"K{n}"))
    script.delay = 0.1
    other = sqlite3.connect(tmp_path / "lock.db", isolation_level=None, check_same_thread=False)
    held: list[float] = []

    def hold_the_lock() -> None:
        """Until four more attempts went out (or a sanity timeout, below the
        worker's busy timeout): a worker waiting for the lock sends at most the
        two in flight."""
        deadline = time.monotonic() + 20
        while len(script.sent) < 2:
            if time.monotonic() > deadline:
                return  # the worker never got going; the assertions below say so
            time.sleep(0.005)
        other.execute("BEGIN IMMEDIATE")
        held.append(time.monotonic())
        target = len(script.sent) + 4
        while len(script.sent) < target and time.monotonic() < deadline:
            time.sleep(0.005)
        held.append(time.monotonic())
        other.rollback()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        stats = dispatcher.run_worker(until_idle=True, concurrency=2)
    finally:
        holder.join()
        other.close()
        dispatcher.close()
    assert stats.delivered == 24
    sent_while_held = [t for t in script.times if held[0] < t < held[1]]
    # The two in flight when the lock was taken end either way; the worker's local
    # queue (three times its concurrency) goes out only if the loop is not waiting.
    assert len(sent_while_held) > 2, (held, script.times)
