"""Coalescing (docs/delivery.md, "Coalescing") on both engines, with the scripted fake plugin."""

from __future__ import annotations

import time

import pytest
from writeback import Dispatcher
from writeback.store import Store

from .conftest import event, row


@pytest.fixture
def wb(writeback_any_db_url, registry, script):
    dispatcher = Dispatcher(Store.open(writeback_any_db_url), registry)
    dispatcher.connectors.add(row(coalesce=True, retry={"schedule": [0, 0, 0]}))
    yield dispatcher
    dispatcher.close()


def statuses(wb, ids):
    return [wb.deliveries.get(i)[0].status for i in ids]


def submit(wb, *actions, key="A"):
    return [
        wb.submit(event(action, key, subject=f"{action}-{n}"))[0]
        for n, action in enumerate(actions)
    ]


def sent(script):
    return [(m.payload["action"], m.payload["data"]["subject"]) for m in script.sent]


def test_only_the_latest_update_goes_out_after_the_create(wb, script):
    ids = submit(wb, "create", "update", "update", "update")
    assert statuses(wb, ids) == ["pending", "superseded", "superseded", "pending"]
    wb.run_worker(until_idle=True)
    assert sent(script) == [("create", "create-0"), ("update", "update-3")]
    superseded = wb.deliveries.get(ids[1])[0]
    assert superseded.last_error == f"superseded by {ids[2]}" and superseded.attempts == 0


def test_a_create_never_sent_and_its_delete_send_nothing(wb, script):
    ids = submit(wb, "create", "update", "delete")
    assert statuses(wb, ids) == ["superseded"] * 3
    wb.run_worker(until_idle=True)
    assert script.sent == []
    stats = wb.deliveries.stats()
    assert stats.totals.counts == {"superseded": 3} and stats.totals.balanced


def attempt(wb, outcome, status, *, wait=0.0):
    """Claim the next delivery and record one attempt, as a worker would."""
    from writeback.store import AttemptRecord

    [claim] = wb.store.outbox.claim("w", 1, lease_seconds=60)
    record = AttemptRecord(claim.attempts + 1, time.time(), 1.0, 200, outcome, None)
    wb.store.outbox.finish(claim, "w", record, status=status, next_attempt_at=time.time() + wait)
    return claim.id


def test_a_create_in_flight_keeps_its_delete(wb, script):
    [create] = submit(wb, "create")
    assert [c.id for c in wb.store.outbox.claim("w", 1, lease_seconds=60)] == [create]
    # The create is in flight: a delete must not cancel it, only the update between.
    update, delete = submit(wb, "update", "delete")
    assert statuses(wb, [create, update, delete]) == ["pending", "superseded", "pending"]


def test_a_create_that_failed_once_is_not_cancelled(wb, script):
    [create] = submit(wb, "create")
    attempt(wb, "retry", "pending")
    # The first attempt may have reached the back office: the delete must follow.
    update, delete = submit(wb, "update", "delete")
    assert statuses(wb, [create, update, delete]) == ["pending", "superseded", "pending"]
    wb.run_worker(until_idle=True)
    assert [a for a, _ in sent(script)] == ["create", "delete"]


def test_an_update_retrying_is_replaced_by_a_later_one(wb, script):
    ids = submit(wb, "create", "update")
    attempt(wb, "delivered", "delivered")
    attempt(wb, "retry", "pending", wait=30)
    assert statuses(wb, ids) == ["delivered", "pending"]
    [latest] = submit(wb, "update")
    assert statuses(wb, [*ids, latest]) == ["delivered", "superseded", "pending"]
    wb.run_worker(until_idle=True)
    assert sent(script) == [("update", "update-0")]


def test_other_appointments_and_connectors_are_untouched(wb, script):
    wb.connectors.add(row(name="every-change", coalesce=False))
    for action, key in [("create", "A"), ("update", "A"), ("update", "B"), ("update", "A")]:
        wb.submit(event(action, key))

    def queue(connector):
        return [
            (r.appointment_key, r.action, r.status) for r in wb.deliveries.list(connector=connector)
        ]

    assert queue("f1") == [
        ("A", "create", "pending"),
        ("A", "update", "superseded"),
        ("B", "update", "pending"),
        ("A", "update", "pending"),
    ]
    assert [s for *_, s in queue("every-change")] == ["pending"] * 4


def test_coalesce_defaults_to_the_connector_type(wb, script, registry):
    wb.connectors.add(row(name="plain"))  # the fake type's default: off
    ids = [wb.submit(event("update", "Z"))[-1] for _ in range(3)]
    assert statuses(wb, ids) == ["pending"] * 3
