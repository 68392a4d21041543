"""The retry schedule: how long a delivery waits before its next attempt."""

from __future__ import annotations

import random

__all__ = ["JITTER", "MAX_RETRY_AFTER", "next_delay"]

#: The longest ``Retry-After`` honoured; a server asking for more waits a day.
MAX_RETRY_AFTER = 86400.0
#: Jitter spreads retries of many deliveries so they do not return in one burst.
JITTER = 0.2


def next_delay(
    schedule: tuple[float, ...], attempt: int, retry_after: float | None
) -> float | None:
    """Seconds to wait after failed attempt number ``attempt``; ``None``: give up.

    The schedule's wait with ±20% jitter, but never less than the endpoint's
    ``Retry-After``.
    """
    if attempt > len(schedule):
        return None
    wait = schedule[attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return wait
