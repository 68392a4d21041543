"""Coalescing: a later change to an appointment replaces earlier ones not yet sent.

Run inside the transaction that inserts the new delivery, for connectors whose
``coalesce`` is on (docs/delivery.md, "Coalescing", has the table):

- every earlier pending **update** of the same (connector, appointment) that is
  not in flight is ``superseded`` by a later update or delete: the later one
  carries the whole, newer appointment;
- a **delete** that follows a **create that never left** (no attempt made and
  not leased) supersedes the create, the updates after it and itself: the back
  office never heard of the appointment, so it hears nothing;
- a create that was attempted, or is in flight, is kept, and so is the delete
  after it: the back office may have the record, so it must hear of the delete.

A delivery in flight (leased, lease not expired) is never touched; its worker
decides its fate.  On PostgreSQL the queue's rows are locked (``FOR UPDATE``)
first, so a worker claiming the head at the same moment is waited for, never
overtaken.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select, update

from ._schema import PENDING, deliveries

__all__ = ["coalesce"]


def coalesce(conn: Any, seq: int, delivery_id: str, action: str, now: float) -> list[int]:
    """Supersede what the new delivery ``seq`` replaces; returns the seqs superseded."""
    if action == "create":
        return []
    new = conn.execute(
        select(deliveries.c.connector_id, deliveries.c.appointment_key).where(
            deliveries.c.seq == seq
        )
    ).one()
    earlier = conn.execute(
        select(
            deliveries.c.seq,
            deliveries.c.action,
            deliveries.c.attempts,
            deliveries.c.lease_owner,
            deliveries.c.lease_expires_at,
        )
        .where(
            deliveries.c.connector_id == new.connector_id,
            deliveries.c.appointment_key == new.appointment_key,
            deliveries.c.status == PENDING,
            deliveries.c.seq < seq,
        )
        .order_by(deliveries.c.seq)
        .with_for_update()
    ).all()

    def idle(row: Any) -> bool:
        return row.lease_owner is None or row.lease_expires_at < now

    replaced = [r.seq for r in earlier if r.action == "update" and idle(r)]
    if action == "delete":
        creates = [r for r in earlier if r.action == "create"]
        if creates and creates[-1].attempts == 0 and creates[-1].lease_owner is None:
            first = creates[-1].seq
            replaced = [r.seq for r in earlier if r.seq >= first and idle(r)]
            conn.execute(
                update(deliveries)
                .where(deliveries.c.seq == seq)
                .values(
                    status="superseded",
                    last_error="superseded: the create it follows was never sent",
                    updated_at=now,
                )
            )
            replaced.append(seq)
    if not replaced:
        return []
    conn.execute(
        update(deliveries)
        .where(
            deliveries.c.seq.in_(replaced),
            deliveries.c.status == PENDING,
            deliveries.c.seq != seq,
            or_(
                deliveries.c.lease_owner.is_(None),
                and_(
                    deliveries.c.lease_expires_at.is_not(None), deliveries.c.lease_expires_at < now
                ),
            ),
        )
        .values(status="superseded", last_error=f"superseded by {delivery_id}", updated_at=now)
    )
    return replaced
