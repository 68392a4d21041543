from __future__ import annotations

import time

import pytest
from writeback import AttemptResult, Dispatcher, Outcome
from writeback._worker import next_delay
from writeback.store import Store

from .conftest import event, row


@pytest.fixture
def wb(tmp_path, registry, script):
    dispatcher = Dispatcher(Store.open(f"sqlite:///{tmp_path}/wb.db"), registry)
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


def test_concurrency_runs_attempts_in_parallel(wb, script):
    wb.connectors.add(row())
    script.delay = 0.2
    for n in range(8):
        wb.submit(event(key=f"K{n}"))
    started = time.perf_counter()
    wb.run_worker(until_idle=True, concurrency=8)
    assert time.perf_counter() - started < 0.2 * 8 / 2


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
