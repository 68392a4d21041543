"""The store's throttle budgets (``store._budget``) and a worker's shares of them
(``_fleet``): slots, the group's bucket, holds and leases, and slots a worker
keeps for its next attempt, on SQLite.

Several processes sharing one budget are in tests/test_fleet_limits.py; here
two ``FleetLimits`` (two owners) on one file stand for two workers.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from writeback._fleet import RECHECK_AFTER, SPARE_LINGER, FleetLimits
from writeback._interfaces import AttemptResult, Outcome
from writeback._models import Connector, Throttle
from writeback._throttle import ConnectorGate
from writeback._validation import throttle_group_of
from writeback.store import Store
from writeback.store._budget import BURST_SECONDS, Budget, burst_of


@pytest.fixture
def store(tmp_path):
    opened = Store.open(f"sqlite:///{tmp_path / 'budget.db'}")
    yield opened
    opened.close()


def fleet(store: Store, owner: str, lease: float = 60.0) -> FleetLimits:
    return FleetLimits(store, owner, lease)


async def take(limits: FleetLimits, throttle: Throttle, want: int, group: str = "g"):
    share = limits.share(group, throttle)
    assert share is not None
    return await limits.take(share.budget, want)


def test_slots_are_shared_by_two_workers_and_come_back_when_given_back(store):
    async def scenario():
        a, b = fleet(store, "a"), fleet(store, "b")
        throttle = Throttle(max_concurrency=3)
        first = await take(a, throttle, 2)
        second = await take(b, throttle, 5)
        assert (first.count, second.count) == (2, 1)
        assert set(first.slots) | set(second.slots) == {0, 1, 2}
        refused = await take(b, throttle, 1)
        assert refused.count == 0 and refused.retry_in > 0
        a.give_back("g", first.slots, None)
        await a.aclose()
        again = await take(b, throttle, 5)
        assert again.count == 2
        await b.aclose()

    asyncio.run(scenario())


def test_a_dead_holders_slots_come_back_after_its_lease(store):
    async def scenario():
        dead, alive = fleet(store, "dead", lease=0.3), fleet(store, "alive")
        throttle = Throttle(max_concurrency=2)
        assert (await take(dead, throttle, 2)).count == 2
        # The dead one never gives back nor renews (its renewer is cancelled here).
        assert dead._renewer is not None
        dead._renewer.cancel()
        assert (await take(alive, throttle, 1)).count == 0
        await asyncio.sleep(0.4)
        assert (await take(alive, throttle, 2)).count == 2
        await alive.aclose()

    asyncio.run(scenario())


def test_the_groups_bucket_holds_a_tenth_of_a_second_and_refills_at_the_rate(store):
    async def scenario():
        a, b = fleet(store, "a"), fleet(store, "b")
        throttle = Throttle(rate="50/1s")
        burst = burst_of(50.0)
        assert burst == 50 * BURST_SECONDS
        got = (await take(a, throttle, 100)).count + (await take(b, throttle, 100)).count
        assert got == burst
        refused = await take(b, throttle, 1)
        assert refused.count == 0 and 0 < refused.retry_in <= 1 / 50
        await asyncio.sleep(0.1)
        assert 1 <= (await take(a, throttle, 100)).count <= burst
        await a.aclose()
        await b.aclose()

    asyncio.run(scenario())


def test_a_hold_stops_every_worker_until_its_time(store):
    async def scenario():
        a, b = fleet(store, "a"), fleet(store, "b")
        throttle = Throttle(max_concurrency=4)
        grant = await take(a, throttle, 1)
        a.give_back("g", grant.slots, 0.5)
        await a.aclose()
        held = await take(b, throttle, 1)
        assert held.count == 0 and 0.3 < held.retry_in <= 0.5
        await asyncio.sleep(held.retry_in + 0.05)
        assert (await take(b, throttle, 1)).count == 1
        await b.aclose()

    asyncio.run(scenario())


def test_a_gates_429_becomes_the_groups_hold(store):
    from writeback._interfaces import AttemptResult, Outcome

    async def scenario():
        a, b = fleet(store, "a"), fleet(store, "b")
        throttle = Throttle(max_concurrency=2, rate="100/1s")
        gate_a = ConnectorGate(throttle, fleet=a.share("g", throttle))
        gate_b = ConnectorGate(throttle, fleet=b.share("g", throttle))
        assert await gate_a.admit()
        gate_a.release(AttemptResult(Outcome.RETRY, status_code=429, retry_after=30.0))
        await a.aclose()
        assert not await gate_b.admit()
        assert gate_b.free_slots() == 0 and 29 < gate_b.ready_in() <= 30
        await b.aclose()

    asyncio.run(scenario())


def test_a_connector_without_limits_asks_nothing_of_the_store(store):
    assert fleet(store, "a").share("g", Throttle()) is None


def test_renewal_extends_the_lease_of_every_slot_held(store):
    async def scenario():
        a = fleet(store, "a", lease=0.6)
        await take(a, Throttle(max_concurrency=2), 2)
        before = [row[2] for row in a._budgets.held("g")]
        await asyncio.sleep(0.45)  # the renewer runs every third of the lease
        after = [row[2] for row in a._budgets.held("g")]
        assert all(x > y for x, y in zip(after, before, strict=True))
        await a.aclose()

    asyncio.run(scenario())


DELIVERED = AttemptResult(Outcome.DELIVERED, status_code=200)


def counting_takes(limits: FleetLimits) -> list[int]:
    """Count the take transactions ``limits`` runs from now on."""
    calls: list[int] = []
    steps = limits._budgets.take_steps

    def counted(*args, **kwargs):
        calls.append(1)
        return steps(*args, **kwargs)

    limits._budgets.take_steps = counted  # type: ignore[method-assign]
    return calls


def test_the_next_attempt_takes_over_the_slot_without_a_transaction(store):
    async def scenario():
        a = fleet(store, "a")
        throttle = Throttle(max_concurrency=2)
        gate = ConnectorGate(throttle, fleet=a.share("g", throttle))
        takes = counting_takes(a)
        assert await gate.admit()
        [(slot, holder, _)] = a._budgets.held("g")
        for _ in range(5):
            gate.release(DELIVERED)
            assert await gate.admit()
        assert len(takes) == 1  # one transaction, then the kept slot handed on
        assert [(s, h) for s, h, _ in a._budgets.held("g")] == [(slot, holder)]
        gate.release(DELIVERED)
        await a.aclose()
        assert a._budgets.held("g") == []

    asyncio.run(scenario())


def test_a_kept_slot_nobody_wants_goes_back_to_the_fleet(store):
    async def scenario():
        a, b = fleet(store, "a"), fleet(store, "b")
        throttle = Throttle(max_concurrency=1)
        gate = ConnectorGate(throttle, fleet=a.share("g", throttle))
        assert await gate.admit()
        gate.release(DELIVERED)
        assert (await take(b, throttle, 1)).count == 0  # still a's, for a moment
        await asyncio.sleep(SPARE_LINGER * 5)
        assert a._budgets.held("g") == []
        assert (await take(b, throttle, 1)).count == 1
        await a.aclose()
        await b.aclose()

    asyncio.run(scenario())


def test_a_wake_up_left_over_from_a_give_back_does_not_stall_the_loop(store, monkeypatch):
    import writeback._fleet as fleet_module

    # A linger long enough that the kept slot is still kept when the loop turns,
    # unless the flusher spun on the stale wake-up until the slot aged out.
    monkeypatch.setattr(fleet_module, "SPARE_LINGER", 5.0)

    async def scenario():
        a = fleet(store, "a")
        share = a.share("g", Throttle(max_concurrency=2))
        assert share is not None
        share.give_back((await share.take()).slots, None)  # kept: the flusher lingers
        await asyncio.sleep(0)
        assert a._urgent is not None
        a._urgent.set()  # as a give-back that went with the previous batch leaves it
        await asyncio.sleep(0.001)
        assert len(a._budgets.held("g")) == 1  # still kept: the flusher waited
        await a.aclose()
        assert a._budgets.held("g") == []

    asyncio.run(scenario())


def test_a_429_gives_back_every_slot_kept_for_the_group_and_holds_it_here(store):
    async def scenario():
        a = fleet(store, "a")
        throttle = Throttle(max_concurrency=2, group="shared")
        gate_x = ConnectorGate(throttle, fleet=a.share("g", throttle))
        gate_y = ConnectorGate(throttle, fleet=a.share("g", throttle))
        assert await gate_x.admit() and await gate_y.admit()
        gate_y.release(DELIVERED)  # kept for the group
        gate_x.release(AttemptResult(Outcome.RETRY, status_code=429, retry_after=30.0))
        assert not await gate_y.admit()  # the kept slot is not handed on under a hold
        await a.aclose()
        assert a._budgets.held("g") == []

    asyncio.run(scenario())


def test_another_workers_hold_stops_a_kept_slot_after_a_recheck(store):
    async def scenario():
        a, b = fleet(store, "a"), fleet(store, "b")
        throttle = Throttle(max_concurrency=2)
        share = a.share("g", throttle)
        assert share is not None
        grant = await share.take()
        b.give_back("g", (), 5.0)  # b's 429: the group is held in the store
        await b.aclose()
        share.give_back(grant.slots, None)
        # Read the row too long ago to trust it: the take asks the store again.
        a._seen["g"] -= RECHECK_AFTER
        refused = await share.take()
        assert refused.count == 0 and 4 < refused.retry_in <= 5
        await a.aclose()
        assert a._budgets.held("g") == []

    asyncio.run(scenario())


def test_a_kept_slot_whose_lease_ran_out_is_not_used_again(store):
    async def scenario():
        a, b = fleet(store, "a", lease=0.3), fleet(store, "b")
        throttle = Throttle(max_concurrency=2)
        share = a.share("g", throttle)
        assert share is not None
        grant = await share.take()
        assert a._renewer is not None
        a._renewer.cancel()  # a stalls past its lease
        await asyncio.sleep(0.4)
        assert (await take(b, throttle, 1)).slots == grant.slots  # b took it over
        share.give_back(grant.slots, None)
        again = await share.take()
        assert again.count == 1 and again.slots != grant.slots
        holders = {slot: holder for slot, holder, _ in a._budgets.held("g")}
        assert holders == {grant.slots[0]: "b", again.slots[0]: "a"}
        await a.aclose()
        await b.aclose()

    asyncio.run(scenario())


def _row(**throttle) -> Connector:
    return Connector(
        name="hook",
        type="webhook",
        uri="http://127.0.0.1:9/h",
        api_type="json",
        source_app="A",
        throttle=Throttle(**throttle) if throttle else None,
    )


class _Spec:
    default_throttle_group = None


def test_the_default_group_is_the_connectors_name_and_a_rows_group_wins():
    assert throttle_group_of(_row(), _Spec(), None) == "hook"  # type: ignore[arg-type]
    assert throttle_group_of(_row(group="tenant-1"), _Spec(), None) == "tenant-1"  # type: ignore[arg-type]


@pytest.mark.parametrize("group", ["", " x", "a b", "é", "x" * 101, "-x", "a\nb"])
def test_a_group_outside_its_charset_or_length_is_refused_in_one_sentence(group):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        Throttle(group=group)
    message = caught.value.errors()[0]["msg"]
    assert "is not a throttle group" in message and message.count(". ") == 0


def test_budget_is_plain_data():
    assert Budget("g", 4, 50.0).group == "g"
    assert time.time() > 0
