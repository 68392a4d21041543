"""The host's entry point: ``Dispatcher.open(url)``, then submit and run workers.

from writeback import Dispatcher
with Dispatcher.open("sqlite:///writeback.db") as wb:
    wb.connectors.add({"name": "hook", "type": "webhook", ...})
    ids = wb.submit({"action": "create", "appointment": {...}})
    wb.run_worker(until_idle=True)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ._errors import InvalidEventError, WritebackError
from ._event import AppointmentEvent
from ._interfaces import ProbeReport
from ._pipeline import Pipeline
from ._problems import problems_from, shown
from ._registry import PluginRegistry
from ._secrets import secret_safe_logger
from ._validation import ValidatedConnector, validate_connector
from ._worker import Worker, WorkerStats
from .store import (
    DB_ENV,
    DEFAULT_DB_URL,
    AttemptRecord,
    DeliveryStats,
    Store,
    StoredConnector,
    Target,
)
from .store._retention import ENDED, PruneResult

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["SUBMIT_BATCH_SIZE", "Dispatcher", "SubmitResult", "parse_event", "parse_events"]

log = secret_safe_logger("writeback.dispatch")

#: Events per transaction in ``submit_many`` (and ``writeback dispatch``): past a
#: few hundred a larger batch gains little and holds SQLite's write lock longer
#: (docs/benchmarks.md, "Submitting events").
SUBMIT_BATCH_SIZE = 500


def parse_event(raw: Any, *, index: int | None = None) -> AppointmentEvent:
    """Validate one event object.

    :raises InvalidEventError: one sentence per problem, naming the field.
    """
    if isinstance(raw, AppointmentEvent):
        return raw
    if not isinstance(raw, Mapping):
        raise InvalidEventError(
            [f"an event must be an object with action and appointment; got {shown(raw)}."],
            index=index,
        )
    try:
        return AppointmentEvent.model_validate(dict(raw))
    except ValidationError as exc:
        raise InvalidEventError(problems_from(exc, model=AppointmentEvent), index=index) from None


def parse_events(raws: Iterable[Any]) -> list[AppointmentEvent]:
    """Validate a batch of events: each on its own, then their ids together.

    An event id given twice in one batch is refused, naming both positions:
    the second would be taken for a resubmission of the first and dropped,
    although it may say something else.

    :raises InvalidEventError: for the first bad event, or the first reused id.
    """
    events = [parse_event(raw, index=i) for i, raw in enumerate(raws)]
    first_at: dict[str, int] = {}
    for index, event in enumerate(events):
        earlier = first_at.setdefault(event.id, index)
        if earlier != index:
            raise InvalidEventError(
                [
                    f"events #{earlier + 1} and #{index + 1} both have id {shown(event.id)}; "
                    "give each event of a batch its own id, or none to have one made."
                ]
            )
    return events


@dataclass(frozen=True)
class SubmitResult:
    """What ``submit`` did with one event."""

    event_id: str
    #: ``(delivery id, connector name)`` per matching connector.
    deliveries: tuple[tuple[str, str], ...]
    #: False when the event id was known: nothing new was created.
    created: bool

    def to_dict(self) -> dict[str, Any]:
        """``{"event_id", "deliveries": [{"id", "connector"}], "created"}``: an item of
        ``POST /v1/events``' answer; ``dispatch --json`` prints it without ``created``,
        so that resubmitting a file prints the same."""
        return {
            "event_id": self.event_id,
            "deliveries": [{"id": d, "connector": c} for d, c in self.deliveries],
            "created": self.created,
        }


class Connectors:
    """``Dispatcher.connectors``: validate, add, read, enable, disable, pause, resume,
    remove, test."""

    def __init__(self, store: Store, registry: PluginRegistry) -> None:
        self._store = store
        self._registry = registry

    def validate(self, raw: Any) -> ValidatedConnector:
        return validate_connector(raw, self._registry)

    def add(self, rows: Any, *, replace: bool = False) -> list[ValidatedConnector]:
        """Validate every row, then store them all in one transaction (or none)."""
        items = rows if isinstance(rows, list) else [rows]
        validated = [self.validate(row) for row in items]
        self._store.connectors.add(validated, replace=replace)
        return validated

    def get(self, name: str) -> StoredConnector:
        return self._store.connectors.get(name)

    def list(self) -> list[StoredConnector]:
        return self._store.connectors.list()

    def enable(self, name: str) -> None:
        self._store.connectors.set_enabled(name, True)

    def disable(self, name: str) -> None:
        self._store.connectors.set_enabled(name, False)

    def pause(self, name: str, reason: str | None = None) -> bool:
        """Stop sending this connector's deliveries; they stay pending and new events
        still queue for it.  :returns: whether it was paused already."""
        return self._store.connectors.set_paused(name, True, reason)

    def resume(self, name: str) -> bool:
        """Send this connector's deliveries again, in order.  :returns: whether it
        was paused."""
        was_paused = self._store.connectors.set_paused(name, False)
        if was_paused:
            # Its deliveries are claimable again: idle workers need not wait to poll.
            self._store.outbox.announce()
        return was_paused

    def remove(self, name: str) -> int:
        return self._store.connectors.remove(name)

    def load(self, name: str) -> ValidatedConnector:
        """The stored row, decrypted and validated against the installed plugins."""
        stored = self.get(name)
        return self.validate(self._store.connectors.opened_row(stored))

    def test(self, name: str) -> ProbeReport:
        """Reach the endpoint and authenticate, writing nothing to the back office."""
        connector = self.load(name)

        async def probe() -> ProbeReport:
            from ._errors import AttemptError
            from ._secrets import REDACTOR

            try:
                pipeline = Pipeline.build(connector, token_store=self._store.tokens)
            except AttemptError as exc:
                return ProbeReport(False, REDACTOR.redact(str(exc)) or "")
            try:
                return await pipeline.probe()
            finally:
                await pipeline.aclose()

        return asyncio.run(probe())


class Deliveries:
    """``Dispatcher.deliveries``: read and replay."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def list(self, *, status: str | None = None, connector: str | None = None) -> list[Any]:
        return self._store.outbox.list(status=status, connector=connector)

    def get(self, delivery_id: str) -> tuple[Any, list[AttemptRecord]]:
        return self._store.outbox.get(delivery_id)

    def retry(
        self,
        delivery_ids: Sequence[str] = (),
        *,
        all_dead: bool = False,
        connector: str | None = None,
        since: float | None = None,
    ) -> list[str]:
        """Re-queue the given deliveries, or the dead ones matching the filters."""
        return self._store.outbox.retry(
            delivery_ids, all_dead=all_dead, connector=connector, since=since
        )

    def counts(self) -> dict[str, int]:
        return self._store.outbox.counts()

    def prune(self, older_than: float, statuses: Collection[str] = ENDED) -> PruneResult:
        """Delete ended deliveries last updated more than ``older_than`` seconds ago,
        their attempts and the events no delivery refers to any more; never a pending
        one.  ``stats()`` still counts them (``pruned``)."""
        return self._store.outbox.prune(older_than, statuses)

    def stats(self) -> DeliveryStats:
        """Counts by status per connector, oldest pending age, and the ledger check."""
        return self._store.outbox.stats()


class Dispatcher:
    """Connectors, the outbox and workers over one database."""

    def __init__(self, store: Store, registry: PluginRegistry) -> None:
        self.store = store
        self.registry = registry
        self.connectors = Connectors(store, registry)
        self.deliveries = Deliveries(store)

    @classmethod
    def open(
        cls, db_url: str | None = None, *, registry: PluginRegistry | None = None
    ) -> Dispatcher:
        """Open the store at ``db_url`` (else ``WRITEBACK_DB``, else ``sqlite:///writeback.db``)."""
        url = db_url or os.environ.get(DB_ENV) or DEFAULT_DB_URL
        return cls(Store.open(url), registry or PluginRegistry.load())

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    def submit(self, event: AppointmentEvent | Mapping[str, Any]) -> list[str]:
        """Write one delivery per matching connector; return their ids (durable on return)."""
        return [delivery_id for delivery_id, _ in self.submit_detailed(event).deliveries]

    def submit_detailed(self, event: AppointmentEvent | Mapping[str, Any]) -> SubmitResult:
        """Submit one event and say what became of it (durable on return)."""
        return self._submit_batch([parse_event(event)])[0]

    def submit_many(
        self, events: Iterable[Any], *, batch_size: int = SUBMIT_BATCH_SIZE
    ) -> list[SubmitResult]:
        """Validate every event first (none is written if one is bad or an id is given
        twice), then submit them ``batch_size`` to a transaction, in order.

        Each batch is durable once written; should one fail, the batches before
        it stay submitted (submitting them again creates nothing: their ids are known).
        """
        parsed = parse_events(events)
        step = max(1, batch_size)
        results: list[SubmitResult] = []
        for start in range(0, len(parsed), step):
            results += self._submit_batch(parsed[start : start + step])
        return results

    def _submit_batch(self, batch: Sequence[AppointmentEvent]) -> list[SubmitResult]:
        def targets_for(conn: Connection) -> list[list[Target]]:
            # Read in the transaction that writes the deliveries: a connector
            # removed meanwhile cannot be given one.
            enabled = self.store.connectors.enabled_for({e.source_app for e in batch}, conn)
            return [
                [
                    Target(c.id, c.name, self._coalesces(c))
                    for c in enabled.get(event.source_app, ())
                    if event.action in c.sealed_row.get("crud_types", ())
                ]
                for event in batch
            ]

        written = self.store.outbox.submit_many(batch, targets_for)
        results = []
        for event, (made, created) in zip(batch, written, strict=True):
            if created and not made:
                log.warning(
                    "event %s: no enabled connector for sourceApp %r and action %r",
                    event.id,
                    event.source_app,
                    event.action,
                )
            results.append(SubmitResult(event.id, tuple(made), created))
        return results

    def _coalesces(self, stored: StoredConnector) -> bool:
        """The row's ``coalesce``, else its type's default (off when the type is not installed:
        the delivery then goes dead naming the missing plugin, so nothing is lost by it)."""
        value = stored.sealed_row.get("coalesce")
        if value is not None:
            return bool(value)
        try:
            return self.registry.connector_type(stored.sealed_row["type"]).coalesce_default
        except WritebackError:
            return False

    def run_worker(
        self,
        *,
        until_idle: bool = True,
        concurrency: int = 8,
        on_progress: Callable[[WorkerStats], None] | None = None,
        **options: Any,
    ) -> WorkerStats:
        """Run a worker in this thread (``asyncio.run``) and return what it did."""
        worker = Worker(
            self.store, self.registry, concurrency=concurrency, on_progress=on_progress, **options
        )
        return asyncio.run(worker.run(until_idle=until_idle))
