"""A worker's side of the fleet-wide limits: its shares of the throttle groups.

Each connector with a ``max_concurrency`` or a ``rate`` takes, before each
attempt, a share of its throttle group's budget in the store
(``store._budget``): a slot (one request in flight) and a token of the group's
bucket.  Shares given back are batched: every attempt that ended since the last
give-back goes in one transaction, with any hold a 429 asked for.  One task
renews the leases of the slots this worker holds every third of a lease, so a
worker that dies gives them back within a lease.

Store work runs on its own :class:`~writeback.store.LoopRunner` (on PostgreSQL,
its own asyncio connection), one unit of work at a time, never on the claims'.
"""

from __future__ import annotations

import asyncio
import contextlib
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

__all__ = ["FleetLimits", "FleetShare"]

log = secret_safe_logger("writeback.throttle")

T = TypeVar("T")


class FleetShare:
    """One connector's handle on its group's budget (made by :meth:`FleetLimits.share`)."""

    def __init__(self, fleet: FleetLimits, budget: Budget) -> None:
        self.fleet = fleet
        self.budget = budget

    async def take(self) -> Grant:
        """One share of the group's budget, or none and when to ask again."""
        return await self.fleet.take(self.budget, 1)

    def give_back(self, slots: tuple[int, ...], hold: float | None) -> None:
        """Give ``slots`` back (soon, batched), holding the group ``hold`` seconds."""
        self.fleet.give_back(self.budget.group, slots, hold)


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
        """Up to ``want`` shares of ``budget``'s group, in one short transaction."""
        grant = await self._run(
            lambda: self._budgets.take_steps(budget, want, self.owner, self.lease_seconds)
        )
        if grant.slots and self._renewer is None:
            self._renewer = asyncio.create_task(self._renew())
        return grant

    def give_back(self, group: str, slots: tuple[int, ...], hold: float | None) -> None:
        """Queue ``slots`` to give back, and a hold of the group, for the next flush."""
        if slots:
            self._releases.setdefault(group, []).extend(slots)
        if hold is not None and hold > 0:
            self._holds[group] = max(hold, self._holds.get(group, 0.0))
        if not self._releases and not self._holds:
            return
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def aclose(self) -> None:
        """Give back what is queued, stop renewing, close the connection."""
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher
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
        self._lock = None

    async def _flush(self) -> None:
        while self._releases or self._holds:
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
