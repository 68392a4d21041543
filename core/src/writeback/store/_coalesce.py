"""Coalescing: a later change to an appointment replaces earlier ones not yet sent.

Run inside the transaction that inserts the new deliveries, for connectors whose
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
decides its fate.  On PostgreSQL the queues' rows are locked (``FOR UPDATE``)
first, so a worker claiming the head at the same moment is waited for, never
overtaken.

A batch of new deliveries is coalesced in one pass: the pending rows of every
queue it touches are read once, the rules above are applied to each new
delivery in ``seq`` order (what coalescing them one at a time, as each was
inserted, would do: a delivery's rules look only at deliveries before it in
its queue), and what they superseded is written in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update

from ._schema import PENDING, deliveries

__all__ = ["NewDelivery", "coalesce"]

#: Keys per ``IN (…)``: well under SQLite's limit of bound parameters.
_KEYS_PER_QUERY = 500


@dataclass(frozen=True)
class NewDelivery:
    """A delivery just inserted, whose connector coalesces."""

    seq: int
    id: str
    action: str
    connector_id: int
    appointment_key: str


@dataclass
class _Row:
    seq: int
    action: str
    attempts: int
    lease_owner: str | None
    lease_expires_at: float | None
    superseded_by: str | None = None

    def idle(self, now: float) -> bool:
        """Not in flight: never leased, or its lease has run out."""
        return self.lease_owner is None or (
            self.lease_expires_at is not None and self.lease_expires_at < now
        )


def coalesce(conn: Any, new: Sequence[NewDelivery], now: float) -> set[int]:
    """Supersede what the ``new`` deliveries replace; returns the seqs superseded."""
    changing = sorted((d for d in new if d.action != "create"), key=lambda d: d.seq)
    if not changing:
        return set()
    queues = _pending_queues(conn, changing)
    for delivery in changing:
        queue = queues[(delivery.connector_id, delivery.appointment_key)]
        _apply(delivery, queue, now)
    superseded = [
        {"b_seq": row.seq, "b_error": row.superseded_by}
        for queue in queues.values()
        for row in queue
        if row.superseded_by is not None
    ]
    if superseded:
        conn.execute(_SUPERSEDE, [{**values, "b_now": now} for values in superseded])
    return {values["b_seq"] for values in superseded}


def _apply(new: NewDelivery, queue: list[_Row], now: float) -> None:
    """The rules, for one new delivery, on its queue's rows as they now stand."""
    earlier = [r for r in queue if r.seq < new.seq and r.superseded_by is None]
    replaced = [r for r in earlier if r.action == "update" and r.idle(now)]
    if new.action == "delete":
        creates = [r for r in earlier if r.action == "create"]
        if creates and creates[-1].attempts == 0 and creates[-1].lease_owner is None:
            first = creates[-1].seq
            replaced = [r for r in earlier if r.seq >= first and r.idle(now)]
            itself = next(r for r in queue if r.seq == new.seq)
            itself.superseded_by = "superseded: the create it follows was never sent"
    for row in replaced:
        row.superseded_by = f"superseded by {new.id}"


def _pending_queues(
    conn: Any, changing: Sequence[NewDelivery]
) -> dict[tuple[int, str], list[_Row]]:
    """The pending rows of every queue ``changing`` touches, by queue, in seq order
    (up to the last new delivery: later ones are not this batch's to judge)."""
    wanted = {(d.connector_id, d.appointment_key) for d in changing}
    last = max(d.seq for d in changing)
    connector_ids = sorted({c for c, _ in wanted})
    keys = sorted({k for _, k in wanted})
    queues: dict[tuple[int, str], list[_Row]] = {pair: [] for pair in wanted}
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        rows = conn.execute(
            select(
                deliveries.c.seq,
                deliveries.c.connector_id,
                deliveries.c.appointment_key,
                deliveries.c.action,
                deliveries.c.attempts,
                deliveries.c.lease_owner,
                deliveries.c.lease_expires_at,
            )
            .where(
                deliveries.c.connector_id.in_(connector_ids),
                deliveries.c.appointment_key.in_(keys[start : start + _KEYS_PER_QUERY]),
                deliveries.c.status == PENDING,
                deliveries.c.seq <= last,
            )
            .order_by(deliveries.c.seq)
            .with_for_update()
        ).all()
        for r in rows:
            queue = queues.get((r.connector_id, r.appointment_key))
            if queue is not None:
                queue.append(_Row(r.seq, r.action, r.attempts, r.lease_owner, r.lease_expires_at))
    for queue in queues.values():
        queue.sort(key=lambda row: row.seq)
    return queues


#: One superseded row; run once per row (executemany).  The guard repeats the
#: rules' own: pending, and not in flight (a leased delivery is its worker's).
_SUPERSEDE = (
    update(deliveries)
    .where(
        deliveries.c.seq == bindparam("b_seq"),
        deliveries.c.status == PENDING,
        or_(
            deliveries.c.lease_owner.is_(None),
            and_(
                deliveries.c.lease_expires_at.is_not(None),
                deliveries.c.lease_expires_at < bindparam("b_now"),
            ),
        ),
    )
    .values(status="superseded", last_error=bindparam("b_error"), updated_at=bindparam("b_now"))
)
