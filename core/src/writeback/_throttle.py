"""How hard the worker pushes one endpoint: concurrency, rate, back-off and a circuit.

A :class:`ConnectorGate` per connector decides, before the worker claims
anything, whether that connector may take another delivery now; the outbox
then skips connectors whose gate is closed, so their deliveries wait in the
database (no attempt made, nothing counted against their retry schedule)
while other connectors' deliveries flow.

- **Concurrency** is adaptive (AIMD, as TCP does): a 429 or a ``Retry-After``
  halves the connector's limit and pauses it for the time asked (at most
  :data:`~writeback._schedule.MAX_RETRY_AFTER`, a day, as a delivery's own
  wait); every
  ``limit`` deliveries in a row that succeed raise it by one, back up to the
  configured ``throttle.max_concurrency``.
- **Rate** is a token bucket refilled at ``throttle.rate``, scaled down with
  the concurrency after a 429 and back up as it recovers.
- **Circuit**: after :data:`TRIP_AFTER` answers in a row that say the endpoint
  is not working (no answer, 5xx), the connector is paused for a cool-down
  that doubles each time (up to :data:`MAX_COOLDOWN`); then exactly one
  delivery is let through as a probe, and only its success re-opens the flow.

A gate lives in one worker process.  With a :class:`~writeback._fleet.FleetShare`
(any connector with a ``max_concurrency`` or a ``rate``) it also takes a share of
its throttle group's budget in the store before each attempt, so the limits hold
for every worker sharing the store (a slot this worker kept from the group's
last attempt is handed on, without a transaction when the group has no rate:
``_fleet``); the group's bucket then stands in for the
gate's own, and a pause (429, ``Retry-After``, an open circuit) holds the whole
group back in every worker (docs/delivery.md, "Limits for the fleet").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._interfaces import AttemptResult, Outcome
from ._models import Throttle
from ._schedule import MAX_RETRY_AFTER
from ._secrets import secret_safe_logger

if TYPE_CHECKING:
    from ._fleet import FleetShare

__all__ = ["LONG_PAUSE", "MAX_COOLDOWN", "TRIP_AFTER", "ConnectorGate", "GateSnapshot"]

log = secret_safe_logger("writeback.throttle")

#: Answers in a row that say "not working" before the circuit opens.
TRIP_AFTER = 5
#: The first cool-down of an open circuit, doubled each time the probe fails.
FIRST_COOLDOWN = 5.0
#: The longest cool-down.
MAX_COOLDOWN = 300.0
#: A 429 without ``Retry-After`` pauses the connector this long.
DEFAULT_PAUSE = 1.0
#: A pause at least this long is logged as a warning: the connector stands still.
LONG_PAUSE = 60.0
#: The concurrency used when a connector sets no ``max_concurrency``: the
#: worker's own ``--concurrency`` bounds it anyway.
UNLIMITED = 10_000


@dataclass(frozen=True)
class GateSnapshot:
    """A gate's state, for logs and tests."""

    limit: int
    in_flight: int
    paused_until: float
    circuit: str  # "closed", "open" or "half-open"
    rate_scale: float


class ConnectorGate:
    """The throttle and circuit of one connector in this worker process."""

    def __init__(
        self,
        throttle: Throttle,
        *,
        clock: Callable[[], float] = time.monotonic,
        name: str = "",
        fleet: FleetShare | None = None,
    ) -> None:
        self.name = name
        self.fleet = fleet
        # The group said "not now" until then (on ``clock``): held, out of tokens, full.
        self._fleet_wait_until = 0.0
        # Slots of the group this gate's attempts hold, given back as they end.
        self._fleet_slots: list[int] = []
        # A pause to pass on to the whole group with the next give-back.
        self._fleet_hold: float | None = None
        self.max_limit = throttle.max_concurrency or UNLIMITED
        self.limit = self.max_limit
        # With a fleet share the group's bucket in the store meters the rate.
        self.rate = None if fleet is not None else throttle.per_second()
        self.rate_scale = 1.0
        self.burst = max(1.0, math.ceil(self.rate)) if self.rate else 0.0
        self.tokens = self.burst
        self.in_flight = 0
        self.paused_until = 0.0
        self._clock = clock
        self._refilled_at = clock()
        self._successes = 0
        self._failures_in_a_row = 0
        self._cooldown = FIRST_COOLDOWN
        # Tripped: the circuit is open until ``paused_until``, then half-open (one
        # probe at a time) until an answer says the endpoint works again.
        self._tripped = False
        self._probe_out = False

    # -- asking ------------------------------------------------------------------

    def _refill(self, now: float) -> None:
        if self.rate:
            rate = self.rate * self.rate_scale
            self.tokens = min(self.burst, self.tokens + (now - self._refilled_at) * rate)
        self._refilled_at = now

    def free_slots(self) -> int:
        """How many deliveries may start now (0 while paused, open, or out of tokens)."""
        now = self._clock()
        if now < self.paused_until or now < self._fleet_wait_until:
            return 0
        if self._tripped:  # the cool-down is over: exactly one probe at a time
            return 0 if self._probe_out else 1
        slots = self.limit - self.in_flight
        if self.rate:
            self._refill(now)
            slots = min(slots, int(self.tokens))
        return max(slots, 0)

    def ready_in(self) -> float:
        """Seconds until :meth:`free_slots` may be non-zero (0 when it already is)."""
        now = self._clock()
        if now < self.paused_until or now < self._fleet_wait_until:
            return max(self.paused_until, self._fleet_wait_until) - now
        if self._tripped and self._probe_out:
            return math.inf  # the probe's answer decides
        if self.in_flight >= self.limit:
            return math.inf  # a finishing delivery frees a slot
        if self.rate:
            self._refill(now)
            if self.tokens < 1:
                return (1 - self.tokens) / (self.rate * self.rate_scale)
        return 0.0

    # -- using -------------------------------------------------------------------

    async def admit(self) -> bool:
        """Start a delivery if this gate and, with a fleet share, the group allow it:
        one short transaction for the group's share.  False: not now."""
        if self.free_slots() <= 0:
            return False
        if self.fleet is not None:
            grant = await self.fleet.take()
            if not grant.count:
                self._fleet_wait_until = self._clock() + grant.retry_in
                return False
            self._fleet_slots.extend(grant.slots)
        self.acquire()
        return True

    def acquire(self) -> None:
        """A delivery starts: it holds a slot and spends a token."""
        self.in_flight += 1
        if self._tripped:
            self._probe_out = True
        if self.rate:
            self._refill(self._clock())
            self.tokens -= 1

    def release(self, result: AttemptResult | None) -> None:
        """A delivery ended (``None``: it was given back unsent)."""
        self.in_flight = max(0, self.in_flight - 1)
        probing, self._probe_out = self._probe_out, False
        try:
            self._judge(result, probing)
        finally:
            if self.fleet is not None:
                slots = (self._fleet_slots.pop(),) if self._fleet_slots else ()
                hold, self._fleet_hold = self._fleet_hold, None
                self.fleet.give_back(slots, hold)

    def _judge(self, result: AttemptResult | None, probing: bool) -> None:
        if result is None:
            return
        if _throttled(result):
            self._slow_down(result.retry_after)
        if _endpoint_down(result):
            self._failures_in_a_row += 1
            if probing or self._failures_in_a_row >= TRIP_AFTER:
                self._open(doubling=probing)
            return
        self._failures_in_a_row = 0
        if self._tripped:
            self._tripped = False
            self._cooldown = FIRST_COOLDOWN
        if result.outcome is Outcome.DELIVERED:
            self._speed_up()

    def _slow_down(self, retry_after: float | None) -> None:
        # Halve what was actually in flight (this delivery included), not a
        # nominal limit that may be far above what the endpoint ever saw.
        self.limit = max(1, min(self.limit, self.in_flight + 1) // 2)
        self.rate_scale = max(0.05, self.rate_scale / 2)
        self._successes = 0
        # Capped here too: a format may set ``retry_after`` without the shared parser.
        pause = min(retry_after, MAX_RETRY_AFTER) if retry_after is not None else DEFAULT_PAUSE
        if pause >= LONG_PAUSE:
            log.warning(
                "connector %s paused for %.0f s: the endpoint asked to wait (Retry-After)",
                self.name or "?",
                pause,
            )
        self.paused_until = max(self.paused_until, self._clock() + pause)
        self._fleet_hold = max(pause, self._fleet_hold or 0.0)

    def _speed_up(self) -> None:
        if self.limit >= self.max_limit and self.rate_scale >= 1.0:
            return
        self._successes += 1
        if self._successes >= min(self.limit, 16):
            self._successes = 0
            self.limit = min(self.max_limit, self.limit + 1)
            self.rate_scale = min(1.0, self.rate_scale * 1.25)

    def _open(self, *, doubling: bool) -> None:
        if doubling:
            self._cooldown = min(MAX_COOLDOWN, self._cooldown * 2)
        self._tripped = True
        self.paused_until = max(self.paused_until, self._clock() + self._cooldown)
        self._fleet_hold = max(self._cooldown, self._fleet_hold or 0.0)

    def snapshot(self) -> GateSnapshot:
        circuit = "closed"
        if self._tripped:
            circuit = "open" if self._clock() < self.paused_until else "half-open"
        return GateSnapshot(self.limit, self.in_flight, self.paused_until, circuit, self.rate_scale)


def _throttled(result: AttemptResult) -> bool:
    """The endpoint asked us to slow down: 429, or any answer with ``Retry-After``."""
    return result.status_code == 429 or (
        result.outcome is Outcome.RETRY and result.retry_after is not None
    )


def _endpoint_down(result: AttemptResult) -> bool:
    """The answer says the endpoint itself is not working, not that this message is bad."""
    if result.outcome is not Outcome.RETRY or result.status_code == 429:
        return False
    return result.status_code is None or result.status_code >= 500
