"""A result the database will not take must not take the others down with it:
bounded waits, recording one at a time, and a worker that keeps its promises
when its own bookkeeping fails."""

from __future__ import annotations

import asyncio
import math
import time

import pytest
from sqlalchemy import text
from writeback import Dispatcher
from writeback._schedule import MAX_RETRY_AFTER, MAX_WAIT, next_delay
from writeback._worker import Worker
from writeback.plugin import AttemptResult, Outcome
from writeback.store import AttemptRecord, Finished, Store
from writeback.store._salvage import drive, record_one_by_one

from .conftest import event, row


@pytest.fixture
def wb(writeback_any_db_url, registry, script):
    dispatcher = Dispatcher(Store.open(writeback_any_db_url), registry)
    dispatcher.connectors.add(row())
    yield dispatcher
    dispatcher.close()


def refuse_status_updates(store: Store, delivery_id: str, *, but_dead: bool = True) -> None:
    """A trigger that fails the statement setting this delivery's status (all but
    ``dead`` with ``but_dead``): a row the database will not take."""
    allowed = "AND NEW.status <> 'dead'" if but_dead else ""
    with store.engine.begin() as conn:
        seq = conn.execute(
            text("SELECT seq FROM deliveries WHERE id = :i"), {"i": delivery_id}
        ).scalar_one()
        if store.engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER poison BEFORE UPDATE OF status ON deliveries "
                    f"WHEN NEW.seq = {seq} {allowed} "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER poison BEFORE UPDATE OF status ON deliveries FOR EACH ROW "
                    f"WHEN (NEW.seq = {seq} {allowed}) EXECUTE FUNCTION refuse()"
                )
            )


def test_every_wait_is_a_finite_number_of_seconds():
    assert next_delay((math.inf,), 1, None) == MAX_WAIT
    assert next_delay((math.nan,), 1, None) == MAX_WAIT
    assert next_delay((1.7e308,), 1, None) <= MAX_WAIT  # jitter may overflow it
    assert next_delay((-math.inf,), 1, None) == 0.0
    assert next_delay((1.0,), 1, math.inf) == MAX_RETRY_AFTER
    assert 0.8 <= next_delay((1.0,), 1, math.nan) <= 1.2  # a NaN Retry-After is none


def test_a_schedule_of_infinity_waits_the_longest_wait(wb, script):
    """Behind validation's back (the settle step clamps as well as the store)."""
    import writeback._attempt as attempt_module

    script.default = AttemptResult(Outcome.RETRY, 503, "HTTP 503")
    [delivery_id] = wb.submit(event())
    (claim,) = wb.store.outbox.claim("w", 1, lease_seconds=60)
    done = attempt_module._settle(claim, 1, time.time(), 1.0, script.default, (math.inf,))
    assert done.status == "pending" and math.isfinite(done.next_attempt_at)
    assert wb.store.outbox.record([done], "w") == set()
    record, _ = wb.deliveries.get(delivery_id)
    assert record.status == "pending"
    assert record.next_attempt_at == pytest.approx(time.time() + MAX_WAIT, abs=60)


def _finished(claim, error="HTTP 503", status="pending"):
    attempt = AttemptRecord(1, time.time(), 2.0, 503, "retry", error)
    return Finished(claim, attempt, status, time.time() + 30)


def test_a_refused_result_is_recorded_dead_and_the_others_are_kept(wb):
    ids = [wb.submit(event(key=f"K{n}"))[0] for n in range(3)]
    claims = {c.id: c for c in wb.store.outbox.claim("w", 3, lease_seconds=60)}
    refuse_status_updates(wb.store, ids[1])
    finished = [_finished(claims[i]) for i in ids]
    assert wb.store.outbox.record(finished, "w") == set()
    states = {i: wb.deliveries.get(i) for i in ids}
    assert [(r.status, r.attempts, r.lease_owner) for r, _ in states.values()] == [
        ("pending", 1, None),
        ("dead", 1, None),
        ("pending", 1, None),
    ]
    refused, history = states[ids[1]]
    assert refused.last_error.startswith("WB-351: the attempt ended (retry)")
    assert "refused" in refused.last_error and ids[1] in refused.last_error
    assert [h.outcome for h in history] == ["retry"] and history[0].error == refused.last_error


def test_a_row_that_refuses_everything_stays_leased_and_the_others_are_kept(wb, caplog):
    ids = [wb.submit(event(key=f"K{n}"))[0] for n in range(2)]
    claims = {c.id: c for c in wb.store.outbox.claim("w", 2, lease_seconds=60)}
    refuse_status_updates(wb.store, ids[0], but_dead=False)
    assert wb.store.outbox.record([_finished(claims[i]) for i in ids], "w") == set()
    stuck, _ = wb.deliveries.get(ids[0])
    kept, _ = wb.deliveries.get(ids[1])
    # Its lease runs out and it is attempted again: at least once, never lost.
    assert (stuck.status, stuck.attempts, stuck.lease_owner) == ("pending", 0, "w")
    assert (kept.status, kept.attempts) == ("pending", 1)
    assert f"delivery {ids[0]} to f1: its attempt cannot be recorded at all" in caplog.text


def test_a_database_that_answers_nothing_is_the_failure_itself():
    """Not one result: every unit fails, the ping too, and the batch's own failure
    is raised (the worker stops, as it does when its database is gone)."""

    class Gone(Exception):
        pass

    def run(unit):
        raise Gone("server closed the connection")

    claim = type("C", (), {"id": "dlv_1", "seq": 1, "connector_name": "f1"})()
    failure = Gone("the batch")
    with pytest.raises(Gone) as info:
        drive(record_one_by_one([_finished(claim)], "w", failure), run)
    assert info.value is failure


def test_the_worker_goes_on_past_a_refused_result(wb, script):
    """Here the refused result is the first of a batch recorded with a claim."""
    script.answers = [AttemptResult(Outcome.RETRY, 503, "HTTP 503")]
    ids = [wb.submit(event(key=f"K{n}"))[0] for n in range(6)]
    refuse_status_updates(wb.store, ids[0])
    stats = wb.run_worker(until_idle=True, concurrency=1)
    assert stats.delivered == 5
    assert [wb.deliveries.get(i)[0].status for i in ids] == ["dead"] + ["delivered"] * 5
    assert len(script.sent) == 6  # nothing sent twice


def test_when_the_worker_itself_fails_the_attempt_in_flight_is_cut_short_and_recorded(
    wb, script, monkeypatch
):
    """The slot that was in flight goes no further through the local queue: what
    it would send next could no longer be recorded."""
    ids = [wb.submit(event(key=f"K{n}"))[0] for n in range(4)]
    real_next = script.next

    def next_answer():
        script.delay = 60  # K0 is answered at once; K1 stays in flight until cut short
        return real_next()

    monkeypatch.setattr(script, "next", next_answer)
    real = wb.store.outbox.claim_steps
    calls = []

    def claim_steps(*args, **options):
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("database gone")
        return real(*args, **options)

    monkeypatch.setattr(wb.store.outbox, "claim_steps", claim_steps)
    with pytest.raises(RuntimeError, match="database gone"):
        wb.run_worker(until_idle=True, concurrency=1)
    records = [wb.deliveries.get(i) for i in ids]
    # K0 ended and was recorded; K1 was in flight, interrupted and recorded; the
    # rest were never sent.
    assert records[0][0].status == "delivered"
    assert [h.error[:6] for h in records[1][1]] == ["WB-350"]
    assert [r.attempts for r, _ in records[2:]] == [0, 0]
    assert len(script.sent) <= 2


def test_a_failed_renewal_is_tried_again(wb, monkeypatch):
    """Had the renewing task ended at the first failure, every lease held would
    have run out unnoticed, and other workers sent those deliveries again."""
    worker = Worker(wb.store, wb.registry, lease_seconds=1)
    calls = []

    def renew(claims, owner, *, lease_seconds):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("connection reset")
        return set()

    monkeypatch.setattr(wb.store.outbox, "renew", renew)

    async def scenario():
        task = asyncio.create_task(worker._renew_leases())
        deadline = time.monotonic() + 30
        while len(calls) < 2 and not task.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        alive = not task.done()
        task.cancel()
        return alive

    assert asyncio.run(scenario()) and len(calls) >= 2


def test_an_unreadable_stored_event_fails_its_delivery_only(wb, script):
    """Its text is not JSON (written behind writeback's back): parsing it in the
    claim once failed every claim, and no delivery went out at all."""
    ids = [wb.submit(event(key=f"K{n}"))[0] for n in range(3)]
    with wb.store.engine.begin() as conn:
        event_id = conn.execute(
            text("SELECT event_id FROM deliveries WHERE id = :i"), {"i": ids[1]}
        ).scalar_one()
        conn.execute(text("UPDATE events SET payload = '{not json' WHERE id = :e"), {"e": event_id})
    assert wb.run_worker(until_idle=True).delivered == 2
    statuses = [wb.deliveries.get(i)[0] for i in ids]
    assert [r.status for r in statuses] == ["delivered", "dead", "delivered"]
    assert "the stored event cannot be read" in statuses[1].last_error
