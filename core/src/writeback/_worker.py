"""The worker: claim due deliveries, send them, record every attempt.

One asyncio loop runs up to ``concurrency`` attempts at once (``_attempt``),
in slots that each go on to the next claimed delivery by themselves.  Claims,
which also record the attempts that ended, never stall that loop while they
wait (``store._loop``): PostgreSQL's on an asyncio connection, SQLite's on the
loop's thread, or in a thread while another process holds the write lock.  Its
other database calls (leases renewed and given back, the next due time, a
connector's row) run in a thread of their own (``LoopRunner.call``), so that a
host's event loop running the worker beside other work is never held up.  A
pipeline is built per enabled connector when the worker starts, and rebuilt when
the connector row changes (``_connector_states``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import socket
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._attempt import WorkerStats
from ._batching import attempt_batch, batch_limit, take_batch
from ._connector_states import ConnectorState, ConnectorStates
from ._errors import UserError
from ._fleet import FleetLimits
from ._interfaces import AttemptResult
from ._registry import PluginRegistry
from ._schedule import idle_sleep, next_delay
from ._secrets import secret_safe_logger
from .store import Claim, Finished, LoopRunner, Store
from .store._wake import Wakeup

if TYPE_CHECKING:
    from .store._driver import Steps

__all__ = ["Worker", "WorkerStats", "next_delay"]

log = secret_safe_logger("writeback.worker")

T = TypeVar("T")

#: The longest an ended attempt waits to be recorded (with the next claim).  Its
#: lease is no longer renewed, so this must stay far below any lease; and the
#: next delivery of its appointment waits for the record, so it stays short.
#: Long enough, though, to make claims fewer, which costs less CPU per delivery
#: (docs/benchmarks.md, "The worker's loop").
FLUSH_AFTER = 0.05
#: Claimed deliveries a worker keeps waiting for a slot, in multiples of its
#: concurrency, so that a slot that frees up goes on at once.
QUEUE_DEPTH = 3
#: A claim is made once this many multiples of the concurrency are wanted (or an
#: ended attempt has waited ``FLUSH_AFTER``): while every slot is busy the queue
#: is then down to one concurrency's worth, which it keeps in hand while the
#: claim runs.  Fewer, larger claims cost less CPU per delivery (docs/benchmarks.md,
#: "The worker's loop").
CLAIM_BATCH = 2


class Worker:
    """Drains the outbox of one store.

    Claims carry a lease of ``lease_seconds``, renewed every third of it while
    the attempt runs, so a slow endpoint never loses its delivery to another
    worker, and a worker that dies (SIGKILL, power loss) leaves leases that
    expire within ``lease_seconds`` and are claimed again.
    """

    def __init__(
        self,
        store: Store,
        registry: PluginRegistry,
        *,
        concurrency: int = 8,
        lease_seconds: float = 60.0,
        poll_interval: float = 0.5,
        grace_seconds: float = 30.0,
        on_progress: Callable[[WorkerStats], None] | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise UserError(f"--concurrency {concurrency} is too small; give 1 or more.")
        if lease_seconds < 1:
            raise UserError(f"--lease {lease_seconds:g} is too short; give 1 second or more.")
        self.store = store
        self.registry = registry
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.grace_seconds = grace_seconds
        self.on_progress = on_progress
        #: Called once per run, when every enabled connector's pipeline is built
        #: and before the first claim: the worker is ready to deliver.  The
        #: ``writeback worker`` command settles the process's memory there.
        self.on_ready = on_ready
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"
        self.stats = WorkerStats()
        # Limits shared with every worker on the store (docs/delivery.md).
        fleet = FleetLimits(store, self.owner, lease_seconds)
        self._connectors = ConnectorStates(store, registry, offload=self._offload, fleet=fleet)
        # Told of each attempt once it is recorded; with none installed, nothing is built.
        self._observers = registry.observers()
        self._inflight: dict[asyncio.Task[None], Claim] = {}
        # The other claims a slot's batch request carries (``_batching``), by task.
        self._mates: dict[asyncio.Task[None], list[Claim]] = {}
        # The largest batch of any connector's (1: none batches): claims are
        # wanted for that many per slot.
        self._batch_scale = 1
        # Claimed (leased) and waiting for a free slot, in claim order.
        self._ready: deque[Claim] = deque()
        # Attempts that ended, recorded with the next claim in one transaction.
        self._finished: list[Finished] = []
        self._stopping = asyncio.Event()
        # Set whenever an attempt ends: the run loop's wake-up call.
        self._wakeup = asyncio.Event()
        # Set by stop() and when work is queued (this process's submits, NOTIFY):
        # an idle worker waits on it rather than only polling (``store._wake``).
        self._news = Wakeup()
        self._news.also = self._wakeup
        self._hurry = asyncio.Event()
        self._broken: BaseException | None = None
        # Runs the claims; made (and closed) on the run's own loop.
        self._runner: LoopRunner | None = None

    def circuits(self) -> dict[str, str]:
        """Each connector's circuit in this worker (``closed``, ``open`` or
        ``half-open``) by name; a connector it has not built yet is absent."""
        return self._connectors.circuits()

    def stop(self) -> None:
        """Claim nothing more; finish in-flight attempts (a second call: interrupt them)."""
        if self._stopping.is_set():
            self._hurry.set()
        self._stopping.set()
        self._news.set()

    async def run(self, *, until_idle: bool = False) -> WorkerStats:
        """Work until stopped, or with ``until_idle`` until nothing is pending."""
        renewer = asyncio.create_task(self._renew_leases())
        self._runner = self.store.outbox.loop_runner()
        self._news.start(self.store.outbox)
        failed = False
        try:
            await self._connectors.prepare()
            if self.on_ready is not None:
                self.on_ready()
            await self._work(until_idle)
            # Claimed but not started: back to the queue at once, for other workers.
            unstarted, self._ready = list(self._ready), deque()
            await self._offload(self.store.outbox.release, unstarted, self.owner)
            await self._finish_inflight()
        except BaseException:
            failed = True
            # The worker's own failure (the database gone, say): nothing more is
            # sent, and what is in flight is cut short so that it is recorded below
            # with the rest, not left to go on unrecorded.
            self._stopping.set()
            await self._interrupt(set(self._inflight))
            raise
        finally:
            # Whatever ended is recorded, even when the loop itself failed.
            finished, self._finished = self._finished, []
            try:
                await self._offload(self.store.outbox.record, finished, self.owner)
                self.stats.count(finished, self.on_progress)
                self._observers.notify(finished)
            except Exception:
                if not failed:
                    raise
                log.exception("the attempts that ended could not be recorded")
            self._observers.close()
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            await self._news.aclose()
            await self._connectors.aclose()
            await self._runner.aclose()
            self._runner = None
        self.stats.pending = (await self._offload(self.store.outbox.counts)).get("pending", 0)
        return self.stats

    async def _offload(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """A blocking call of the store's, off the loop: in the run's own threads
        (``LoopRunner.call``), or outside a run in the loop's default pool."""
        if self._runner is not None:
            return await self._runner.call(fn, *args, **kwargs)
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(None, call)

    def _next_wake(self, skip: Collection[int], until_idle: bool) -> tuple[float | None, bool]:
        """When the next delivery outside ``skip`` may be claimed (``None``: none
        pending), and whether any delivery at all is still pending (with
        ``until_idle``: whether to go on)."""
        outbox = self.store.outbox
        wake = outbox.next_wake(skip)
        if wake is None and until_idle:
            return None, outbox.next_wake() is not None
        return wake, True

    async def _work(self, until_idle: bool) -> None:
        """The run loop: start claimed deliveries, claim more, sleep when idle."""
        idle = 0
        while not self._stopping.is_set():
            if self._broken is not None:
                raise self._broken
            await self._fill()
            if self._inflight and not self._claim_due():
                await self._attempt_ended(FLUSH_AFTER)
                continue
            skip = self._connectors.closed()
            self._batch_scale = self._connectors.batch_scale()
            wanted = self._wanted()
            finished, self._finished = self._finished, []
            # Before the claim: news of work queued from now on ends the idle wait.
            self._news.clear()
            claims = await self._claim(wanted, skip, finished)
            self.stats.count(finished, self.on_progress)
            self._ready.extend(claims)
            await self._fill()
            # After the slots are started: an observer never holds up a delivery.
            self._observers.notify(finished)
            if claims and len(self._ready) < self.concurrency:
                continue  # there may be more to claim
            if self._inflight:
                await self._attempt_ended(self._connectors.ready_in(skip, self.poll_interval))
                continue
            wake, pending = await self._offload(self._next_wake, skip, until_idle)
            if not pending:
                return
            # Wake for the next scheduled retry or a gate opening, when told of new
            # work, and in any case look again every poll (at most every second by
            # default): a SQLite store gets no word of another process's submits.
            idle = 0 if claims else min(idle + 1, 16)  # 2**idle: no overflow
            delay = idle_sleep(wake, time.time(), idle, self.poll_interval)
            delay = min(delay, self._connectors.ready_in(skip, self.poll_interval))
            delay = min(delay, max(self.poll_interval, 1.0))
            if self._stopping.is_set():
                continue  # stopped during the awaits above, after the news was cleared
            await self._news.wait(delay)

    # -- throttling and leases -----------------------------------------------------

    async def _claim(
        self, wanted: int, skip: Collection[int], finished: list[Finished]
    ) -> list[Claim]:
        """Record ``finished`` and claim up to ``wanted``, without stalling the loop
        (how, per database: ``store._loop``).

        One result the database refuses fails the whole transaction, the claim and
        every other connector's results with it: then they are recorded one at a
        time, the refused one as ``dead`` (``store._salvage``), and the claim is
        made on its own.
        """
        assert self._runner is not None
        try:
            return await self._runner.run(self._claim_steps(wanted, skip, finished))
        except Exception as exc:
            if not finished:
                raise
            await self.store.outbox.salvage(self._runner, finished, self.owner, exc)
        return await self._runner.run(self._claim_steps(wanted, skip, ()))

    def _claim_steps(
        self, wanted: int, skip: Collection[int], finished: Sequence[Finished]
    ) -> Callable[[], Steps[list[Claim]]]:
        return self.store.outbox.claim_steps(
            self.owner, wanted, lease_seconds=self.lease_seconds, skip_connectors=skip,
            finished=finished,
        )  # fmt: skip

    def _claim_due(self) -> bool:
        """Claim (and record what ended) once a batch is wanted, or an ended attempt
        has waited ``FLUSH_AFTER``: one transaction per batch, not per delivery, is
        most of what keeps the outbox close to a raw client.

        Claims are kept in a local queue up to ``QUEUE_DEPTH`` x ``concurrency``
        deep (leased, the lease renewed), so a slot that frees up goes on at once
        rather than after the next claim: with slow endpoints every slot stays busy.
        A batch is ``CLAIM_BATCH`` x ``concurrency``.
        """
        if not self._inflight and not self._ready:
            return True
        if self._wanted() >= CLAIM_BATCH * self.concurrency:
            return True
        return bool(self._finished) and time.monotonic() - self._finished[0].ended >= FLUSH_AFTER

    def _wanted(self) -> int:
        """How many more deliveries the slots and the local queue could take (a
        batching connector's slot takes up to its batch, ``_batch_scale``)."""
        mates = sum(len(m) for m in self._mates.values())
        room = (QUEUE_DEPTH + self._batch_scale) * self.concurrency
        return room - len(self._inflight) - mates - len(self._ready)

    async def _fill(self) -> int:
        """Start claimed deliveries while slots are free and their connector's gate
        admits them; give back those whose connector is closed now."""
        started, refused = 0, []
        while self._ready and len(self._inflight) < self.concurrency:
            claim = self._ready.popleft()
            state = await self._connectors.for_claim(claim)
            batch = take_batch(self._ready, claim, batch_limit(state))
            if isinstance(state, ConnectorState) and (
                not state.may_start() or not await state.gate.admit()
            ):
                refused.extend(batch)
                continue
            task = asyncio.create_task(self._slot(batch, state))
            self._inflight[task] = claim
            self._mates[task] = batch[1:]
            task.add_done_callback(self._ended)
            started += 1
        if refused:
            # Closed connectors are skipped by the next claims, so this does not churn.
            await self._offload(self.store.outbox.release, refused, self.owner)
        return started

    async def _slot(self, batch: list[Claim], state: ConnectorState | AttemptResult) -> None:
        """Attempt ``batch`` (one claim, or several in one request), then the claims
        waiting in the local queue, one after the other, until the queue is empty
        or the next one's connector is closed.

        A slot going on by itself, rather than ending and waiting for the run loop
        to start a new task, keeps its connection busy: the run loop's round trip
        left slots idle (docs/benchmarks.md, "The worker's loop").
        """
        task = asyncio.current_task()
        assert task is not None
        while True:
            # Awaited first: the run loop swaps ``_finished`` for a new list while
            # the attempt runs, and the result must land in the current one.
            done = await attempt_batch(batch, state)
            self._finished.extend(done)
            if len(self._finished) == len(done) or self._claim_due():
                # The first result starts the run loop's flush timer, and a batch
                # wanted calls for a claim; waking it for every other result cost
                # it a turn per delivery, a share of the CPU worth saving
                # (docs/benchmarks.md, "The worker's loop").
                self._wakeup.set()
            if self._stopping.is_set() or not self._ready or task.cancelling():
                # Cancelled (the attempt records it as interrupted): go no further.
                return
            claim = self._ready.popleft()
            self._inflight[task] = claim
            self._mates[task] = []
            state = await self._connectors.for_claim(claim)
            batch = take_batch(self._ready, claim, batch_limit(state))
            if isinstance(state, ConnectorState) and (
                not state.may_start() or not await state.gate.admit()
            ):
                # The run loop gives them back (and skips their connector in claims).
                self._ready.extendleft(reversed(batch))
                return
            self._mates[task] = batch[1:]

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self._mates.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            # Not an attempt's failure (those are recorded): the worker's own, such
            # as the database gone while looking up a connector.  The run loop
            # raises it, as it would have had it started the attempt itself.
            self._broken = task.exception()
        self._wakeup.set()

    async def _attempt_ended(self, timeout: float) -> None:
        """Until an attempt ends (or ``timeout``): one event for all of them, cheaper
        per delivery than ``asyncio.wait`` over every task in flight."""
        if not self._wakeup.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()
        # Cleared after waking: whatever ended before this point is already in
        # ``_inflight``/``_finished``, which the loop reads next.
        self._wakeup.clear()

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            mates = [claim for batch in self._mates.values() for claim in batch]
            claims = [*self._inflight.values(), *mates, *self._ready]
            try:
                lost = await self._offload(
                    self.store.outbox.renew, claims, self.owner, lease_seconds=self.lease_seconds
                )
            except Exception as exc:
                # A renewal missed is tried again a third of a lease later; had this
                # task ended here, every lease would have run out unnoticed.
                log.warning("renewing %d lease(s) failed (%s); trying again", len(claims), exc)
                continue
            for claim in claims:
                if claim.seq in lost:
                    log.warning(
                        "delivery %s: lease lost to another worker",
                        claim.id,
                        extra={"delivery_id": claim.id, "connector": claim.connector_name},
                    )

    async def _finish_inflight(self) -> None:
        """Let in-flight attempts end; after the grace period (or a second stop) interrupt them."""
        if not self._inflight:
            return
        tasks = set(self._inflight)
        hurry = asyncio.create_task(self._hurry.wait())
        deadline = time.monotonic() + self.grace_seconds
        pending = {t for t in tasks if not t.done()}
        while pending and not hurry.done() and time.monotonic() < deadline:
            await asyncio.wait(
                [*pending, hurry],
                timeout=deadline - time.monotonic(),
                return_when=asyncio.FIRST_COMPLETED,
            )
            pending = {t for t in tasks if not t.done()}
        await self._interrupt(pending)
        hurry.cancel()

    async def _interrupt(self, tasks: set[asyncio.Task[None]]) -> None:
        """Cancel attempts in flight and wait for them: each is recorded as
        interrupted (WB-350) and stays pending, due at once."""
        pending = {t for t in tasks if not t.done()}
        if not pending:
            return
        log.warning("interrupting %d attempt(s) still in flight", len(pending))
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
