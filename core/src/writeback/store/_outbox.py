"""The outbox: events in, deliveries claimed, attempts recorded.

A delivery is written in the same transaction as its event, before ``submit``
returns.  Workers claim with one ``UPDATE … WHERE seq IN (SELECT … FOR UPDATE
SKIP LOCKED)`` statement: atomic on SQLite, disjoint across workers on
PostgreSQL.  Only the earliest pending delivery of each (connector,
appointment) can be claimed, so changes to one appointment go out in order and
a later one waits while an earlier one waits for its retry.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from .._errors import DeliveryNotFoundError
from .._event import AppointmentEvent
from ._schema import attempts, deliveries, events

__all__ = ["AttemptRecord", "Claim", "Outbox", "new_delivery_id"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_delivery_id() -> str:
    """``dlv_`` + a ULID: unique, and sorts by creation time."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "dlv_" + "".join(reversed(chars))


@dataclass(frozen=True)
class Claim:
    """A delivery a worker holds the lease of."""

    seq: int
    id: str
    event_id: str
    connector_id: int | None
    connector_name: str
    action: str
    attempts: int
    event: dict[str, Any]
    #: Attempts made before the last replay; the retry schedule counts from here.
    replayed_after: int = 0


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt as recorded."""

    n: int
    started_at: float
    duration_ms: float
    status_code: int | None
    outcome: str
    error: str | None


class Outbox:
    """Deliveries and their attempts."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- submit ------------------------------------------------------------------

    def submit(
        self, event: AppointmentEvent, targets: Sequence[tuple[int, str]]
    ) -> tuple[list[tuple[str, str]], bool]:
        """Write the event and one delivery per ``(connector id, name)`` in one transaction.

        :returns: ``([(delivery id, connector name)], created)``; a known event id
            returns its existing deliveries and ``created=False``.
        """
        now = time.time()
        record = event.to_record()
        try:
            with self._engine.begin() as conn:
                if conn.execute(select(events.c.id).where(events.c.id == event.id)).first():
                    return self._existing(conn, event.id), False
                conn.execute(
                    insert(events).values(
                        id=event.id,
                        action=event.action,
                        source_app=event.source_app,
                        appointment_key=event.appointment_key,
                        payload=json.dumps(record),
                        submitted_at=now,
                    )
                )
                made = []
                for connector_id, name in targets:
                    delivery_id = new_delivery_id()
                    conn.execute(
                        insert(deliveries).values(
                            id=delivery_id,
                            event_id=event.id,
                            connector_id=connector_id,
                            connector_name=name,
                            action=event.action,
                            appointment_key=event.appointment_key,
                            status="pending",
                            attempts=0,
                            replayed_after=0,
                            next_attempt_at=now,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    made.append((delivery_id, name))
                return made, True
        except IntegrityError:
            # Another process submitted the same event id between our check and insert.
            with self._engine.begin() as conn:
                return self._existing(conn, event.id), False

    def _existing(self, conn: Any, event_id: str) -> list[tuple[str, str]]:
        rows = conn.execute(
            select(deliveries.c.id, deliveries.c.connector_name)
            .where(deliveries.c.event_id == event_id)
            .order_by(deliveries.c.seq)
        ).all()
        return [(r.id, r.connector_name) for r in rows]

    # -- claim and finish ----------------------------------------------------------

    def claim(self, owner: str, limit: int, *, lease_seconds: float) -> list[Claim]:
        """Lease up to ``limit`` due deliveries, earliest first, one per appointment queue."""
        if limit <= 0:
            return []
        now = time.time()
        earlier = aliased(deliveries)
        lease_free = or_(
            deliveries.c.lease_expires_at.is_(None), deliveries.c.lease_expires_at < now
        )
        due = (
            select(deliveries.c.seq)
            .where(
                deliveries.c.status == "pending",
                deliveries.c.next_attempt_at <= now,
                lease_free,
                ~exists().where(
                    earlier.c.connector_id == deliveries.c.connector_id,
                    earlier.c.appointment_key == deliveries.c.appointment_key,
                    earlier.c.status == "pending",
                    earlier.c.seq < deliveries.c.seq,
                ),
            )
            .order_by(deliveries.c.next_attempt_at, deliveries.c.seq)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._engine.begin() as conn:
            claimed = (
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.seq.in_(due.scalar_subquery()), lease_free)
                    .values(lease_owner=owner, lease_expires_at=now + lease_seconds)
                    .returning(deliveries.c.seq)
                )
                .scalars()
                .all()
            )
            if not claimed:
                return []
            rows = conn.execute(
                select(deliveries, events.c.payload)
                .join(events, events.c.id == deliveries.c.event_id)
                .where(deliveries.c.seq.in_(claimed))
                .order_by(deliveries.c.seq)
            ).all()
        return [
            Claim(
                seq=r.seq,
                id=r.id,
                event_id=r.event_id,
                connector_id=r.connector_id,
                connector_name=r.connector_name,
                action=r.action,
                attempts=r.attempts,
                event=json.loads(r.payload),
                replayed_after=r.replayed_after,
            )
            for r in rows
        ]

    def finish(
        self,
        claim: Claim,
        owner: str,
        attempt: AttemptRecord,
        *,
        status: str,
        next_attempt_at: float | None = None,
    ) -> bool:
        """Record an attempt and the delivery's new state in one transaction.

        :returns: False when the lease had passed to another worker meanwhile (the
            attempt is still recorded; the other worker's result decides the status).
        """
        now = time.time()
        with self._engine.begin() as conn:
            conn.execute(
                insert(attempts).values(
                    delivery_seq=claim.seq,
                    n=attempt.n,
                    started_at=attempt.started_at,
                    duration_ms=attempt.duration_ms,
                    status_code=attempt.status_code,
                    outcome=attempt.outcome,
                    error=attempt.error,
                )
            )
            result = conn.execute(
                update(deliveries)
                .where(deliveries.c.seq == claim.seq, deliveries.c.lease_owner == owner)
                .values(
                    status=status,
                    attempts=deliveries.c.attempts + 1,
                    next_attempt_at=next_attempt_at if next_attempt_at is not None else now,
                    lease_owner=None,
                    lease_expires_at=None,
                    last_error=attempt.error,
                    last_status_code=attempt.status_code,
                    updated_at=now,
                )
            )
        return result.rowcount == 1

    def release(self, claims: Iterable[Claim], owner: str) -> None:
        """Give leases back unused (worker shutting down)."""
        seqs = [c.seq for c in claims]
        if not seqs:
            return
        with self._engine.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.seq.in_(seqs), deliveries.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    def next_wake(self) -> float | None:
        """When the next pending delivery may become claimable; ``None``: nothing pending."""
        with self._engine.begin() as conn:
            return conn.execute(
                select(func.min(deliveries.c.next_attempt_at)).where(
                    deliveries.c.status == "pending"
                )
            ).scalar()

    # -- read and replay -----------------------------------------------------------

    def list(
        self,
        *,
        status: str | None = None,
        connector: str | None = None,
        ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[Any]:
        query = select(deliveries).order_by(deliveries.c.seq)
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
            AttemptRecord(h.n, h.started_at, h.duration_ms, h.status_code, h.outcome, h.error)
            for h in history
        ]

    def counts(self) -> dict[str, int]:
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
            ).all()
        return {status: count for status, count in rows}

    def retry(self, delivery_ids: Sequence[str] = (), *, all_dead: bool = False) -> list[str]:
        """Re-queue dead deliveries (same id); their history continues.

        :raises DeliveryNotFoundError: for an unknown id (nothing is re-queued then).
        """
        now = time.time()
        with self._engine.begin() as conn:
            query = select(deliveries.c.id, deliveries.c.status, deliveries.c.connector_id)
            if all_dead:
                query = query.where(deliveries.c.status == "dead")
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
            if orphans and not all_dead:
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
                        next_attempt_at=now,
                        lease_owner=None,
                        lease_expires_at=None,
                        updated_at=now,
                    )
                )
        return requeue
