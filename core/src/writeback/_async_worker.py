"""A worker run as a task of the caller's event loop, started and stopped by a host.

A service runs its worker beside its request handlers on one loop
(``writeback serve --worker``): :class:`WorkerRunner` starts the worker as a
task and stops it gracefully, letting the attempts in flight end within a
grace period.  The worker's database calls never hold that loop up
(``_worker``, ``store._loop``).
"""

from __future__ import annotations

import asyncio
import contextlib

from ._attempt import WorkerStats
from ._secrets import secret_safe_logger
from ._worker import Worker

__all__ = ["WorkerRunner"]

log = secret_safe_logger("writeback.worker")


class WorkerRunner:
    """One :class:`~writeback._worker.Worker` running on the current event loop.

    ``start()`` creates its task; ``await stop()`` claims nothing more, lets the
    attempts in flight end (up to the grace period; then they are interrupted and
    stay pending, due at once) and gives back what was claimed but not started.
    """

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._task: asyncio.Task[WorkerStats] | None = None

    @property
    def stats(self) -> WorkerStats:
        """What the worker has done so far (updated as attempts are recorded)."""
        return self._worker.stats

    def circuits(self) -> dict[str, str]:
        """Each connector's circuit in this worker, by name: ``closed`` (sending),
        ``open`` (the endpoint kept failing: nothing is sent until a cool-down ends)
        or ``half-open`` (one probe delivery decides).  A circuit is the worker's
        own, not the fleet's; a connector it has not built yet is absent."""
        return self._worker.circuits()

    @property
    def running(self) -> bool:
        """True from :meth:`start` until the worker's task has ended."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the worker as a task of the running loop (once).

        :raises RuntimeError: when called with no running loop, or a second time.
        """
        if self._task is not None:
            raise RuntimeError("this worker was started already; make a new one to run again.")
        self._task = asyncio.get_running_loop().create_task(
            self._worker.run(until_idle=False), name=f"writeback-worker {self._worker.owner}"
        )
        self._task.add_done_callback(self._ended)

    async def stop(self, *, grace: float | None = None) -> WorkerStats:
        """Stop gracefully and wait for the worker to finish; returns what it did.

        :param grace: seconds the attempts in flight may take to end (default: the
            worker's ``grace_seconds``); then they are interrupted.  A second call
            interrupts them at once.
        :raises Exception: the worker's own failure, had it stopped on one (the
            database gone, say).
        """
        if grace is not None:
            self._worker.grace_seconds = grace
        self._worker.stop()
        return await self.wait()

    async def wait(self) -> WorkerStats:
        """Wait for the worker to end (after :meth:`stop`, or on a failure of its own).

        Cancelling the caller does not cancel the worker.
        """
        if self._task is None:
            return self._worker.stats
        return await asyncio.shield(self._task)

    def _ended(self, task: asyncio.Task[WorkerStats]) -> None:
        # Logged here as well: a host that never awaits stop() would not hear of it.
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            with contextlib.suppress(Exception):
                log.error("the worker stopped on an error: %s", exc)
