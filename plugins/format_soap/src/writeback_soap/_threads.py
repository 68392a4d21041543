"""The connector's worker threads, and how their results reach the event loop.

``loop.run_in_executor`` costs, per call, a ``concurrent.futures.Future`` with
its condition, a work item, an asyncio future chained to it, and a wake-up of
the loop (a write to its self-pipe and a turn of the loop, the GIL handed over)
for every result.  Here a call is a plain asyncio future and a queue entry, and
results that finish while the loop has not yet woken for the earlier ones are
delivered by that one wake-up (docs/benchmarks.md, "SOAP page").
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["ThreadBridge"]

T = TypeVar("T")


class _Mailbox:
    """Results for one event loop: posted by worker threads, delivered by the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.items: collections.deque[tuple[asyncio.Future[Any], bool, Any]] = collections.deque()
        self.signalled = False

    def post(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        """From a worker thread: hand over a result, waking the loop unless it is due
        to wake for an earlier one (a spare wake-up is harmless, a missed one is not:
        :meth:`deliver` clears the flag before it takes the items)."""
        self.items.append((future, ok, value))
        if not self.signalled:
            self.signalled = True
            # A closed loop has nobody awaiting the result.
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.deliver)

    def deliver(self) -> None:
        """In the loop's thread: settle every future whose result has arrived."""
        self.signalled = False
        items = self.items
        while items:
            future, ok, value = items.popleft()
            if future.done():  # cancelled meanwhile
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


class _Pool:
    """One generation of threads: their queue, and how many of them wait for a call.

    :meth:`ThreadBridge.close` replaces the pool: a thread of the old one that
    finishes late counts itself idle in its own pool, never in the new one.
    """

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        #: Released by a thread each time it is about to wait for the next call.
        self.idle = threading.Semaphore(0)
        self.threads: list[threading.Thread] = []


class ThreadBridge:
    """Up to ``workers`` threads running blocking calls for coroutines.

    Threads start as calls need them (a call that finds no idle thread starts
    one, up to ``workers``) and stay until :meth:`close`.

    :param name: the threads' name prefix (seen in thread dumps and py-spy).
    """

    def __init__(self, workers: int, name: str) -> None:
        self._workers = workers
        self._name = name
        self._pool = _Pool()
        self._lock = threading.Lock()
        self._mailboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Mailbox] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def threads(self) -> list[threading.Thread]:
        """The threads started since the last :meth:`close`."""
        return list(self._pool.threads)

    async def run(self, call: Callable[[], T]) -> T:
        """``call()`` in one of the threads; its result or exception here."""
        loop = asyncio.get_running_loop()
        mailbox = self._mailboxes.get(loop)
        if mailbox is None:
            mailbox = self._mailboxes.setdefault(loop, _Mailbox(loop))
        future: asyncio.Future[T] = loop.create_future()
        pool = self._pool
        pool.jobs.put((mailbox, future, call))
        # As ThreadPoolExecutor: an idle thread takes it, else a new one if allowed;
        # else it waits in the queue for the first thread to finish.
        if not pool.idle.acquire(blocking=False):
            with self._lock:
                if pool is self._pool and len(pool.threads) < self._workers:
                    thread = threading.Thread(
                        target=self._serve,
                        args=(pool,),
                        name=f"{self._name}_{len(pool.threads)}",
                        daemon=True,
                    )
                    pool.threads.append(thread)
                    thread.start()
        return await future

    @staticmethod
    def _serve(pool: _Pool) -> None:
        jobs = pool.jobs
        while True:
            job = jobs.get()
            if job is None:
                return
            mailbox, future, call = job
            # A call whose coroutine was cancelled before it started is not made,
            # as run_in_executor would not make it.
            if not future.cancelled():
                try:
                    mailbox.post(future, True, call())
                except BaseException as exc:  # handed to the awaiting coroutine
                    mailbox.post(future, False, exc)
            del job, mailbox, future, call
            pool.idle.release()

    def close(self) -> None:
        """Let the calls already queued finish, then stop every thread (blocking).
        A later call starts new threads."""
        with self._lock:
            pool, self._pool = self._pool, _Pool()
        for _ in pool.threads:
            pool.jobs.put(None)
        for thread in pool.threads:
            thread.join()
