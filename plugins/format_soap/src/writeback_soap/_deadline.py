"""The deadline of one attempt, for the blocking requests calls of the soap format.

requests' timeouts bound each wait on the socket, not the exchange: an endpoint
that trickles its answer a byte a second never trips them, and would hold the
connector's thread and the worker's slot for as long as it likes.  So each
attempt runs under a :class:`Deadline`: the connections it uses are noted as
they are used (the adapter's connections do it themselves), and when the
deadline passes the event loop shuts them down, which ends a read or write in
progress at once, whatever phase it is in (:mod:`._adapter`); the body reader
also checks the clock between reads.
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

import requests

__all__ = ["Deadline", "DeadlinePassed", "current_deadline"]

_CURRENT: ContextVar[Deadline | None] = ContextVar("writeback_soap_deadline", default=None)


class DeadlinePassed(requests.Timeout):
    """The attempt's deadline passed before its answer was complete."""


class Deadline:
    """``seconds`` from its start: the most one attempt may take, every exchange included.

    Used by two threads: the attempt's own, which starts it, has its sockets
    watched and finishes it, and the event loop's, whose timer expires it.  It
    starts when the attempt's thread does: an attempt waiting for a free thread
    waits for the connector's own concurrency, not for a slow endpoint.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = math.inf
        self.passed = False
        self.timer: asyncio.TimerHandle | None = None
        self._done = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Count from now; with ``loop``, its timer cuts the attempt's connections."""
        self.at = time.monotonic() + self.seconds
        if loop is not None:
            # A loop closed meanwhile (a worker shutting down) leaves the clock checks.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._arm, loop)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._done:
            self.timer = loop.call_later(max(0.0, self.at - time.monotonic()), self.expire)

    def cancel_timer(self) -> None:
        """In the loop's thread, once the attempt is over."""
        if self.timer is not None:
            self.timer.cancel()

    def over(self) -> bool:
        """Whether the deadline has passed (by the clock, even before the timer said so)."""
        if not self.passed and time.monotonic() >= self.at:
            self.passed = True
        return self.passed

    def check(self) -> None:
        """:raises DeadlinePassed: when the deadline has passed."""
        if self.over():
            raise DeadlinePassed(f"no complete answer within {self.seconds:g} s")

    def watch(self, sock: socket.socket | None) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it has)."""
        if sock is None:
            return
        with self._lock:
            if self._done:
                return
            if not self.passed:
                self._sockets.append(sock)
                return
        _shut(sock)

    def expire(self) -> None:
        """The deadline passed: end every exchange of the attempt still running."""
        with self._lock:
            if self._done:
                return
            self.passed = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)

    def finish(self) -> None:
        """The attempt is over: its sockets are the thread's next attempt's, hands off."""
        with self._lock:
            self._done = True
            self._sockets.clear()

    @contextlib.contextmanager
    def applied(self) -> Iterator[Deadline]:
        """Make this the deadline of the requests the calling thread makes."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            self.finish()
            _CURRENT.reset(token)


def current_deadline() -> Deadline | None:
    """The deadline of the attempt running in this thread, if any."""
    return _CURRENT.get()


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for a TLS socket: ssl.SSLSocket.shutdown
    # would also drop its SSL object under the feet of the thread reading it.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
