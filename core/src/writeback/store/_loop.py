"""Running the worker's units of work from its event loop without holding it up.

A worker claims (and records what ended) every few deliveries, while its
attempts are in flight on the same loop.  How that is cheapest differs by
database; the figures are in docs/benchmarks.md, "The store's hot statements":

- SQLite waits on no server, so a claim runs on the loop's own thread: in a
  thread it cost twice the CPU, since the GIL changes hands at every
  statement.  While another connection holds the file's write lock (a submit,
  another process), the claim looks again from the loop every few
  milliseconds, the attempts going on meanwhile, and only after 0.2 s waits
  for the lock in a thread (``_LOCK_PAUSES``).
  The price: a commit that checkpoints the WAL (every few MB) holds the loop
  while it flushes.
- PostgreSQL claims wait for the server at every statement.  On the loop's
  thread those waits stop the attempts in flight; in a thread, each answer waits
  for the GIL from a busy loop, claims took several times longer, and the
  worker's local queue ran dry.  On psycopg's asyncio connection the loop goes
  on while the server works and nothing changes threads.

The worker's other calls (renewing leases, giving claims back, asking when the
next delivery is due, reading a connector's row) are few, and run in a thread of
the runner's own (:meth:`LoopRunner.call`), on both databases: on the loop's
thread they stopped it for as long as SQLite's write lock or a slow server kept
them waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ._driver import DriverStatements, Query, Steps, WriteLockBusy

__all__ = ["LoopRunner"]

T = TypeVar("T")


class LoopRunner:
    """Runs units of work (``_driver.Steps``) for one event loop; one at a time.

    Made by ``Outbox.loop_runner()`` inside the loop that uses it, and closed with
    :meth:`aclose` on that loop: a PostgreSQL connection belongs to its loop.
    """

    def __init__(self, statements: DriverStatements) -> None:
        self._statements = statements
        self._connection: Any = None  # psycopg.AsyncConnection, opened on first use
        self._on_loop = not statements.embedded and _loop_can_watch_sockets()
        self._committing = False
        self._executor: ThreadPoolExecutor | None = None

    async def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, a blocking call of the store's, in a thread of the
        runner's own: it neither holds the loop up nor waits behind the loop's
        default pool, which a transport's blocking requests may fill."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=2, thread_name_prefix="writeback-worker-store"
            )
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def run(self, steps: Callable[[], Steps[T]]) -> T:
        """Run the unit of work ``steps()`` in one transaction; returns its result."""
        statements = self._statements
        if statements.embedded:
            for pause in _LOCK_PAUSES:
                with contextlib.suppress(WriteLockBusy):
                    return statements.run(steps, wait=False)
                await asyncio.sleep(pause)
            return await asyncio.to_thread(statements.run, steps)
        if not self._on_loop:
            return await asyncio.to_thread(statements.run, steps)
        connection = await self._connect()
        try:
            return await self._run_on(connection, steps)
        except Exception:
            # The pool pings a connection before lending it; this one is held for
            # the whole run, so a server restart or an idle timeout shows up here.
            # The server rolled back what the broken connection had not committed,
            # so the work runs again, once, on a new connection; not after a
            # COMMIT was sent, which may have landed.
            if not connection.broken or self._committing:
                raise
            return await self._run_on(await self._connect(), steps)

    async def aclose(self) -> None:
        """Close the connection, if one was opened, and the threads of :meth:`call`
        (a call still running there ends by itself)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None
        await self._close_connection()

    async def _close_connection(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def _connect(self) -> Any:
        import psycopg

        connection = self._connection
        if connection is not None and not connection.closed and not connection.broken:
            return connection
        await self._close_connection()
        engine = self._statements.engine
        # The pool's own arguments, from the engine's URL, which carries the work
        # engine's settings (``_engine.WORKER_OPTIONS``): both connect alike.
        _, arguments = engine.dialect.create_connect_args(engine.url)
        self._connection = await psycopg.AsyncConnection.connect(**arguments)
        return self._connection

    async def _run_on(self, connection: Any, steps: Callable[[], Steps[T]]) -> T:
        statements = self._statements
        self._committing = False
        work = steps()
        result: Any = None
        try:
            async with connection.cursor() as cursor:
                while True:
                    try:
                        step = work.send(result)
                    except StopIteration as done:
                        value: T = done.value
                        break
                    await cursor.execute(*statements.expand(step.statement, step.values))
                    result = await cursor.fetchall() if isinstance(step, Query) else None
            self._committing = True
            await connection.commit()
            return value
        except BaseException:
            if not connection.broken and not connection.closed:
                with contextlib.suppress(Exception):
                    await connection.rollback()
            raise


#: While another connection holds SQLite's write lock, a claim looks again after
#: these pauses (0.2 s in all), from the loop, before it waits in a thread.
#: SQLite's own busy handler sleeps up to 100 ms between looks, and under a
#: steady stream of submits a claim waiting there lost the lock to them again
#: and again: deliveries waited hundreds of milliseconds for their claim
#: (docs/benchmarks.md, "End to end: POST to delivered").
_LOCK_PAUSES = (0.001, 0.002, 0.003) + (0.005,) * 38


def _loop_can_watch_sockets() -> bool:
    # psycopg's asyncio mode needs the loop's add_reader, which the
    # ProactorEventLoop (Windows' default) lacks; there claims run in a thread.
    proactor = getattr(asyncio, "ProactorEventLoop", None)
    return proactor is None or not isinstance(asyncio.get_running_loop(), proactor)
