"""The per-connector gate: concurrency, rate, adaptive back-off and the circuit."""

from __future__ import annotations

import math

import pytest
from writeback._models import Throttle
from writeback._throttle import FIRST_COOLDOWN, TRIP_AFTER, ConnectorGate
from writeback.plugin import AttemptResult, Outcome

OK = AttemptResult(Outcome.DELIVERED, 200)
DOWN = AttemptResult(Outcome.RETRY, None, "connection refused")
BUSY = AttemptResult(Outcome.RETRY, 429, "HTTP 429", retry_after=2.0)
BAD = AttemptResult(Outcome.FAILED, 400, "HTTP 400")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def gate(clock, **throttle) -> ConnectorGate:
    return ConnectorGate(Throttle(**throttle), clock=clock)


def take(g: ConnectorGate, n: int) -> None:
    for _ in range(n):
        assert g.free_slots() > 0
        g.acquire()


def test_max_concurrency_caps_slots(clock):
    g = gate(clock, max_concurrency=3)
    take(g, 3)
    assert g.free_slots() == 0 and g.ready_in() == math.inf
    g.release(OK)
    assert g.free_slots() == 1


def test_rate_spends_tokens_and_refills(clock):
    g = gate(clock, rate="2/1s")
    take(g, 2)
    assert g.free_slots() == 0 and g.ready_in() == pytest.approx(0.5)
    for _ in range(2):
        g.release(OK)
    clock.now += 0.5
    assert g.free_slots() == 1


def test_429_halves_concurrency_pauses_and_recovers(clock):
    g = gate(clock, max_concurrency=8)
    take(g, 8)
    g.release(BUSY)
    assert g.limit == 4 and g.free_slots() == 0
    assert g.ready_in() == pytest.approx(2.0)
    clock.now += 2.0
    for _ in range(7):
        g.release(OK)
    # Additive increase: four successes in a row at limit 4 earn a fifth slot.
    assert g.limit == 5 and g.free_slots() == 5
    for _ in range(100):
        g.acquire()
        g.release(OK)
    assert g.limit == 8


def test_retry_after_on_503_also_pauses_the_connector(clock):
    g = gate(clock)
    take(g, 1)
    g.release(AttemptResult(Outcome.RETRY, 503, "busy", retry_after=5))
    assert g.free_slots() == 0 and g.ready_in() == pytest.approx(5)


def test_circuit_opens_after_failures_in_a_row_and_probes_one_at_a_time(clock):
    g = gate(clock, max_concurrency=10)
    for _ in range(TRIP_AFTER):
        take(g, 1)
        g.release(DOWN)
    assert g.snapshot().circuit == "open" and g.free_slots() == 0
    clock.now += FIRST_COOLDOWN
    assert g.free_slots() == 1  # half-open: one probe
    g.acquire()
    assert g.free_slots() == 0 and g.snapshot().circuit == "half-open"
    g.release(DOWN)  # the probe failed: open again, twice as long
    assert g.snapshot().circuit == "open"
    clock.now += FIRST_COOLDOWN
    assert g.free_slots() == 0
    clock.now += FIRST_COOLDOWN
    take(g, 1)
    g.release(OK)
    assert g.snapshot().circuit == "closed" and g.free_slots() == 10


def test_a_refused_message_is_not_an_endpoint_failure(clock):
    g = gate(clock)
    for _ in range(TRIP_AFTER * 2):
        take(g, 1)
        g.release(BAD)
    assert g.snapshot().circuit == "closed"


def test_successes_reset_the_failure_count(clock):
    g = gate(clock)
    for n in range(TRIP_AFTER * 3):
        take(g, 1)
        g.release(DOWN if n % TRIP_AFTER else OK)
    assert g.snapshot().circuit == "closed"


def test_a_claim_given_back_unsent_changes_nothing(clock):
    g = gate(clock, max_concurrency=2)
    take(g, 2)
    g.release(None)
    assert g.free_slots() == 1 and g.limit == 2
