"""The watchdog expires an attempt's deadline counted from the attempt's start."""

from __future__ import annotations

import asyncio
import socket

from writeback.plugin import Deadline
from writeback_soap._watchdog import Watchdog


async def _until(predicate, limit: float = 10.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate():
        if loop.time() > end:
            return False
        await asyncio.sleep(0.01)
    return True


def test_an_attempt_waiting_for_a_thread_is_not_expired_then_is_once_started() -> None:
    async def main() -> None:
        deadline = Deadline(0.02)
        watchdog = Watchdog(asyncio.get_running_loop(), deadline)
        # Several of its lengths pass before the attempt starts: still not expired.
        await asyncio.sleep(0.1)
        assert not deadline.passed
        left, right = socket.socketpair()
        with left, right:
            deadline.start()
            deadline.watch(left)
            assert await _until(lambda: deadline.passed)
            # Its socket was shut down: a read ends at once instead of waiting.
            left.settimeout(5)
            assert left.recv(1) == b""
        watchdog.cancel()

    asyncio.run(main())


def test_a_cancelled_watchdog_expires_nothing() -> None:
    async def main() -> None:
        deadline = Deadline(0.01)
        watchdog = Watchdog(asyncio.get_running_loop(), deadline)
        left, right = socket.socketpair()
        with left, right:
            deadline.start()
            deadline.watch(left)
            watchdog.cancel()
            await asyncio.sleep(0.05)
            # Past by the clock (a reader checking it stops), but no timer cut the socket.
            assert deadline.over()
            right.sendall(b"x")
            left.settimeout(5)
            assert left.recv(1) == b"x"

    asyncio.run(main())
