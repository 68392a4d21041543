"""What a worker keeps per connector: its pipeline and its gate, built once.

A worker builds every enabled connector's pipeline before its first claim and
keeps it for the run, so a delivery pays for no build.  It looks at the row again
at most every ``ROW_CHECK_INTERVAL`` and rebuilds the pipeline when the row
changed (edited, re-enabled); a row that cannot be built becomes the result of
its deliveries' attempts, which record why.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ._errors import AttemptError, UserError
from ._fleet import FleetLimits
from ._interfaces import AttemptResult, Outcome
from ._pipeline import Pipeline, attempt_error_result
from ._registry import PluginRegistry
from ._throttle import ConnectorGate
from ._validation import validate_connector
from .store import Claim, Store, StoredConnector

__all__ = ["CONNECTOR_REMOVED", "ROW_CHECK_INTERVAL", "ConnectorState", "ConnectorStates"]

#: How often a worker looks whether a connector's row changed (edited, disabled).
ROW_CHECK_INTERVAL = 1.0
#: What an attempt comes to when its connector's row is gone.
CONNECTOR_REMOVED = AttemptResult(
    Outcome.FAILED, error="WB-106: the connector was removed.", code="WB-106"
)


@dataclass
class ConnectorState:
    """One connector's pipeline and gate: built once, rebuilt when the row changes."""

    #: The row's ``updated_at`` the pipeline was built from.
    version: float
    pipeline: Pipeline
    gate: ConnectorGate
    #: When the row was last compared with the store (``time.monotonic()``).
    checked_at: float = 0.0
    #: The connector is paused (``connectors pause``, or an attempt asked for it):
    #: its claimed deliveries are given back unsent.  Read with the row.
    paused: bool = False
    #: Paused by an attempt's result, not yet read back from the store.
    paused_here: bool = False

    def may_start(self) -> bool:
        """Whether another delivery of this connector may start now."""
        return not self.paused and self.gate.free_slots() > 0

    def pause_here(self) -> None:
        """Paused by an attempt's result: start nothing more until the store says
        otherwise.  The row is not read again for a ``ROW_CHECK_INTERVAL``, by when
        the pause has been recorded (with the next claim, within 50 ms)."""
        self.paused = self.paused_here = True
        self.checked_at = time.monotonic()


class ConnectorStates:
    """A worker's :class:`ConnectorState` per connector id, for one run."""

    def __init__(
        self,
        store: Store,
        registry: PluginRegistry,
        *,
        offload: Callable[..., Awaitable[Any]] = asyncio.to_thread,
        fleet: FleetLimits | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        #: The worker's shares of the throttle groups; ``None``: limits per process only.
        self.fleet = fleet
        self._states: dict[int, ConnectorState] = {}
        #: Runs the store's (blocking) reads off the loop.
        self._offload = offload
        # One look at a row at a time per connector: two slots reading a changed
        # row at once would each rebuild its pipeline, one dropping the other's.
        self._locks: dict[int, asyncio.Lock] = {}

    async def prepare(self) -> None:
        """Build every enabled connector's pipeline before the first claim.

        The first build of each kind imports its plugins' libraries (the json
        format's httpx, the costliest; docs/benchmarks.md, "The worker's loop");
        done at start, the first deliveries after a (re)start do not wait behind
        it.  A row that cannot be built is left to its deliveries, which record
        why.
        """
        for stored in await self._offload(self.store.connectors.list):
            if stored.enabled:
                await self.get(stored.id, stored)

    async def for_claim(self, claim: Claim) -> ConnectorState | AttemptResult:
        """The claim's connector's pipeline and gate (or why it has none)."""
        if claim.connector_id is None:
            return CONNECTOR_REMOVED
        return await self.get(claim.connector_id)

    async def get(
        self, connector_id: int, stored: StoredConnector | None = None
    ) -> ConnectorState | AttemptResult:
        """A connector's pipeline and gate; rebuilt only when its row changed.

        ``stored``: its row, when the caller has just read it.
        """
        lock = self._locks.setdefault(connector_id, asyncio.Lock())
        async with lock:
            return await self._get(connector_id, stored)

    async def _get(
        self, connector_id: int, stored: StoredConnector | None
    ) -> ConnectorState | AttemptResult:
        cached = self._states.get(connector_id)
        now = time.monotonic()
        # A paused connector's row is read at every claim of it: claims come only
        # while it was being paused (given back unsent) or once it is resumed.
        fresh = cached is not None and now - cached.checked_at < ROW_CHECK_INTERVAL
        if fresh and cached is not None and (not cached.paused or cached.paused_here):
            return cached
        stored = stored or await self._offload(self.store.connectors.get_by_id, connector_id)
        if stored is None:
            return CONNECTOR_REMOVED
        if cached is not None and cached.version == stored.updated_at:
            cached.checked_at = now
            cached.paused, cached.paused_here = stored.paused, False
            return cached
        if cached is not None:
            await cached.pipeline.aclose()
            del self._states[connector_id]
        try:
            connector = validate_connector(self.store.connectors.opened_row(stored), self.registry)
        except UserError as exc:
            return AttemptResult(Outcome.FAILED, error=str(exc), code=exc.code)
        try:
            pipeline = Pipeline.build(connector, token_store=self.store.tokens)
        except AttemptError as exc:
            return attempt_error_result(exc)
        share = None
        if self.fleet is not None:
            share = await self._offload(
                self.fleet.share, connector.throttle_group, connector.throttle
            )
        gate = ConnectorGate(connector.throttle, name=connector.name, fleet=share)
        state = ConnectorState(
            stored.updated_at, pipeline, gate, checked_at=now, paused=stored.paused
        )
        self._states[connector_id] = state
        return state

    def closed(self) -> set[int]:
        """Connectors that may not take another delivery now (throttled, paused, circuit)."""
        # Not the paused ones: the claim's own query skips them (``store._statements``),
        # and so knows at once when they are resumed.
        return {cid for cid, state in self._states.items() if state.gate.free_slots() <= 0}

    def circuits(self) -> dict[str, str]:
        """Each connector this worker has built: its circuit (``closed``, ``open``
        or ``half-open``) by connector name."""
        return {
            s.gate.name: s.gate.snapshot().circuit for s in self._states.values() if s.gate.name
        }

    def batch_scale(self) -> int:
        """The most deliveries any connector's request may carry (1: none batches)."""
        return max((s.pipeline.batch_limit for s in self._states.values()), default=1)

    def ready_in(self, closed: set[int], cap: float) -> float:
        """Seconds until one of the ``closed`` connectors may open again, at most
        ``cap`` and at least 5 ms."""
        waits = [self._states[cid].gate.ready_in() for cid in closed if cid in self._states]
        return max(min([cap, *waits]), 0.005)

    async def aclose(self) -> None:
        """Close every pipeline (their connections); the next ``get`` builds anew."""
        states = list(self._states.values())
        self._states.clear()
        for state in states:
            await state.pipeline.aclose()
        if self.fleet is not None:
            await self.fleet.aclose()
