"""A worker's side of the fleet-wide limits: its shares of the throttle groups.

Each connector with a ``max_concurrency`` or a ``rate`` takes, before each
attempt, a share of its throttle group's budget in the store
(``store._budget``): a slot (one request in flight) and a token of the group's
bucket.  A slot whose attempt ended stays with this worker for
:data:`SPARE_LINGER`: the next attempt of the group here takes it over without
a transaction (with a ``rate``, in the transaction that spends its token), and
only a slot nobody here wanted is given back.  So a busy worker pays no store
transaction per attempt for a concurrency limit that leaves room, and the
limit still holds: every request in flight holds a slot in the store.  A slot
is taken over without a transaction only within :data:`RECHECK_AFTER` of the
last look at the group's row, so a hold another worker set (a 429) stops this
one within that time.

Shares given back are batched: every slot nobody took over since the last
give-back goes in one transaction, with any hold a 429 asked for (a hold goes at
once, with every slot of the group this worker kept).  One task renews the
leases of the slots this worker holds every third of a lease, so a worker that
dies gives them back within a lease.

Store work runs on its own :class:`~writeback.store.LoopRunner` (on PostgreSQL,
its own asyncio connection), one unit of work at a time, never on the claims'.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ._secrets import secret_safe_logger
from .store import LoopRunner
from .store._budget import Budget, BudgetStore, Grant
from .store._driver import DriverStatements

if TYPE_CHECKING:
    from ._models import Throttle
    from .store import Store
    from .store._driver import Steps

__all__ = ["RECHECK_AFTER", "SPARE_LINGER", "FleetLimits", "FleetShare"]

log = secret_safe_logger("writeback.throttle")

T = TypeVar("T")

#: How long a slot whose attempt ended stays with this worker, for the next
#: attempt of its group here, before it is given back to the fleet.
SPARE_LINGER = 0.02
#: A kept slot is taken over without a transaction only this soon (seconds)
#: after the group's row was last read: a hold set by another worker (a 429)
#: stops this one within this time.
RECHECK_AFTER = 0.1


class FleetShare:
    """One connector's handle on its group's budget (made by :meth:`FleetLimits.share`)."""

    def __init__(self, fleet: FleetLimits, budget: Budget) -> None:
        self.fleet = fleet
        self.budget = budget

    async def take(self) -> Grant:
        """One share of the group's budget, or none and when to ask again."""
        return await self.fleet.take(self.budget, 1)

    def give_back(self, slots: tuple[int, ...], hold: float | None) -> None:
        """The attempts holding ``slots`` ended: keep them for the next attempts of
        the group here (given back if none comes soon); with a ``hold``, give them
        back at once and hold the group ``hold`` seconds."""
        if hold is not None and hold > 0:
            self.fleet.give_back(self.budget.group, slots, hold)
        else:
            self.fleet.keep(self.budget, slots)


class FleetLimits:
    """The shares one worker process holds of the store's throttle groups."""

    def __init__(self, store: Store, owner: str, lease_seconds: float) -> None:
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._budgets = BudgetStore(store.engine)
        self._statements = DriverStatements(store.work_engine or store.engine)
        self._runner: LoopRunner | None = None
        self._lock: asyncio.Lock | None = None
        self._releases: dict[str, list[int]] = {}
        self._holds: dict[str, float] = {}
        # Slots held in the store that no attempt uses now, with when they were
        # kept (``time.monotonic()``), by the budget they were taken under.
        self._spare: dict[Budget, list[tuple[int, float]]] = {}
        # When a take last read each group's row and found it not held (monotonic).
        self._seen: dict[str, float] = {}
        # Groups held by this worker's own attempts (a 429), until then (monotonic).
        self._held_until: dict[str, float] = {}
        # Set when something is to be given back now (not a spare slot lingering).
        self._urgent: asyncio.Event | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None

    def share(self, group: str, throttle: Throttle) -> FleetShare | None:
        """``group``'s budget for a connector with ``throttle``; ``None`` when it has
        no limit to share (then nothing is asked of the store for it)."""
        if throttle.max_concurrency is None and throttle.rate is None:
            return None
        budget = Budget(group, throttle.max_concurrency, throttle.per_second())
        self._budgets.ensure_group(budget)
        return FleetShare(self, budget)

    async def take(self, budget: Budget, want: int) -> Grant:
        """Up to ``want`` shares of ``budget``'s group: slots this worker kept first
        (without a transaction when the group has no ``rate`` and its row was read
        within :data:`RECHECK_AFTER`), else in one short transaction."""
        group = budget.group
        now = time.monotonic()
        held = self._held_until.get(group, 0.0)
        if now < held:
            return Grant(0, (), held - now)
        spare = self._spare.get(budget)
        reuse: tuple[int, ...] = ()
        if spare:
            reuse = tuple(slot for slot, _ in spare[-want:])
            del spare[-len(reuse) :]
            if budget.rate is None and now - self._seen.get(group, -math.inf) < RECHECK_AFTER:
                return Grant(len(reuse), reuse, 0.0)
        try:
            grant = await self._run(
                lambda: self._budgets.take_steps(
                    budget, want, self.owner, self.lease_seconds, reuse
                )
            )
        except BaseException:
            # The kept slots are still ours in the store: give them back, or the
            # renewer would keep them leased for good.
            self.give_back(group, reuse, None)
            raise
        if grant.count:
            self._seen[group] = now
        unused = tuple(slot for slot in reuse if slot not in grant.slots)
        if unused:
            self.give_back(group, unused, None)
        if grant.slots and self._renewer is None:
            self._renewer = asyncio.create_task(self._renew())
        return grant

    def keep(self, budget: Budget, slots: tuple[int, ...]) -> None:
        """Keep ``slots`` (still held in the store) for the next attempts of
        ``budget`` here; given back unless one takes them within :data:`SPARE_LINGER`."""
        if not slots:
            return
        now = time.monotonic()
        self._spare.setdefault(budget, []).extend((slot, now) for slot in slots)
        self._start_flusher()

    def give_back(self, group: str, slots: tuple[int, ...], hold: float | None) -> None:
        """Queue ``slots`` to give back, and a hold of the group, for the next flush
        (at once: a hold also gives back every slot of the group kept here)."""
        if slots:
            self._releases.setdefault(group, []).extend(slots)
        if hold is not None and hold > 0:
            self._holds[group] = max(hold, self._holds.get(group, 0.0))
            until = time.monotonic() + hold
            self._held_until[group] = max(until, self._held_until.get(group, 0.0))
            for budget, spare in self._spare.items():
                if budget.group == group and spare:
                    self._releases.setdefault(group, []).extend(slot for slot, _ in spare)
                    spare.clear()
        if not self._releases and not self._holds:
            return
        if self._urgent is not None:
            self._urgent.set()
        self._start_flusher()

    async def aclose(self) -> None:
        """Give back what is queued and kept, stop renewing, close the connection."""
        self._retire(math.inf)
        if self._urgent is not None:
            self._urgent.set()
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher
        self._retire(math.inf)
        if self._releases or self._holds:
            with contextlib.suppress(Exception):
                await self._flush()
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        if self._runner is not None:
            await self._runner.aclose()
            self._runner = None
        self._lock = self._urgent = None

    def _start_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    def _retire(self, before: float) -> None:
        """Queue for giving back the kept slots kept since ``before`` or earlier."""
        for budget, spare in self._spare.items():
            old = [slot for slot, since in spare if since <= before]
            if old:
                spare[:] = [(slot, since) for slot, since in spare if since > before]
                self._releases.setdefault(budget.group, []).extend(old)

    async def _flush(self) -> None:
        if self._urgent is None:
            self._urgent = asyncio.Event()
        urgent = self._urgent
        while self._releases or self._holds or any(self._spare.values()):
            if not self._releases and not self._holds:
                # Only kept slots: let them linger for the next attempts here.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(SPARE_LINGER):
                        await urgent.wait()
                # Cleared here too: set for a batch already given back, it would
                # make this loop spin without ever yielding to the event loop.
                urgent.clear()
                self._retire(time.monotonic() - SPARE_LINGER)
                if not self._releases and not self._holds:
                    continue
            urgent.clear()
            try:
                await self._run(self._give_back_steps)
            except Exception as exc:
                # Not lost: the slots' leases run out, and a hold is advice anyway.
                log.warning(
                    "giving throttle shares back failed (%s); their leases will expire", exc
                )

    def _give_back_steps(self) -> Steps[None]:
        # Called once the lock is ours: everything queued by then goes in one transaction.
        releases, self._releases = self._releases, {}
        holds, self._holds = self._holds, {}
        return self._budgets.give_back_steps(
            [(group, tuple(slots)) for group, slots in releases.items()],
            holds.items(),
            self.owner,
        )

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self._run(lambda: self._budgets.renew_steps(self.owner, self.lease_seconds))
            except Exception as exc:
                log.warning("renewing throttle slots failed (%s); trying again", exc)

    async def _run(self, steps: Callable[[], Steps[T]]) -> T:
        if self._lock is None:
            self._lock = asyncio.Lock()
            self._runner = LoopRunner(self._statements)
        async with self._lock:
            assert self._runner is not None
            return await self._runner.run(steps)
