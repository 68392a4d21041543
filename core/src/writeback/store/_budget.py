"""Throttle budgets shared by every worker on one database (fleet-wide limits).

A throttle group (connectors sharing one back-office budget) has a row in
``throttle_groups`` (its token bucket and ``hold_until``) and a row in
``throttle_slots`` per request in flight, whichever process sent it.  Taking a
share is one short transaction that locks the group's row first (``FOR UPDATE``
on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises every writer anyway),
so two workers never both take the last slot or the last token.  A worker that
kept a slot from its last attempt (``_fleet``) brings it along: the same
transaction checks it is still its own and spends the token.  Giving shares
back is another, batched over every attempt that ended meanwhile.

Slots carry a lease, renewed while their holder runs: a worker killed with
``kill -9`` keeps its share no longer than that.  Times come from the
database's clock (``db_now``) on PostgreSQL, as claims' leases do, so hosts
whose clocks disagree still share one bucket.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ._driver import Command, Query, Steps
from ._schema import throttle_groups, throttle_slots
from ._statements import db_now

__all__ = ["BURST_SECONDS", "FULL_POLL", "Budget", "BudgetStore", "Grant", "burst_of"]

#: The bucket holds this many seconds' worth of the rate (at least one request):
#: over any window of W seconds a group sends at most ``rate x W + burst``.
BURST_SECONDS = 0.1
#: How soon to ask again when every slot of the group is taken (a finishing
#: request anywhere in the fleet may free one).
FULL_POLL = 0.05

_GROUP = throttle_groups.c.group_key == bindparam("group")
_READ_GROUP = (
    select(
        throttle_groups.c.tokens,
        throttle_groups.c.refilled_at,
        throttle_groups.c.hold_until,
        db_now(),
    )
    .where(_GROUP)
    .with_for_update()
)
_SPEND = (
    update(throttle_groups)
    .where(_GROUP)
    .values(tokens=bindparam("tokens"), refilled_at=bindparam("at"))
)
_SLOT_GROUP = throttle_slots.c.group_key == bindparam("group")
_HELD = select(
    throttle_slots.c.slot, throttle_slots.c.holder, throttle_slots.c.lease_expires_at
).where(_SLOT_GROUP)
_DROP_EXPIRED = delete(throttle_slots).where(
    _SLOT_GROUP, throttle_slots.c.lease_expires_at <= bindparam("at")
)
_TAKE = insert(throttle_slots).values(
    group_key=bindparam("group"),
    slot=bindparam("slot"),
    holder=bindparam("holder"),
    lease_expires_at=bindparam("until"),
)
_GIVE_BACK = delete(throttle_slots).where(
    _SLOT_GROUP,
    throttle_slots.c.slot.in_(bindparam("slots", expanding=True)),
    throttle_slots.c.holder == bindparam("holder"),
)
_HOLD = (
    update(throttle_groups)
    .where(_GROUP, throttle_groups.c.hold_until < db_now() + bindparam("seconds"))
    .values(hold_until=db_now() + bindparam("seconds"))
)
_RENEW = (
    update(throttle_slots)
    .where(throttle_slots.c.holder == bindparam("holder"))
    .values(lease_expires_at=db_now() + bindparam("lease"))
)


def burst_of(rate: float) -> float:
    """The bucket's size for ``rate`` requests per second (see :data:`BURST_SECONDS`)."""
    return max(1.0, math.ceil(rate * BURST_SECONDS))


@dataclass(frozen=True)
class Budget:
    """What one connector asks of its group: its limits (``None``: no limit)."""

    group: str
    max_concurrency: int | None
    #: Requests per second.
    rate: float | None


@dataclass(frozen=True)
class Grant:
    """What a group gave: how many shares, the slots to give back later (none
    without a concurrency limit), and when to ask again if it gave none."""

    count: int
    slots: tuple[int, ...]
    retry_in: float


class BudgetStore:
    """The ``throttle_groups``/``throttle_slots`` tables: take, give back, hold, renew."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._known: set[str] = set()

    def ensure_group(self, budget: Budget) -> None:
        """Create the group's row (a full bucket) unless some process already did."""
        if budget.group in self._known:
            return
        with self._engine.begin() as conn:
            found = conn.execute(
                select(throttle_groups.c.group_key).where(
                    throttle_groups.c.group_key == budget.group
                )
            ).first()
        if found is None:
            tokens = burst_of(budget.rate) if budget.rate else 0.0
            try:
                with self._engine.begin() as conn:
                    conn.execute(
                        insert(throttle_groups).values(
                            group_key=budget.group,
                            tokens=tokens,
                            refilled_at=time.time(),
                            hold_until=0.0,
                        )
                    )
            except IntegrityError:
                pass  # another process created it between our read and insert
        self._known.add(budget.group)

    def take_steps(
        self, budget: Budget, want: int, holder: str, lease: float, reuse: Sequence[int] = ()
    ) -> Steps[Grant]:
        """Take up to ``want`` shares (a slot and a token each) of ``budget``'s group.

        ``reuse``: slots ``holder`` kept from its last attempts (at most ``want``),
        used before any new one is taken if they are still its own (their lease
        not run out).  The grant's slots are those in use now; a reused slot not
        among them is the caller's to give back.
        """
        group = budget.group
        rows = yield Query(_READ_GROUP, {"group": group, "now": time.time()})
        tokens, refilled_at, hold_until, now = rows[0]
        if hold_until > now:
            return Grant(0, (), hold_until - now)
        allowed = want
        if budget.rate:
            tokens = min(burst_of(budget.rate), tokens + max(0.0, now - refilled_at) * budget.rate)
            allowed = min(allowed, int(tokens))
            if allowed <= 0:
                return Grant(0, (), (1 - tokens) / budget.rate)
        slots: tuple[int, ...] = ()
        if budget.max_concurrency:
            held = yield Query(_HELD, {"group": group})
            live = {slot for slot, _, expires in held if expires > now}
            if len(live) < len(held):
                yield Command(_DROP_EXPIRED, {"group": group, "at": now})
            ours = {slot for slot, owner, expires in held if owner == holder and expires > now}
            mine = tuple(slot for slot in reuse if slot in ours)
            # A kept slot already counts among the live ones; still, never more in
            # use than the limit (it may have been lowered since it was taken).
            room = budget.max_concurrency - (len(live) - len(mine))
            kept = mine[: max(0, min(allowed, room))]
            fresh = min(allowed - len(kept), budget.max_concurrency - len(live))
            allowed = len(kept) + max(fresh, 0)
            slots = kept + tuple(_free_numbers(live, max(fresh, 0)))
            for slot in slots[len(kept) :]:
                yield Command(
                    _TAKE, {"group": group, "slot": slot, "holder": holder, "until": now + lease}
                )
        if allowed <= 0:
            return Grant(0, (), FULL_POLL)
        if budget.rate:
            yield Command(_SPEND, {"group": group, "tokens": tokens - allowed, "at": now})
        return Grant(allowed, slots, 0.0)

    def give_back_steps(
        self,
        releases: Sequence[tuple[str, Sequence[int]]],
        holds: Iterable[tuple[str, float]],
        holder: str,
    ) -> Steps[None]:
        """Give back slots (group -> slot numbers) and hold groups back for some seconds."""
        now = time.time()
        # Group rows first, in one order, then slot rows: the order takes use too,
        # so two transactions never wait for each other in a circle (PostgreSQL).
        for group, seconds in sorted(holds):
            yield Command(_HOLD, {"group": group, "seconds": seconds, "now": now})
        for group, slots in releases:
            if slots:
                yield Command(_GIVE_BACK, {"group": group, "slots": list(slots), "holder": holder})

    def renew_steps(self, holder: str, lease: float) -> Steps[None]:
        """Extend the lease of every slot ``holder`` holds, in one statement."""
        yield Command(_RENEW, {"holder": holder, "lease": lease, "now": time.time()})

    def held(self, group: str) -> list[tuple[int, str, float]]:
        """The slots of ``group`` as stored (slot, holder, lease end), for tests and tools."""
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(
                    throttle_slots.c.slot,
                    throttle_slots.c.holder,
                    throttle_slots.c.lease_expires_at,
                )
                .where(throttle_slots.c.group_key == group)
                .order_by(throttle_slots.c.slot)
            ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def _free_numbers(taken: set[int], count: int) -> Iterable[int]:
    number = 0
    while count > 0:
        if number not in taken:
            yield number
            count -= 1
        number += 1
