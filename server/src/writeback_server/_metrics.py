"""Prometheus metrics: the process's own counters, and gauges read from the store.

The counters live in prometheus-client's default registry, so that any
endpoint serving it shows them: the service's ``/metrics``, and
``writeback worker --metrics-port`` (which serves that registry without
knowing this module).  They count what this process did: attempts (told by the
``writeback_attempt_finished`` observer) and events submitted over HTTP.
The gauges describe the store, shared by every process, and are read when
``/metrics`` is scraped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from writeback.plugin import AttemptFinished

__all__ = [
    "ATTEMPTS",
    "ATTEMPT_SECONDS",
    "EVENTS_SUBMITTED",
    "StoreCollector",
    "count_attempt",
    "exposition",
]

EVENTS_SUBMITTED = Counter(
    "writeback_events_submitted",
    "Events this process accepted that were new (a known event id is not counted).",
)
ATTEMPTS = Counter(
    "writeback_attempts",
    "Delivery attempts this process made, by connector and outcome.",
    ["connector", "outcome"],
)
ATTEMPT_SECONDS = Histogram(
    "writeback_attempt_duration_seconds",
    "How long this process's delivery attempts took, by connector.",
    ["connector"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def count_attempt(record: AttemptFinished) -> None:
    """The observer: one attempt that ended (runs on the worker's loop, so stays cheap)."""
    ATTEMPTS.labels(record.connector, record.outcome).inc()
    ATTEMPT_SECONDS.labels(record.connector).observe(max(record.duration_ms, 0.0) / 1000.0)


class StoreCollector(Collector):
    """Gauges from the store, read at each scrape (blocking: scrape off the event loop).

    :param read: returns ``(stats, paused, token_counts)``: the host's delivery
        stats, ``{connector: paused}``, and ``{connector: tokens obtained}``.
    """

    def __init__(self, read: Callable[[], tuple[Any, dict[str, bool], dict[str, int]]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Any]:
        stats, paused, tokens = self._read()
        deliveries = GaugeMetricFamily(
            "writeback_deliveries",
            "Deliveries in the store, by connector and status.",
            labels=["connector", "status"],
        )
        oldest = GaugeMetricFamily(
            "writeback_oldest_pending_seconds",
            "Age of the oldest pending delivery, by connector (0 when none is pending).",
            labels=["connector"],
        )
        now_paused = GaugeMetricFamily(
            "writeback_connector_paused",
            "1 while the connector is paused, else 0.",
            labels=["connector"],
        )
        token_requests = CounterMetricFamily(
            "writeback_token_requests",
            "Access tokens obtained for the connector, by every process sharing the store.",
            labels=["connector"],
        )
        for entry in stats.connectors:
            for status in ("pending", "delivered", "dead", "superseded"):
                deliveries.add_metric([entry.connector, status], entry.counts.get(status, 0))
            oldest.add_metric([entry.connector], entry.oldest_pending_age or 0.0)
        for name, flag in sorted(paused.items()):
            now_paused.add_metric([name], 1.0 if flag else 0.0)
        for name, count in sorted(tokens.items()):
            token_requests.add_metric([name], count)
        yield from (deliveries, oldest, now_paused, token_requests)


def exposition(store_registry: CollectorRegistry | None) -> bytes:
    """The Prometheus text: this process's counters, then the store's gauges."""
    text = generate_latest(REGISTRY)
    if store_registry is not None:
        text += generate_latest(store_registry)
    return text
