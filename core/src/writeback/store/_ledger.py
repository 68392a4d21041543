"""Reading the outbox: listings, one delivery's history, statistics, and replay."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select, true, update

from .._errors import DeliveryNotFoundError
from ._retention import ENDED, PruneResult, prune, pruned_counts
from ._schema import attempts, connectors, deliveries
from ._statements import db_now

__all__ = ["STATUSES", "AttemptRecord", "ConnectorStats", "DeliveryLedger", "DeliveryStats"]

#: Every status a delivery can have; the ledger balances over these (docs/delivery.md,
#: "Nothing is lost").
STATUSES = ("pending", "delivered", "dead", "superseded")


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt as recorded."""

    n: int
    started_at: float
    duration_ms: float
    status_code: int | None
    outcome: str
    error: str | None
    #: The attempt's stable ``WB-…`` code; ``None`` when delivered (and for
    #: attempts recorded before codes were, whose error text had none).
    code: str | None = None


@dataclass
class ConnectorStats:
    """One connector's deliveries by status."""

    connector: str
    counts: dict[str, int] = field(default_factory=dict)
    #: Seconds since the oldest pending delivery was submitted; None: nothing pending.
    oldest_pending_age: float | None = None
    #: Ended deliveries that retention removed (``deliveries prune``), by the status
    #: they had: still counted as submitted.
    pruned_by_status: dict[str, int] = field(default_factory=dict)
    #: The connector is paused (``connectors pause``): its deliveries wait.
    paused: bool = False
    paused_reason: str | None = None

    @property
    def pruned(self) -> int:
        """Every delivery retention removed."""
        return sum(self.pruned_by_status.values())

    @property
    def submitted(self) -> int:
        return sum(self.counts.values()) + self.pruned

    @property
    def balanced(self) -> bool:
        """submitted = pending + delivered + dead + superseded + pruned: no delivery in
        another state, and none pruned that had not ended."""
        kept = sum(self.counts.get(s, 0) for s in STATUSES)
        pruned = sum(self.pruned_by_status.get(s, 0) for s in ENDED)
        return self.submitted == kept + pruned


@dataclass
class DeliveryStats:
    """``writeback deliveries stats``: per connector, and the whole outbox."""

    connectors: list[ConnectorStats]
    #: Attempt records in the store (more than deliveries when some were retried).
    attempts: int = 0

    @property
    def totals(self) -> ConnectorStats:
        total = ConnectorStats("(all)")
        for entry in self.connectors:
            for status, count in entry.counts.items():
                total.counts[status] = total.counts.get(status, 0) + count
            for status, count in entry.pruned_by_status.items():
                total.pruned_by_status[status] = total.pruned_by_status.get(status, 0) + count
            if entry.oldest_pending_age is not None:
                total.oldest_pending_age = max(
                    total.oldest_pending_age or 0.0, entry.oldest_pending_age
                )
        return total


class DeliveryLedger:
    """Read and replay deliveries; the :class:`~writeback.store.Outbox` writes them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def list(
        self,
        *,
        status: str | None = None,
        connector: str | None = None,
        ids: Sequence[str] | None = None,
        limit: int | None = None,
        after: int | None = None,
    ) -> list[Any]:
        """Deliveries in submission order; ``after``: only those after that ``seq``
        (a page of a listing, ``_pages``)."""
        query = select(deliveries).order_by(deliveries.c.seq)
        if after is not None:
            query = query.where(deliveries.c.seq > after)
        if status:
            query = query.where(deliveries.c.status == status)
        if connector:
            query = query.where(deliveries.c.connector_name == connector)
        if ids is not None:
            query = query.where(deliveries.c.id.in_(list(ids)))
        if limit:
            query = query.limit(limit)
        with self._engine.begin() as conn:
            return list(conn.execute(query).all())

    def get(self, delivery_id: str) -> tuple[Any, list[AttemptRecord]]:
        with self._engine.begin() as conn:
            row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()
            if row is None:
                raise DeliveryNotFoundError(
                    f"no delivery with id {delivery_id!r}; 'writeback deliveries list' shows them."
                )
            history = conn.execute(
                select(attempts).where(attempts.c.delivery_seq == row.seq).order_by(attempts.c.n)
            ).all()
        return row, [
            AttemptRecord(
                h.n, h.started_at, h.duration_ms, h.status_code, h.outcome, h.error, h.code
            )
            for h in history
        ]

    def counts(self) -> dict[str, int]:
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
            ).all()
        return {status: count for status, count in rows}

    def retry(
        self,
        delivery_ids: Sequence[str] = (),
        *,
        all_dead: bool = False,
        connector: str | None = None,
        since: float | None = None,
    ) -> list[str]:
        """Re-queue deliveries (same id); their history continues, their schedule restarts.

        Either ``delivery_ids`` (dead or delivered ones: a replay), or a filter
        over dead deliveries: ``all_dead``, ``connector`` (by name) and/or
        ``since`` (created at or after, unix seconds).

        :raises DeliveryNotFoundError: for an unknown id, or a delivery of a removed
            connector (nothing is re-queued then).
        """
        by_filter = all_dead or connector is not None or since is not None
        with self._engine.begin() as conn:
            query = select(deliveries.c.id, deliveries.c.status, deliveries.c.connector_id)
            if by_filter:
                query = query.where(deliveries.c.status == "dead")
                if connector is not None:
                    query = query.where(deliveries.c.connector_name == connector)
                if since is not None:
                    query = query.where(deliveries.c.created_at >= since)
            else:
                query = query.where(deliveries.c.id.in_(list(delivery_ids)))
            rows = conn.execute(query).all()
            found = {r.id: r.status for r in rows}
            missing = [d for d in delivery_ids if d not in found]
            if missing:
                raise DeliveryNotFoundError(
                    f"no delivery with id {missing[0]!r}; nothing was re-queued."
                )
            orphans = [r.id for r in rows if r.connector_id is None]
            if orphans and not by_filter:
                raise DeliveryNotFoundError(
                    f"delivery {orphans[0]!r} belongs to a removed connector; "
                    "nothing was re-queued."
                )
            requeue = [
                r.id
                for r in rows
                if r.status in ("dead", "delivered") and r.connector_id is not None
            ]
            if requeue:
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_(requeue))
                    .values(
                        status="pending",
                        replayed_after=deliveries.c.attempts,
                        # Due now by the clock the workers compare with (``db_now``).
                        next_attempt_at=db_now(),
                        lease_owner=None,
                        lease_expires_at=None,
                        updated_at=db_now(),
                    )
                )
        return requeue

    def stats(self) -> DeliveryStats:
        """Counts by status per connector, the oldest pending age, and the ledger check."""
        with self._engine.begin() as conn:
            # Ages by the clock the times were written on (``db_now``).
            now = conn.execute(select(db_now()), {"now": time.time()}).scalar_one()
            rows = conn.execute(
                select(
                    deliveries.c.connector_name,
                    deliveries.c.status,
                    func.count(),
                    func.min(deliveries.c.created_at),
                ).group_by(deliveries.c.connector_name, deliveries.c.status)
            ).all()
            recorded = conn.execute(select(func.count()).select_from(attempts)).scalar_one()
            pruned = pruned_counts(conn)
            pauses = conn.execute(
                select(connectors.c.name, connectors.c.paused_reason).where(
                    connectors.c.paused == true()
                )
            ).all()
        per: dict[str, ConnectorStats] = {}
        for name, status, count, oldest in rows:
            entry = per.setdefault(name, ConnectorStats(name))
            entry.counts[status] = entry.counts.get(status, 0) + count
            if status == "pending":
                entry.oldest_pending_age = now - oldest
        for (name, status), count in pruned.items():
            per.setdefault(name, ConnectorStats(name)).pruned_by_status[status] = count
        for name, reason in pauses:
            # A paused connector is listed even with no deliveries: it is news.
            entry = per.setdefault(name, ConnectorStats(name))
            entry.paused, entry.paused_reason = True, reason
        return DeliveryStats(sorted(per.values(), key=lambda c: c.connector), recorded)

    def prune(
        self, older_than: float, statuses: Collection[str] = ENDED, **options: Any
    ) -> PruneResult:
        """Delete ended deliveries last updated more than ``older_than`` seconds ago,
        with their attempts and the events no delivery refers to any more; never a
        pending one.  In batches, each its own transaction (``_retention``)."""
        return prune(self._engine, older_than, statuses, **options)
