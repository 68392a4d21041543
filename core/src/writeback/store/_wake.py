"""Telling idle workers that work was queued, so they need not poll for it.

Two ways, both beside polling, which stays the fallback (a worker still looks
every ``poll_interval``, at most every second by default):

- In one process (``writeback serve --worker``, or a host running a worker
  beside its own submits), the outbox calls the :class:`WorkSignal`'s
  listeners once a submit (or a retry) that queued deliveries has committed.
  A worker listens while it runs.
- On PostgreSQL the submitting transaction also sends ``NOTIFY
  writeback_work`` (delivered when it commits, never before), and each worker
  keeps one connection in ``LISTEN writeback_work`` (:func:`listen_for_work`),
  so workers in other processes and on other hosts wake too.  SQLite has no
  such thing: a worker in another process finds the work by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from .._secrets import secret_safe_logger

if TYPE_CHECKING:
    from ._outbox import Outbox

__all__ = ["CHANNEL", "Wakeup", "WorkSignal", "listen_for_work"]

log = secret_safe_logger("writeback.worker")

#: The PostgreSQL notification channel a submit notifies and workers listen on.
CHANNEL = "writeback_work"
#: The longest wait before a lost listening connection is opened again.
_MAX_BACKOFF = 30.0


class WorkSignal:
    """In-process listeners told, after the commit, that deliveries were queued.

    A listener may be called from any thread (the submitting one), so it must
    only hand the news on (``loop.call_soon_threadsafe``); one that raises is
    ignored: submitting never fails because a worker could not be told.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[[], None], ...] = ()

    def add(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Start calling ``listener``; returns the function that stops it."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def remove() -> None:
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)

        return remove

    def fire(self) -> None:
        """Tell every listener (after the queuing transaction has committed)."""
        for listener in self._listeners:
            with contextlib.suppress(Exception):
                listener()


async def listen_for_work(engine: Engine, wake: Callable[[], None]) -> None:
    """``LISTEN`` on :data:`CHANNEL` and call ``wake`` (on this loop) per notification.

    Runs until cancelled.  ``wake`` is also called once each time the listening
    connection is (re)established: a submit between the worker's last look and
    the ``LISTEN`` would otherwise go unnoticed until the next poll.  A lost
    connection is opened again, waiting longer each time (up to 30 s), while the
    worker goes on polling.
    """
    import psycopg

    _, arguments = engine.dialect.create_connect_args(engine.url)
    backoff = 0.5
    while True:
        try:
            connection = await psycopg.AsyncConnection.connect(**arguments, autocommit=True)
            async with connection:
                await connection.execute(f"LISTEN {CHANNEL}")
                backoff = 0.5
                wake()
                async for _ in connection.notifies():
                    wake()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "listening for new work failed (%s); polling meanwhile, trying again in %g s",
                type(exc).__name__,
                backoff,
            )
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, _MAX_BACKOFF)


class Wakeup:
    """A worker's side: one event, set by its own ``stop()``, by a submit in this
    process (any thread), and by a ``NOTIFY`` from any other (PostgreSQL).

    The worker clears it *before* each claim and waits on it when idle: news
    that arrives after the clear may concern work the claim did not see, so
    the wait then returns at once and the worker claims again.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._undo: Callable[[], None] | None = None
        self._listener: asyncio.Task[None] | None = None
        #: Also set on each wake (the worker's "an attempt ended" event), so that
        #: a worker with attempts in flight claims new work without waiting for them.
        self.also: asyncio.Event | None = None

    def start(self, outbox: Outbox) -> None:
        """Listen, from the running loop, to ``outbox``'s submits (and NOTIFY)."""
        self._loop = asyncio.get_running_loop()
        self._undo = outbox.queued.add(self._from_any_thread)
        engine = outbox.listen_engine()
        if engine is not None:
            self._listener = asyncio.create_task(
                listen_for_work(engine, self.set), name="writeback-worker-listen"
            )

    async def aclose(self) -> None:
        """Stop listening (on the loop that started it)."""
        if self._undo is not None:
            self._undo()
            self._undo = None
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self._loop = None

    def set(self) -> None:
        """Wake the worker (call on its loop)."""
        self._event.set()
        if self.also is not None:
            self.also.set()

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, timeout: float) -> None:
        """Until woken, or ``timeout`` seconds (the poll)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._event.wait()

    def _from_any_thread(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.set)
