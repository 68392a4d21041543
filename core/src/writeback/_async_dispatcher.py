"""The host API for asyncio services: :class:`AsyncDispatcher`.

    from writeback import AsyncDispatcher

    async with await AsyncDispatcher.open("sqlite:///writeback.db") as wb:
        results = await wb.submit_many(events)
        page = await wb.deliveries.list(status="dead", limit=100)
        runner = wb.start_worker(concurrency=8)
        ...
        await runner.stop(grace=10)

Every database call runs in the dispatcher's own thread pool, never on the
caller's loop, and nothing here calls ``asyncio.run``: a web service awaits these
from its request handlers and its loop goes on serving others meanwhile
(docs/host-api.md).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from ._async_worker import WorkerRunner
from ._attempt import WorkerStats
from ._dispatcher import Dispatcher, SubmitResult
from ._errors import AttemptError, InvalidConnectorError
from ._interfaces import ProbeReport
from ._pages import DeliveryPage, read_page
from ._views import ConnectorView, DeliveryView, StatsView
from ._worker import Worker

if TYPE_CHECKING:
    from ._event import AppointmentEvent
    from ._registry import PluginRegistry
    from ._validation import ValidatedConnector

__all__ = ["AsyncConnectors", "AsyncDeliveries", "AsyncDispatcher"]

T = TypeVar("T")

#: Threads for database calls, per dispatcher.  Its own pool, not the loop's
#: default one, which a transport's blocking requests may fill; and a bound on the
#: connections one service holds open.
DEFAULT_THREADS = 8


class _Offload:
    """Runs blocking calls in a thread pool of its own, with the caller's context."""

    def __init__(self, threads: int) -> None:
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="writeback-db")

    async def __call__(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)


class AsyncConnectors:
    """``AsyncDispatcher.connectors``: read, store, pause, remove and test connector rows."""

    def __init__(self, dispatcher: Dispatcher, offload: _Offload) -> None:
        self._sync = dispatcher.connectors
        self._dispatcher = dispatcher
        self._offload = offload

    def _view(self, name: str) -> ConnectorView:
        return ConnectorView.of(self._sync.get(name), self._dispatcher.registry)

    async def list(self) -> list[ConnectorView]:
        """Every connector, by name (secrets ``***``)."""

        def views() -> list[ConnectorView]:
            registry = self._dispatcher.registry
            return [ConnectorView.of(c, registry) for c in self._sync.list()]

        return await self._offload(views)

    async def get(self, name: str) -> ConnectorView:
        """One connector (secrets ``***``).

        :raises ConnectorNotFoundError: for an unknown name.
        """
        return await self._offload(self._view, name)

    async def validate(self, row: Any) -> ValidatedConnector:
        """Validate a row against the installed plugins, storing nothing.

        :raises InvalidConnectorError: one sentence per problem.
        """
        return await self._offload(self._sync.validate, row)

    async def add(self, rows: Any, *, replace: bool = False) -> list[ValidatedConnector]:
        """Validate every row, then store them all in one transaction (or none)."""
        return await self._offload(self._sync.add, rows, replace=replace)

    async def put(self, name: str, row: Mapping[str, Any]) -> ConnectorView:
        """Store ``row`` under ``name``, replacing a row of that name (as
        ``connectors add --replace``); a row without a name takes ``name``.

        :raises InvalidConnectorError: for an invalid row, or one whose name is not
            ``name``; nothing is stored then.
        """
        if not isinstance(row, Mapping):
            raise InvalidConnectorError(["a connector row must be an object."])
        named = {"name": name, **row}
        if named["name"] != name:
            raise InvalidConnectorError(
                [f"name {named['name']!r} differs from {name!r}, the connector it is put as."]
            )

        def put() -> ConnectorView:
            self._sync.add(named, replace=True)
            return self._view(name)

        return await self._offload(put)

    async def enable(self, name: str) -> None:
        """Let submissions select this connector again."""
        await self._offload(self._sync.enable, name)

    async def disable(self, name: str) -> None:
        """Make submissions ignore this connector (queued deliveries still go out)."""
        await self._offload(self._sync.disable, name)

    async def pause(self, name: str, reason: str | None = None) -> ConnectorView:
        """Send nothing more to this connector; its deliveries stay pending."""
        return await self._offload(self._set_paused, name, True, reason)

    async def resume(self, name: str) -> ConnectorView:
        """Send to this connector again."""
        return await self._offload(self._set_paused, name, False, None)

    def _set_paused(self, name: str, paused: bool, reason: str | None) -> ConnectorView:
        self._dispatcher.store.connectors.set_paused(name, paused, reason)
        return self._view(name)

    async def remove(self, name: str) -> int:
        """Remove a connector; returns how many of its pending deliveries went dead."""
        return await self._offload(self._sync.remove, name)

    async def test(self, name: str) -> ProbeReport:
        """Reach the endpoint and authenticate, writing nothing to the back office.

        The row is read and its pipeline built in a thread; the probe itself runs
        on the caller's loop, as a worker's attempts do.
        """
        connector = await self._offload(self._sync.load, name)
        from ._pipeline import Pipeline
        from ._secrets import REDACTOR

        tokens = self._dispatcher.store.tokens
        try:
            # In a thread: the first build of a kind imports its plugin's libraries.
            pipeline = await self._offload(Pipeline.build, connector, token_store=tokens)
        except AttemptError as exc:
            return ProbeReport(False, REDACTOR.redact(str(exc)) or "")
        try:
            return await pipeline.probe()
        finally:
            await pipeline.aclose()


class AsyncDeliveries:
    """``AsyncDispatcher.deliveries``: pages of the listing, one delivery, replay, stats."""

    def __init__(self, dispatcher: Dispatcher, offload: _Offload) -> None:
        self._sync = dispatcher.deliveries
        self._outbox = dispatcher.store.outbox
        self._offload = offload

    async def list(
        self,
        *,
        status: str | None = None,
        connector: str | None = None,
        limit: int | None = 1000,
        after: str | None = None,
    ) -> DeliveryPage:
        """A page of deliveries, oldest first: up to ``limit`` (``None`` or 0: all)
        after the cursor ``after`` (the previous page's ``next``).

        :raises UserError: for an unknown status, a negative limit, or a cursor
            that was altered or made with other filters.
        """
        return await self._offload(
            read_page, self._outbox, status=status, connector=connector, limit=limit, after=after
        )

    async def get(self, delivery_id: str) -> DeliveryView:
        """One delivery with every attempt (``history``).

        :raises DeliveryNotFoundError: for an unknown id.
        """
        row, history = await self._offload(self._sync.get, delivery_id)
        return DeliveryView.of(row, history)

    async def retry(
        self,
        delivery_ids: Sequence[str] = (),
        *,
        all_dead: bool = False,
        connector: str | None = None,
        since: float | None = None,
    ) -> list[str]:
        """Re-queue the given deliveries (same id), or the dead ones matching the
        filters; returns the ids re-queued (a pending one is left as it is)."""
        return await self._offload(
            self._sync.retry, delivery_ids, all_dead=all_dead, connector=connector, since=since
        )

    async def counts(self) -> dict[str, int]:
        """How many deliveries have each status."""
        return await self._offload(self._sync.counts)

    async def stats(self) -> StatsView:
        """Counts by status per connector, the oldest pending age, and the ledger check."""
        return StatsView.of(await self._offload(self._sync.stats))


class AsyncDispatcher:
    """Connectors, the outbox and workers over one database, for an asyncio host.

    The asynchronous counterpart of :class:`~writeback.Dispatcher`, which it wraps:
    the same store and plugins, every database call in a thread pool of its own.
    """

    def __init__(self, dispatcher: Dispatcher, *, threads: int = DEFAULT_THREADS) -> None:
        self.dispatcher = dispatcher
        self._offload = _Offload(threads)
        self.connectors = AsyncConnectors(dispatcher, self._offload)
        self.deliveries = AsyncDeliveries(dispatcher, self._offload)
        self._runners: list[WorkerRunner] = []

    @classmethod
    async def open(
        cls,
        db_url: str | None = None,
        *,
        registry: PluginRegistry | None = None,
        threads: int = DEFAULT_THREADS,
    ) -> AsyncDispatcher:
        """Open the store at ``db_url`` (else ``WRITEBACK_DB``, else
        ``sqlite:///writeback.db``), migrating it and loading the plugins in a thread."""
        loop = asyncio.get_running_loop()
        opened = await loop.run_in_executor(
            None, functools.partial(Dispatcher.open, db_url, registry=registry)
        )
        return cls(opened, threads=threads)

    async def __aenter__(self) -> AsyncDispatcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the workers started here (gracefully), then close the store."""
        for runner in self._runners:
            if runner.running:
                await runner.stop()
        self._runners.clear()
        executor = self._offload.executor
        # Waits for the calls still running; none is cut short.
        await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)
        await asyncio.get_running_loop().run_in_executor(None, self.dispatcher.close)

    @property
    def registry(self) -> PluginRegistry:
        """The installed plugins."""
        return self.dispatcher.registry

    async def submit(self, event: AppointmentEvent | Mapping[str, Any]) -> SubmitResult:
        """Write one delivery per matching connector (durable on return).

        A known event id creates nothing and returns its deliveries (``created``
        false).

        :raises InvalidEventError: one sentence per problem; nothing is written.
        """
        return await self._offload(self.dispatcher.submit_detailed, event)

    async def submit_many(self, events: Iterable[Any]) -> list[SubmitResult]:
        """Validate every event first (none is written if one is bad or an id is
        given twice), then submit them."""
        return await self._offload(self.dispatcher.submit_many, list(events))

    def worker(self, *, concurrency: int = 8, **options: Any) -> Worker:
        """A worker over this store (options as ``Dispatcher.run_worker``'s), not started."""
        return Worker(self.dispatcher.store, self.registry, concurrency=concurrency, **options)

    async def run_worker(self, *, until_idle: bool = True, **options: Any) -> WorkerStats:
        """Run a worker on the current loop until stopped, or with ``until_idle``
        until nothing is pending; returns what it did."""
        return await self.worker(**options).run(until_idle=until_idle)

    def start_worker(self, *, concurrency: int = 8, **options: Any) -> WorkerRunner:
        """Start a worker as a task of the current loop; ``await runner.stop()``
        ends it gracefully (and :meth:`aclose` does, if it is still running)."""
        runner = WorkerRunner(self.worker(concurrency=concurrency, **options))
        runner.start()
        self._runners.append(runner)
        return runner
