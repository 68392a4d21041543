"""The thread bridge: results and exceptions reach their coroutine; threads as needed."""

from __future__ import annotations

import asyncio
import threading

import pytest
from writeback_soap._threads import ThreadBridge


def test_results_and_exceptions_reach_their_callers() -> None:
    bridge = ThreadBridge(4, "test")

    def fail() -> None:
        raise ValueError("refused")

    async def main() -> list[object]:
        calls = [bridge.run(lambda i=i: i * i) for i in range(200)]
        results = await asyncio.gather(*calls)
        with pytest.raises(ValueError, match="refused"):
            await bridge.run(fail)
        return results

    try:
        assert asyncio.run(main()) == [i * i for i in range(200)]
        # Never more threads than asked for, however many calls wait.
        assert 1 <= len(bridge.threads) <= 4
        names = {t.name for t in bridge.threads}
        assert all(name.startswith("test_") for name in names)
    finally:
        bridge.close()
    assert bridge.threads == []


def test_a_call_cancelled_before_it_started_is_not_made() -> None:
    bridge = ThreadBridge(1, "test")
    release = threading.Event()
    made: list[str] = []

    async def main() -> None:
        blocker = asyncio.ensure_future(bridge.run(release.wait))
        await asyncio.sleep(0)
        waiting = asyncio.ensure_future(bridge.run(lambda: made.append("made")))
        await asyncio.sleep(0)
        waiting.cancel()
        release.set()
        await blocker
        with pytest.raises(asyncio.CancelledError):
            await waiting
        # One more call through the only thread: the cancelled one came before it.
        await bridge.run(lambda: None)

    try:
        asyncio.run(main())
    finally:
        bridge.close()
    assert made == []


def test_it_serves_a_later_event_loop_after_close() -> None:
    bridge = ThreadBridge(2, "test")
    try:
        for round_ in range(50):
            # A thread of the closed pool that counts itself idle after its result
            # reached the loop must not be counted on by the next call.
            assert asyncio.run(bridge.run(lambda r=round_: r)) == round_
            bridge.close()
            assert bridge.threads == []
    finally:
        bridge.close()
