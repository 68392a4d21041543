"""The statements a busy worker runs for every batch, built once.

Constructing SQLAlchemy expressions anew for each call cost more than running
them on SQLite; these take their values as bound parameters instead, and
``_driver.DriverStatements`` runs them on the driver's connection.

Leases and due times are read and written on one clock, the database's
(:class:`db_now`), so that a worker whose own clock is wrong neither takes
over leases that still run nor claims retries before their time.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    String,
    Text,
    bindparam,
    cast,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.sql.visitors import InternalTraversal

from ._schema import PENDING, attempts, connectors, deliveries, events

__all__ = [
    "DUE",
    "FINISHED_FIELDS",
    "INSERT_ATTEMPTS",
    "LEASE",
    "NEXT_WAKE",
    "PAUSE_CONNECTOR",
    "RECORD_STATE",
    "db_now",
]


class db_now(ColumnElement[float]):
    """The database's clock, in unix seconds: what leases and due times are set
    from and compared with.

    PostgreSQL: the time the statement started, on the server.  Workers on
    several hosts share its database but not a clock; compared on each worker's
    own clock, one running ahead took over every lease still running (and sent
    those deliveries a second time).  A stable expression, not a parameter or
    ``clock_timestamp()`` (volatile): the claim's index scan still starts from it.

    SQLite: the bound parameter ``now`` (the caller's clock, ``time.time()``
    when not given).  Every process using the file runs on the one host, and so
    reads the one clock.
    """

    inherit_cache = True
    type = Float()


_NOW = bindparam("now", type_=Float, callable_=time.time)


@compiles(db_now)
def _host_now(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(_NOW, **kw)


@compiles(db_now, "postgresql")
def _server_now(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "CAST(EXTRACT(EPOCH FROM statement_timestamp()) AS DOUBLE PRECISION)"


_earlier = aliased(deliveries)
_lease_free = or_(
    deliveries.c.lease_expires_at.is_(None),
    deliveries.c.lease_expires_at < db_now(),
)
# Not one of the connectors in ``skip`` (closed by their throttle or circuit).
# NULL (a removed connector) is not "in" anything, but NOT IN would drop it too.
_not_skipped = or_(
    deliveries.c.connector_id.is_(None),
    deliveries.c.connector_id.not_in(bindparam("skip", expanding=True)),
)
# Not a paused connector's: its deliveries stay pending and wait.  A correlated
# scalar subquery, one probe of the connectors' primary key per candidate, like
# the queue head below: the scan still walks ix_deliveries_due in claim order and
# stops after ``limit`` heads.  NULL (a removed connector, or none) is not true.
_not_paused = (
    select(connectors.c.paused)
    .where(connectors.c.id == deliveries.c.connector_id)
    .scalar_subquery()
    .is_not(true())
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
        deliveries.c.appointment_key,
    )
    .join(events, events.c.id == deliveries.c.event_id)
    .where(
        deliveries.c.status == PENDING,
        deliveries.c.next_attempt_at <= db_now(),
        _lease_free,
        _not_paused,
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
    .values(
        lease_owner=bindparam("owner"),
        lease_expires_at=db_now() + bindparam("lease_seconds", type_=Float),
    )
    .returning(deliveries.c.seq)
)


class json_elements(GenericFunction[Any]):
    """The elements of a JSON array (``value``, one row each): SQLite's
    ``json_each``, PostgreSQL's ``jsonb_array_elements``.

    ``jsonb`` on PostgreSQL, not ``json``: ``json`` is kept as text, and each
    ``->>`` parses its element again, nine times a row here; ``jsonb`` is parsed
    once, for about two thirds of the server's CPU (docs/benchmarks.md, "The
    store's hot statements")."""

    name = "json_elements"
    inherit_cache = True


@compiles(json_elements, "sqlite")
def _sqlite_elements(element: json_elements, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_each({compiler.process(element.clauses, **kw)})"


@compiles(json_elements, "postgresql")
def _postgresql_elements(element: json_elements, compiler: SQLCompiler, **kw: Any) -> str:
    return f"jsonb_array_elements(CAST({compiler.process(element.clauses, **kw)} AS JSONB))"


class _Over(ColumnElement[Any]):
    """An expression over ``element``, rendered per database (subclasses)."""

    inherit_cache = True
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]

    def __init__(self, element: ColumnElement[Any]) -> None:
        self.element = element

    @property
    def _from_objects(self) -> list[Any]:
        # What it reads, so that an UPDATE names that in its FROM.
        return self.element._from_objects


class json_item(_Over):
    """Item ``index`` of the JSON array ``element``, as SQL."""

    inherit_cache = True
    _traverse_internals = [
        *_Over._traverse_internals,
        ("index", InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, element: ColumnElement[Any], index: int) -> None:
        super().__init__(element)
        self.index = int(index)


@compiles(json_item, "sqlite")
def _sqlite_item(element: json_item, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_extract({compiler.process(element.element, **kw)}, '$[{element.index}]')"


@compiles(json_item, "postgresql")
def _postgresql_item(element: json_item, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.element, **kw)} ->> {element.index})"


class postgresql_only(_Over):
    """The condition ``element`` on PostgreSQL, none (true) on other databases."""

    inherit_cache = True


@compiles(postgresql_only)
def _elsewhere(element: postgresql_only, compiler: SQLCompiler, **kw: Any) -> str:
    return "1 = 1"


@compiles(postgresql_only, "postgresql")
def _on_postgresql(element: postgresql_only, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.element, **kw)


# The attempts that ended, as one JSON array (one row per ``Finished``, made by
# ``_claims.record_finished``), read by both statements that record them.  One
# statement each for the whole batch, where psycopg's executemany paid client CPU
# per row and a third statement asked which leases were still held: this costs
# the worker less CPU per claim (docs/benchmarks.md, "The store's hot
# statements").  One parameter, not a multi-row VALUES: psycopg parses a
# statement of more than 50 parameters anew at every run.
_finished = json_elements(bindparam("finished")).table_valued("value").alias("finished")


#: The items of each row of the ``finished`` parameter, in order: arrays, not
#: objects, which SQLite's JSON functions read in half the time.  ``wait`` is
#: the seconds until the next attempt, counted on the database's clock.
FINISHED_FIELDS = (
    "seq", "status", "wait", "n", "started", "duration", "status_code", "outcome", "error", "code"
)  # fmt: skip


def _field(name: str, type_: Any) -> Any:
    return cast(json_item(_finished.c.value, FINISHED_FIELDS.index(name)), type_)


_f_seq = _field("seq", Integer)
RECORD_STATE = (
    update(deliveries)
    .where(
        # The seqs themselves as well as the join: PostgreSQL guesses 100 rows of
        # any JSON array, and then may rather scan the table than probe its key.
        # Not on SQLite, which then probes the key for each seq and reads the
        # whole array for each, at about a quarter more CPU per delivery
        # (docs/benchmarks.md, "The store's hot statements").
        postgresql_only(deliveries.c.seq.in_(bindparam("seqs", expanding=True))),
        deliveries.c.seq == _f_seq,
        # Only the leases this worker still holds (returned): a lease that passed
        # to another worker is that worker's to settle.
        deliveries.c.lease_owner == bindparam("owner"),
    )
    .values(
        status=_field("status", String),
        attempts=deliveries.c.attempts + 1,
        next_attempt_at=db_now() + _field("wait", Float),
        lease_owner=None,
        lease_expires_at=None,
        last_error=_field("error", Text),
        last_status_code=_field("status_code", Integer),
        updated_at=db_now(),
    )
    .returning(deliveries.c.seq)
)
INSERT_ATTEMPTS = insert(attempts).from_select(
    ["delivery_seq", "n", "started_at", "duration_ms", "status_code", "outcome", "error", "code"],
    select(
        _f_seq,
        _field("n", Integer),
        _field("started", Float),
        _field("duration", Float),
        _field("status_code", Integer),
        _field("outcome", String),
        _field("error", Text),
        _field("code", String),
    ).select_from(_finished),
)
#: The earliest due time of a pending delivery, as seconds from now (may be
#: negative; NULL: nothing pending), so that it means the same on any clock.
NEXT_WAKE = select(func.min(deliveries.c.next_attempt_at) - db_now()).where(
    deliveries.c.status == PENDING, _not_skipped, _not_paused
)
#: Pause a connector with the ``reason`` an attempt gave (``AttemptResult.pause_connector``),
#: recorded with that attempt; a connector already paused keeps its first reason.
PAUSE_CONNECTOR = (
    update(connectors)
    .where(connectors.c.id == bindparam("connector_id"), connectors.c.paused == false())
    .values(paused=True, paused_reason=bindparam("reason"))
)
