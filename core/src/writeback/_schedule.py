"""The retry schedule: how long a delivery waits before its next attempt, and how
long an idle worker sleeps before it looks for one again."""

from __future__ import annotations

import math
import random

__all__ = ["JITTER", "MAX_RETRY_AFTER", "MAX_WAIT", "bounded_wait", "idle_sleep", "next_delay"]

#: The longest ``Retry-After`` honoured; a server asking for more waits a day.
MAX_RETRY_AFTER = 86400.0
#: The longest wait before a next attempt, whatever the schedule says.  A wait
#: must stay a finite number: a stored row whose schedule held infinity (or a
#: wait so long that adding the clock overflowed) once made the whole batch of
#: results unrecordable, and the worker stopped.
MAX_WAIT = 30 * 86400.0
#: Jitter spreads retries of many deliveries so they do not return in one burst.
JITTER = 0.2


def next_delay(
    schedule: tuple[float, ...], attempt: int, retry_after: float | None
) -> float | None:
    """Seconds to wait after failed attempt number ``attempt``; ``None``: give up.

    The schedule's wait with ±20% jitter, but never less than the endpoint's
    ``Retry-After``; always within ``0`` to :data:`MAX_WAIT`.
    """
    if attempt > len(schedule):
        return None
    wait = schedule[attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None and not math.isnan(retry_after):
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return bounded_wait(wait)


def bounded_wait(seconds: float) -> float:
    """``seconds`` within ``0`` to :data:`MAX_WAIT`: a negative wait is none, an
    infinite or NaN one the longest (never sooner than the schedule meant)."""
    if math.isnan(seconds) or seconds > MAX_WAIT:
        return MAX_WAIT
    return max(seconds, 0.0)


def idle_sleep(wake: float | None, now: float, idle: int, poll_interval: float) -> float:
    """Seconds an idle worker sleeps before it looks again (gates and the 1 s cap aside).

    - ``wake`` ``None``, nothing pending: the poll interval.
    - ``wake`` later than ``now``: until then, to the moment.  Nothing is due
      before it, so a retry goes out when it was scheduled.  (The back-off below
      once applied here too, and a worker idle for a while slept up to
      ``poll_interval`` past the next delivery's time.)
    - ``wake`` passed, yet the last claim got nothing (each due queue's head is
      leased by another worker): 5 ms, doubling with each ``idle`` round up to
      the poll interval, so that idle workers do not hammer the database.
    """
    if wake is None:
        return poll_interval
    if wake > now:
        return wake - now
    return min(0.005 * 2**idle, poll_interval)
