"""The deadline of one blocking exchange (an attempt, a token fetch), every request in it.

requests' timeouts bound each wait on the socket, not the exchange: an endpoint
that trickles its answer a byte a second never trips them, and would hold a
thread (and the worker's slot) for as long as it likes.  So the exchange runs
under a :class:`Deadline`: the connections it uses are noted as they are used
(a :class:`~writeback.plugin.WatchedAdapter` does it itself), and when the
deadline passes a timer shuts them down, which ends a read or write in progress
at once, whatever phase it is in; readers also check the clock between reads.

Nothing here imports requests: the socket bookkeeping is plain Python, and the
adapter that feeds it lives in :mod:`._watched`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

__all__ = ["Deadline", "current_deadline"]

# Per thread in practice: an exchange's blocking calls run in the thread that
# applied the deadline, and a thread runs one exchange at a time.
_CURRENT: ContextVar[Deadline | None] = ContextVar("writeback_deadline", default=None)


class Deadline:
    """``seconds`` from :meth:`start`: the most one exchange may take, every request in it.

    Used by two threads: the exchange's own, which applies it, has its sockets
    watched and finishes it, and a timer's (an event loop's or a thread's), which
    expires it.  It counts from :meth:`start`, not from its making: an attempt
    waiting for a free thread waits for its connector's own concurrency, not for
    a slow endpoint.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = math.inf
        self.passed = False
        self._timer: asyncio.TimerHandle | threading.Timer | None = None
        self._done = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self, loop: asyncio.AbstractEventLoop | None = None, *, timer: bool = False) -> None:
        """Count from now.  With ``loop``, the loop's timer cuts the exchange's
        connections when it passes; with ``timer=True`` a timer thread does; with
        neither only the clock checks between reads do."""
        self.at = time.monotonic() + self.seconds
        if loop is not None:
            # A loop closed meanwhile (a worker shutting down) leaves the clock checks.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._arm, loop)
        elif timer:
            thread = threading.Timer(self.seconds, self.expire)
            thread.daemon = True
            self._timer = thread
            thread.start()

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._done:
            self._timer = loop.call_later(max(0.0, self.at - time.monotonic()), self.expire)

    def cancel_timer(self) -> None:
        """Once the exchange is over (for a loop's timer, in the loop's thread)."""
        if self._timer is not None:
            self._timer.cancel()

    def over(self) -> bool:
        """Whether the deadline has passed (by the clock, even before the timer said so)."""
        if not self.passed and time.monotonic() >= self.at:
            self.passed = True
        return self.passed

    def left(self) -> float:
        """Seconds left (at least a millisecond, so that a timeout built from it is valid)."""
        return max(self.at - time.monotonic(), 0.001)

    def bound(self, timeout: Any) -> Any:
        """A requests ``timeout`` (seconds, a (connect, read) pair, or None), cut to the
        time left."""
        left = self.left()
        if isinstance(timeout, tuple):
            return tuple(left if t is None else min(t, left) for t in timeout)
        return left if timeout is None else min(timeout, left)

    def watch(self, sock: Any) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it has)."""
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            if self._done:
                return
            if not self.passed:
                self._sockets.append(sock)
                return
        _shut(sock)

    def expire(self) -> None:
        """The deadline passed: end every exchange still running under it."""
        with self._lock:
            if self._done:
                return
            self.passed = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)

    def finish(self) -> None:
        """The exchange is over: its sockets are the thread's next exchange's, hands off."""
        with self._lock:
            self._done = True
            self._sockets.clear()

    @contextlib.contextmanager
    def applied(self) -> Iterator[Deadline]:
        """Make this the deadline of the requests the calling thread makes; finish it after."""
        marker = _CURRENT.set(self)
        try:
            yield self
        finally:
            self.finish()
            _CURRENT.reset(marker)


def current_deadline() -> Deadline | None:
    """The deadline applied in this thread, if any."""
    return _CURRENT.get()


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for a TLS socket: ssl.SSLSocket.shutdown
    # would also drop its SSL object under the feet of the thread reading it.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
