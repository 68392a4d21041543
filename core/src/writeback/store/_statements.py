"""The statements a busy worker runs for every batch, built once.

Constructing SQLAlchemy expressions anew for each call cost more than running
them on SQLite; these take their values as bound parameters instead, and
``_driver.DriverStatements`` runs them on the driver's connection.
"""

from __future__ import annotations

from sqlalchemy import Float, Integer, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from ._schema import PENDING, attempts, deliveries, events

__all__ = ["DUE", "INSERT_ATTEMPT", "LEASE", "NEXT_WAKE", "OWNED", "RECORD_STATE"]

_earlier = aliased(deliveries)
_lease_free = or_(
    deliveries.c.lease_expires_at.is_(None),
    deliveries.c.lease_expires_at < bindparam("now", type_=Float),
)
# Not one of the connectors in ``skip`` (closed by their throttle or circuit).
# NULL (a removed connector) is not "in" anything, but NOT IN would drop it too.
_not_skipped = or_(
    deliveries.c.connector_id.is_(None),
    deliveries.c.connector_id.not_in(bindparam("skip", expanding=True)),
)
# The head of each queue: the earliest pending delivery of its (connector,
# appointment).  A correlated scalar subquery, not NOT EXISTS: PostgreSQL runs it
# as one probe of ix_deliveries_pending_queue per candidate whatever its
# statistics say, where the anti-join it chose for a new, un-ANALYZEd table
# compared every candidate with every pending row.
_queue_head = (
    select(func.min(_earlier.c.seq))
    .where(
        _earlier.c.connector_id == deliveries.c.connector_id,
        _earlier.c.appointment_key == deliveries.c.appointment_key,
        _earlier.c.status == PENDING,
    )
    .scalar_subquery()
)
DUE = (
    # The whole claim in one read: what the worker needs of each delivery and its
    # event's payload (a separate load by seq cost a statement per claim).
    select(
        deliveries.c.seq,
        deliveries.c.id,
        deliveries.c.event_id,
        deliveries.c.connector_id,
        deliveries.c.connector_name,
        deliveries.c.action,
        deliveries.c.attempts,
        deliveries.c.replayed_after,
        events.c.payload,
    )
    .join(events, events.c.id == deliveries.c.event_id)
    .where(
        deliveries.c.status == PENDING,
        deliveries.c.next_attempt_at <= bindparam("now", type_=Float),
        _lease_free,
        # A removed connector's deliveries (NULL) have no queue: each just goes dead.
        or_(deliveries.c.connector_id.is_(None), deliveries.c.seq == _queue_head),
        _not_skipped,
    )
    # ix_deliveries_due gives this order, so the scan stops after ``limit`` heads.
    .order_by(deliveries.c.next_attempt_at, deliveries.c.seq)
    .limit(bindparam("limit", type_=Integer))
    # Only the deliveries rows are locked; events are never updated.
    .with_for_update(of=deliveries, skip_locked=True)
)
LEASE = (
    update(deliveries)
    # No ``status`` test here: DUE's rows are locked until commit (SQLite: BEGIN
    # IMMEDIATE; PostgreSQL: FOR UPDATE, which re-checks a row changed meanwhile),
    # so none can have left ``pending``.  The lease test stays as a guard.
    .where(deliveries.c.seq.in_(bindparam("seqs", expanding=True)), _lease_free)
    .values(lease_owner=bindparam("owner"), lease_expires_at=bindparam("until", type_=Float))
    .returning(deliveries.c.seq)
)
OWNED = select(deliveries.c.seq).where(
    deliveries.c.seq.in_(bindparam("seqs", expanding=True)),
    deliveries.c.lease_owner == bindparam("owner"),
)
INSERT_ATTEMPT = insert(attempts).values(
    delivery_seq=bindparam("a_seq"),
    n=bindparam("a_n"),
    started_at=bindparam("a_started", type_=Float),
    duration_ms=bindparam("a_duration", type_=Float),
    status_code=bindparam("a_code"),
    outcome=bindparam("a_outcome"),
    error=bindparam("a_error"),
)
RECORD_STATE = (
    update(deliveries)
    .where(deliveries.c.seq == bindparam("b_seq"))
    .values(
        status=bindparam("b_status"),
        attempts=deliveries.c.attempts + 1,
        next_attempt_at=bindparam("b_next", type_=Float),
        lease_owner=None,
        lease_expires_at=None,
        last_error=bindparam("b_error"),
        last_status_code=bindparam("b_code"),
        updated_at=bindparam("b_now", type_=Float),
    )
)
NEXT_WAKE = select(func.min(deliveries.c.next_attempt_at)).where(
    deliveries.c.status == PENDING, _not_skipped
)
