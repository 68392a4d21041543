"""A batch coalesces exactly as the same events submitted one at a time, on both engines.

Two coalescing connectors, identical but for their source application, get the
same random history: a few changes submitted one by one, some of them then
claimed (in flight) or attempted once (waiting for a retry), then more changes:
one connector's one at a time, the other's in a single ``submit_many`` batch.
Each delivery must end in the same state on both, with ``last_error`` naming
the same (by position) delivery that superseded it.
"""

from __future__ import annotations

import random
import time

import pytest
from writeback import Dispatcher
from writeback.store import AttemptRecord, Store

from .conftest import event, row

KEYS = ("K1", "K2", "K3")
ACTIONS = ("create", "update", "update", "delete")


@pytest.fixture
def wb(writeback_any_db_url, registry):
    dispatcher = Dispatcher(Store.open(writeback_any_db_url), registry)
    dispatcher.connectors.add(
        [row(name=name, source_app=name, coalesce=True) for name in ("ONE", "BATCH")]
    )
    yield dispatcher
    dispatcher.close()


def changes(rng: random.Random, count: int) -> list[tuple[str, str]]:
    return [(rng.choice(ACTIONS), rng.choice(KEYS)) for _ in range(count)]


def queue(wb: Dispatcher, connector: str) -> list[tuple[str, str, str, str | None]]:
    """(key, action, status, last_error with delivery ids as positions), in seq order."""
    rows = wb.deliveries.list(connector=connector)
    position = {r.id: f"#{n}" for n, r in enumerate(rows)}
    shown = []
    for r in rows:
        error = r.last_error
        for delivery_id, where in position.items():
            error = error.replace(delivery_id, where) if error else error
        shown.append((r.appointment_key, r.action, r.status, error))
    return shown


def hold_or_retry(wb: Dispatcher, skip: int, decisions: list[bool]) -> None:
    """Claim the first queue heads; those with a True decision get one failed
    attempt (pending, retry due later), the others stay in flight."""
    claims = sorted(
        wb.store.outbox.claim("w", len(decisions), lease_seconds=600, skip_connectors=[skip]),
        key=lambda c: c.seq,
    )
    for claim, retry in zip(claims, decisions, strict=False):
        if retry:
            record = AttemptRecord(claim.attempts + 1, time.time(), 1.0, 503, "retry", "busy")
            wb.store.outbox.finish(
                claim, "w", record, status="pending", next_attempt_at=time.time() + 600
            )


@pytest.mark.parametrize("seed", range(12))
def test_a_batch_coalesces_as_one_at_a_time(wb, seed):
    rng = random.Random(seed)
    ids = {c.name: c.id for c in wb.connectors.list()}
    for action, key in changes(rng, rng.randint(0, 5)):
        for source in ("ONE", "BATCH"):
            wb.submit(event(action, key, source))
    decisions = [rng.random() < 0.5 for _ in range(rng.randint(0, 3))]
    hold_or_retry(wb, ids["BATCH"], decisions)
    hold_or_retry(wb, ids["ONE"], decisions)

    later = changes(rng, rng.randint(1, 12))
    for action, key in later:
        wb.submit(event(action, key, "ONE"))
    wb.submit_many([event(action, key, "BATCH") for action, key in later])

    assert queue(wb, "BATCH") == queue(wb, "ONE")
