"""Writing submitted events and their deliveries: a batch per transaction.

A batch costs a handful of statements whatever its size: one look for the ids
already stored, one multi-row insert of the events, one of the deliveries, and
coalescing for the deliveries that ask for it.  One commit per batch is what
makes batched submission fast: on SQLite each commit waits for the disk
(``synchronous=FULL``), on PostgreSQL for the WAL's flush.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from .._event import AppointmentEvent
from ._coalesce import NewDelivery, coalesce
from ._schema import deliveries, events
from ._statements import db_now

__all__ = ["Made", "Target", "TargetsFor", "new_delivery_id", "write_batch"]

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
class Target:
    """A connector an event is delivered to."""

    connector_id: int
    name: str
    #: Replace still-pending earlier changes to the same appointment
    #: (docs/delivery.md, "Coalescing").
    coalesce: bool = False


#: What one event became: ``([(delivery id, connector name)], created)``.
Made = tuple[list[tuple[str, str]], bool]

#: Given the submit's connection, the targets of each event of the batch.
TargetsFor = Callable[[Connection], Sequence[Sequence[Target]]]


def write_batch(
    conn: Connection, batch: Sequence[AppointmentEvent], per_event: Sequence[Sequence[Target]]
) -> list[Made]:
    """Insert the events not yet stored and their deliveries, in ``conn``'s transaction.

    An event id already stored returns its stored deliveries; one met earlier in
    the batch returns what that first one made; both with ``created=False``.
    """
    known = _stored_deliveries(conn, list({event.id: None for event in batch}))
    # The database's clock (``db_now``): the deliveries are due from then, and
    # coalescing tells a lease still running by it.
    now = conn.execute(select(db_now())).scalar_one()
    made_here: dict[str, list[tuple[str, str]]] = {}
    event_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    to_coalesce: list[dict[str, Any]] = []
    results: list[Made] = []
    for event, targets in zip(batch, per_event, strict=True):
        if event.id in known:
            results.append((list(known[event.id]), False))
            continue
        if event.id in made_here:
            results.append((list(made_here[event.id]), False))
            continue
        event_rows.append(
            {
                "id": event.id,
                "action": event.action,
                "source_app": event.source_app,
                "appointment_key": event.appointment_key,
                "payload": json.dumps(event.to_record()),
                "submitted_at": now,
            }
        )
        made = made_here[event.id] = []
        for target in targets:
            delivery_id = new_delivery_id()
            row = _delivery_row(delivery_id, event, target, now)
            delivery_rows.append(row)
            if target.coalesce:
                to_coalesce.append(row)
            made.append((delivery_id, target.name))
        results.append((list(made), True))
    if event_rows:
        conn.execute(insert(events), event_rows)
    if delivery_rows:
        _insert_deliveries(conn, delivery_rows, to_coalesce, now)
    return results


def _delivery_row(
    delivery_id: str, event: AppointmentEvent, target: Target, now: float
) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "event_id": event.id,
        "connector_id": target.connector_id,
        "connector_name": target.name,
        "action": event.action,
        "appointment_key": event.appointment_key,
        "status": "pending",
        "attempts": 0,
        "replayed_after": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _insert_deliveries(
    conn: Connection,
    rows: list[dict[str, Any]],
    to_coalesce: list[dict[str, Any]],
    now: float,
) -> None:
    """Insert the deliveries, in the batch's order, then coalesce those that ask.

    Each row's ``seq`` follows the order of ``rows`` (``sort_by_parameter_order``),
    so the changes to one appointment queue in the order they were submitted.
    """
    if not to_coalesce:
        conn.execute(insert(deliveries), rows)
        return
    inserted = conn.execute(
        insert(deliveries).returning(
            deliveries.c.id, deliveries.c.seq, sort_by_parameter_order=True
        ),
        rows,
    ).all()
    seq_of = {row.id: row.seq for row in inserted}
    new = [
        NewDelivery(seq_of[r["id"]], r["id"], r["action"], r["connector_id"], r["appointment_key"])
        for r in to_coalesce
    ]
    coalesce(conn, new, now)


def _stored_deliveries(conn: Connection, ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """The deliveries of those of ``ids`` already stored (an event with none: ``[]``)."""
    known: dict[str, list[tuple[str, str]]] = {}
    for start in range(0, len(ids), _IDS_PER_QUERY):
        chunk = ids[start : start + _IDS_PER_QUERY]
        stored = list(conn.execute(select(events.c.id).where(events.c.id.in_(chunk))).scalars())
        if not stored:
            continue
        for event_id in stored:
            known[event_id] = []
        rows = conn.execute(
            select(deliveries.c.event_id, deliveries.c.id, deliveries.c.connector_name)
            .where(deliveries.c.event_id.in_(stored))
            .order_by(deliveries.c.seq)
        ).all()
        for row in rows:
            known[row.event_id].append((row.id, row.connector_name))
    return known


#: Ids per ``IN (…)``: well under SQLite's limit of bound parameters.
_IDS_PER_QUERY = 500
