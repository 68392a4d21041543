"""The worker: claim due deliveries, send them, record every attempt.

One asyncio loop runs up to ``concurrency`` attempts at once.  Database calls
are short and synchronous; sending is where the time goes.  A pipeline is
built once per connector and rebuilt when the connector row changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ._errors import AttemptError, UserError
from ._interfaces import AttemptResult, Delivery, Outcome
from ._pipeline import Pipeline, attempt_error_result
from ._registry import PluginRegistry
from ._secrets import REDACTOR, secret_safe_logger
from ._validation import validate_connector
from .store import AttemptRecord, Claim, Store

__all__ = ["Worker", "WorkerStats", "next_delay"]

log = secret_safe_logger("writeback.worker")

#: The longest ``Retry-After`` honoured; a server asking for more waits a day.
MAX_RETRY_AFTER = 86400.0
#: Jitter spreads retries of many deliveries so they do not return in one burst.
JITTER = 0.2


def next_delay(
    schedule: tuple[float, ...], attempt: int, retry_after: float | None
) -> float | None:
    """Seconds to wait after failed attempt number ``attempt``; ``None``: give up.

    The schedule's wait with ±20% jitter, but never less than the endpoint's
    ``Retry-After``.
    """
    if attempt > len(schedule):
        return None
    wait = schedule[attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return wait


@dataclass
class WorkerStats:
    """What a worker run did; passed to the progress callback after each attempt."""

    attempts: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    pending: int = 0
    dead_ids: list[str] = field(default_factory=list)


class Worker:
    """Drains the outbox of one store."""

    def __init__(
        self,
        store: Store,
        registry: PluginRegistry,
        *,
        concurrency: int = 8,
        lease_seconds: float = 120.0,
        poll_interval: float = 0.5,
        on_progress: Callable[[WorkerStats], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise UserError(f"--concurrency {concurrency} is too small; give 1 or more.")
        self.store = store
        self.registry = registry
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.on_progress = on_progress
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"
        self.stats = WorkerStats()
        self._pipelines: dict[int, tuple[float, Pipeline]] = {}
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish in-flight attempts, claim nothing more, and return."""
        self._stopping.set()

    async def run(self, *, until_idle: bool = False) -> WorkerStats:
        """Work until stopped, or with ``until_idle`` until nothing is pending."""
        inflight: set[asyncio.Task[None]] = set()
        try:
            while not self._stopping.is_set():
                free = self.concurrency - len(inflight)
                claims = self.store.outbox.claim(self.owner, free, lease_seconds=self.lease_seconds)
                for claim in claims:
                    task = asyncio.create_task(self._process(claim))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                if claims and len(inflight) < self.concurrency:
                    continue
                if inflight:
                    await asyncio.wait(
                        inflight, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
                    )
                    continue
                wake = self.store.outbox.next_wake()
                if wake is None and until_idle:
                    break
                # Wake for the next scheduled retry, but look again at least every
                # second: another process may submit or claim meanwhile.
                delay = self.poll_interval if wake is None else wake - time.time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stopping.wait(), timeout=min(max(delay, 0.005), 1.0)
                    )
            if inflight:
                await asyncio.gather(*inflight)
        finally:
            for _, pipeline in self._pipelines.values():
                await pipeline.aclose()
            self._pipelines.clear()
        self.stats.pending = self.store.outbox.counts().get("pending", 0)
        return self.stats

    # -- one delivery --------------------------------------------------------------

    async def _pipeline(self, claim: Claim) -> Pipeline | AttemptResult:
        """The connector's pipeline; rebuilt (decrypted, re-validated) only when its row changed."""
        removed = AttemptResult(Outcome.FAILED, error="WB-106: the connector was removed.")
        if claim.connector_id is None:
            return removed
        stored = self.store.connectors.get_by_id(claim.connector_id)
        if stored is None:
            return removed
        cached = self._pipelines.get(claim.connector_id)
        if cached is not None and cached[0] == stored.updated_at:
            return cached[1]
        if cached is not None:
            await cached[1].aclose()
            del self._pipelines[claim.connector_id]
        try:
            connector = validate_connector(self.store.connectors.opened_row(stored), self.registry)
        except UserError as exc:
            return AttemptResult(Outcome.FAILED, error=str(exc))
        version = stored.updated_at
        try:
            pipeline = Pipeline.build(connector)
        except AttemptError as exc:
            return attempt_error_result(exc)
        self._pipelines[claim.connector_id] = (version, pipeline)
        return pipeline

    async def _process(self, claim: Claim) -> None:
        started = time.time()
        clock = time.perf_counter()
        n = claim.attempts + 1
        try:
            pipeline = await self._pipeline(claim)
            if isinstance(pipeline, AttemptResult):
                result, schedule = pipeline, ()
            else:
                result = await pipeline.send(self._delivery(claim, n))
                schedule = pipeline.connector.row.retry.schedule
        except Exception as exc:  # the worker must record, whatever went wrong
            log.exception("delivery %s: unexpected error", claim.id)
            result, schedule = AttemptResult(Outcome.FAILED, error=f"WB-399: {exc!r}"), ()
        duration_ms = (time.perf_counter() - clock) * 1000
        error = REDACTOR.redact(result.error)
        status, next_at = "delivered", None
        if result.outcome is Outcome.RETRY:
            wait = next_delay(tuple(schedule), n - claim.replayed_after, result.retry_after)
            if wait is None:
                status = "dead"
                error = f"{error} (gave up after {n - claim.replayed_after} attempts)"
            else:
                status, next_at = "pending", time.time() + wait
        elif result.outcome is Outcome.FAILED:
            status = "dead"
        record = AttemptRecord(
            n, started, duration_ms, result.status_code, result.outcome.value, error
        )
        self.store.outbox.finish(claim, self.owner, record, status=status, next_attempt_at=next_at)
        self._count(claim, status, result)

    def _count(self, claim: Claim, status: str, result: AttemptResult) -> None:
        self.stats.attempts += 1
        if status == "delivered":
            self.stats.delivered += 1
        elif status == "dead":
            self.stats.dead += 1
            self.stats.dead_ids.append(claim.id)
            log.warning(
                "delivery %s to %s is dead: %s", claim.id, claim.connector_name, result.error
            )
        else:
            self.stats.retried += 1
        if self.on_progress is not None:
            self.on_progress(self.stats)

    @staticmethod
    def _delivery(claim: Claim, n: int) -> Delivery:
        event = claim.event
        occurred = event.get("occurred_at")
        return Delivery(
            id=claim.id,
            event_id=claim.event_id,
            action=claim.action,
            appointment=event["appointment"],
            occurred_at=datetime.fromisoformat(occurred) if occurred else None,
            attempt=n,
        )
