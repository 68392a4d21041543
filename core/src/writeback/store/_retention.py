"""Retention: delete ended deliveries older than a duration, keeping the ledger whole.

``writeback deliveries prune --older-than 30d`` and ``writeback worker
--retention 30d`` both come here.  A delivery that ended (``delivered``,
``superseded``, ``dead``) and was last updated longer ago than the duration
goes, with its attempts; an event goes once no delivery refers to it any more
(and it is older than the duration too).  A ``pending`` delivery is never
touched.  What went is counted per connector and status in
``pruned_deliveries``, so that ``deliveries stats`` still balances.

The work is done in batches of :data:`BATCH_SIZE`, one short transaction each,
so that a large prune never holds SQLite's write lock (or PostgreSQL's row
locks) for long: a worker's claims slip in between.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, Float, bindparam, delete, exists, select
from sqlalchemy.sql.elements import ColumnElement

from .._errors import UserError
from .._secrets import secret_safe_logger
from ._schema import attempts, deliveries, events, pruned_deliveries
from ._statements import db_now

__all__ = [
    "BATCH_SIZE",
    "ENDED",
    "PruneResult",
    "parse_duration",
    "parse_statuses",
    "prune",
    "prune_periodically",
    "pruned_counts",
]

log = secret_safe_logger("writeback.retention")

#: The statuses a delivery can be pruned in: every one that has ended.
ENDED = ("delivered", "superseded", "dead")
#: Deliveries (or events) per transaction.
BATCH_SIZE = 500
#: How often ``worker --retention`` prunes, at most.
PRUNE_INTERVAL = 60.0
#: A breath between batches, so that a waiting writer (a worker's claim in another
#: process: SQLite's lock is not handed over fairly) gets the lock in between.
_BREATHER = 0.002

_DURATION = re.compile(r"^(\d{1,9})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The longest duration taken: a century, far beyond any clock's error.
MAX_DURATION = 36500 * 86400


def parse_duration(text: str, option: str = "--older-than") -> float:
    """``30d``, ``12h``, ``90m``, ``45s`` as seconds.

    :raises UserError: naming ``option`` and the value, and what is allowed.
    """
    match = _DURATION.match(text.strip())
    if match is None:
        raise UserError(
            f"{option} {text!r} is not a duration; give a whole number followed by "
            "d, h, m or s, like 30d, 12h, 90m or 45s."
        )
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_DURATION:
        raise UserError(f"{option} {text!r} is too long; give at most 36500d (a century).")
    return float(seconds)


def parse_statuses(text: str, option: str = "--status") -> tuple[str, ...]:
    """``delivered,dead`` as a tuple of ended statuses, each once.

    :raises UserError: for an empty list or any other status (``pending`` above all).
    """
    given = [part.strip() for part in text.split(",")]
    for status in given:
        if status not in ENDED:
            why = " (pending deliveries are never pruned)" if status == "pending" else ""
            raise UserError(
                f"{option} {text!r}: {status!r} cannot be pruned{why}; "
                f"allowed: {', '.join(ENDED)}, comma-separated."
            )
    return tuple(dict.fromkeys(given))


@dataclass
class PruneResult:
    """What one prune removed."""

    #: Deliveries removed, by status.
    deliveries: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    events: int = 0

    @property
    def total(self) -> int:
        """Every delivery removed."""
        return sum(self.deliveries.values())

    def add(self, other: PruneResult) -> None:
        """Count ``other`` in this one."""
        for status, count in other.deliveries.items():
            self.deliveries[status] = self.deliveries.get(status, 0) + count
        self.attempts += other.attempts
        self.events += other.events


def _older(column: ColumnElement[float], older_than: float) -> ColumnElement[bool]:
    # On the clock the times were written on (``db_now``): the database's own.
    return column < db_now() - bindparam("older_than", older_than, type_=Float)


def prune(
    engine: Engine,
    older_than: float,
    statuses: Collection[str] = ENDED,
    *,
    batch_size: int = BATCH_SIZE,
    stop: threading.Event | None = None,
) -> PruneResult:
    """Delete ended deliveries last updated more than ``older_than`` seconds ago,
    their attempts, and the events no delivery refers to any more.

    :param stop: when set, the prune ends after the batch in hand (what was
        deleted stays deleted and counted).
    """
    wanted = [s for s in statuses if s in ENDED]
    result = PruneResult()
    if not wanted:
        return result
    after = 0
    while stop is None or not stop.is_set():
        after, batch = _prune_batch(engine, older_than, wanted, after, batch_size)
        result.add(batch)
        if after == 0:
            break
        time.sleep(_BREATHER)
    after_id = ""
    while stop is None or not stop.is_set():
        after_id, removed = _prune_events(engine, older_than, after_id, batch_size)
        result.events += removed
        if not after_id:
            break
        time.sleep(_BREATHER)
    return result


def _prune_batch(
    engine: Engine, older_than: float, statuses: list[str], after: int, batch_size: int
) -> tuple[int, PruneResult]:
    """One transaction: up to ``batch_size`` deliveries after ``seq`` ``after``.

    :returns: the last seq looked at (0: there are no more), and what went.
    """
    query = (
        select(deliveries.c.seq, deliveries.c.connector_name, deliveries.c.status)
        # In seq order from where the last batch ended: one pass over the table,
        # however many batches it takes.
        .where(
            deliveries.c.seq > after,
            deliveries.c.status.in_(statuses),
            _older(deliveries.c.updated_at, older_than),
        )
        .order_by(deliveries.c.seq)
        .limit(batch_size)
        # A replay (``deliveries retry``) racing with this waits, and the row is
        # read again: a delivery pending by then is not taken.
        .with_for_update(of=deliveries)
    )
    batch = PruneResult()
    with engine.begin() as conn:
        rows = conn.execute(query, {"now": time.time()}).all()
        if not rows:
            return 0, batch
        seqs = [r.seq for r in rows]
        batch.attempts = conn.execute(
            delete(attempts).where(attempts.c.delivery_seq.in_(seqs))
        ).rowcount
        conn.execute(delete(deliveries).where(deliveries.c.seq.in_(seqs)))
        counts: dict[tuple[str, str], int] = {}
        for r in rows:
            key = (r.connector_name, r.status)
            counts[key] = counts.get(key, 0) + 1
            batch.deliveries[r.status] = batch.deliveries.get(r.status, 0) + 1
        _count_pruned(conn, counts)
    return (seqs[-1] if len(rows) == batch_size else 0), batch


def _count_pruned(conn: Connection, counts: dict[tuple[str, str], int]) -> None:
    """Add ``counts`` to ``pruned_deliveries``, in the deletion's transaction."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    for (connector, status), count in sorted(counts.items()):
        statement = insert(pruned_deliveries).values(
            connector_name=connector, status=status, count=count
        )
        statement = statement.on_conflict_do_update(
            index_elements=[pruned_deliveries.c.connector_name, pruned_deliveries.c.status],
            set_={"count": pruned_deliveries.c.count + statement.excluded.count},
        )
        conn.execute(statement)


def _prune_events(
    engine: Engine, older_than: float, after: str, batch_size: int
) -> tuple[str, int]:
    """One transaction: events after id ``after`` that no delivery refers to and
    that were submitted more than ``older_than`` ago (those retention just freed,
    and those no connector matched).

    :returns: the last id looked at (``""``: there are no more), and how many went.
    """
    candidates = (
        select(events.c.id)
        .where(
            events.c.id > after,
            _older(events.c.submitted_at, older_than),
            ~exists().where(deliveries.c.event_id == events.c.id),
        )
        .order_by(events.c.id)
        .limit(batch_size)
    )
    with engine.begin() as conn:
        ids = list(conn.execute(candidates, {"now": time.time()}).scalars())
        if not ids:
            return "", 0
        # Checked again in the delete: a delivery made meanwhile (an event id
        # submitted again, on PostgreSQL) keeps its event.
        removed = conn.execute(
            delete(events).where(
                events.c.id.in_(ids), ~exists().where(deliveries.c.event_id == events.c.id)
            )
        ).rowcount
    return (ids[-1] if len(ids) == batch_size else ""), removed


def pruned_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """``pruned_deliveries`` as ``{(connector, status): count}``."""
    query = select(
        pruned_deliveries.c.connector_name, pruned_deliveries.c.status, pruned_deliveries.c.count
    )
    rows = conn.execute(query).all()
    return {(name, status): int(count) for name, status, count in rows}


async def prune_periodically(
    engine: Engine, older_than: float, *, interval: float = PRUNE_INTERVAL
) -> None:
    """``worker --retention``: prune now and then every ``interval`` seconds, in a
    thread so that the worker's loop goes on meanwhile, until cancelled.

    A failed prune is logged and tried again at the next interval: retention must
    never stop deliveries.  Cancelled mid-prune, it stops after the batch in hand.
    """
    stop = threading.Event()
    try:
        while True:
            try:
                done = await asyncio.to_thread(prune, engine, older_than, stop=stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("retention: pruning failed (%s); trying again in %.0f s", exc, interval)
            else:
                if done.total or done.events:
                    log.info(
                        "retention: pruned %d delivery(ies), %d attempt(s), %d event(s)",
                        done.total,
                        done.attempts,
                        done.events,
                    )
            await asyncio.sleep(interval)
    finally:
        stop.set()
