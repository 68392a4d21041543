"""The loop's timer of an attempt's deadline, armed from the loop's own thread.

:meth:`writeback.plugin.Deadline.start` with a loop arms the timer through
``call_soon_threadsafe`` from the worker thread: a wake-up of the event loop
(a write to its self-pipe, a turn of the loop, the GIL handed over twice) for
every attempt.  The soap format arms this watchdog instead, in
:meth:`SoapFormat.send`, which already runs in the loop's thread.
"""

from __future__ import annotations

import asyncio
import math
import time

from writeback.plugin import Deadline

__all__ = ["Watchdog"]


class Watchdog:
    """Expires ``deadline`` on ``loop`` once its time, counted from its start in the
    worker thread, has passed.

    Armed before the attempt starts (it may wait for a free thread), it first
    fires after the deadline's length and then follows the deadline: waiting
    again while the attempt has not started or has time left.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, deadline: Deadline) -> None:
        self._loop = loop
        self._deadline = deadline
        self._handle = loop.call_later(deadline.seconds, self._fire)

    def _fire(self) -> None:
        left = self._deadline.at - time.monotonic()
        if left > 0:
            wait = left if left != math.inf else self._deadline.seconds
            self._handle = self._loop.call_later(wait, self._fire)
            return
        self._deadline.expire()

    def cancel(self) -> None:
        """The attempt is over (called in the loop's thread)."""
        self._handle.cancel()
