"""The outbox: events in, deliveries claimed, attempts recorded.

A delivery is written in the same transaction as its event, before ``submit``
returns.  Workers claim in one transaction: ``SELECT … FOR UPDATE SKIP
LOCKED`` then ``UPDATE`` of those rows (serialised on SQLite by ``BEGIN
IMMEDIATE``, disjoint across workers on PostgreSQL).  Only the earliest
pending delivery of each (connector, appointment) can be claimed, so changes to
one appointment go out in order and a later one waits while an earlier one
waits for its retry.  The claim's and the record's statements are in
``_claims``; the worker runs them through :meth:`Outbox.loop_runner`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection, Iterable, Sequence

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.exc import IntegrityError

from .._event import AppointmentEvent
from ._claims import Claim, Finished, claim_due, record_finished
from ._driver import DriverStatements, Steps, WriteLockBusy
from ._ledger import AttemptRecord, DeliveryLedger
from ._loop import LoopRunner
from ._salvage import drive, drive_async, record_one_by_one
from ._schema import deliveries
from ._statements import NEXT_WAKE, db_now
from ._submit import Target, TargetsFor, new_delivery_id, write_batch
from ._wake import CHANNEL, WorkSignal

__all__ = [
    "AttemptRecord",
    "Claim",
    "Finished",
    "Outbox",
    "Target",
    "WriteLockBusy",
    "new_delivery_id",
]

#: How often a batch is tried when a concurrent submit or removal got in its way.
_SUBMIT_TRIES = 3


class Outbox(DeliveryLedger):
    """Deliveries and their attempts: submitted, claimed, finished (and read, replayed).

    ``work_engine`` carries the worker's own bookkeeping (claims, leases, attempt
    results), which may trade durability for speed: a result lost in a power cut
    only means the delivery is sent again, which at-least-once allows.  Submission
    always goes through the durable ``engine``: a delivery must be on disk before
    anyone is told it was accepted.
    """

    def __init__(self, engine: Engine, work_engine: Engine | None = None) -> None:
        super().__init__(engine)
        self._work_engine = work_engine or engine
        # Claims and results: the statements a busy worker runs all the time.
        self._hot = DriverStatements(self._work_engine)
        #: Told once a submit or retry that queued deliveries has committed: the
        #: workers of this process wake at once (``_wake``).
        self.queued = WorkSignal()
        # PostgreSQL also tells the workers of other processes (LISTEN/NOTIFY).
        self._notify = engine.dialect.name == "postgresql"

    # -- submit ------------------------------------------------------------------

    def submit(
        self, event: AppointmentEvent, targets: Sequence[Target]
    ) -> tuple[list[tuple[str, str]], bool]:
        """Write the event and one delivery per target in one transaction.

        :returns: ``([(delivery id, connector name)], created)``; a known event id
            returns its existing deliveries and ``created=False``.
        """
        return self.submit_many([event], [targets])[0]

    def submit_many(
        self, batch: Sequence[AppointmentEvent], targets: TargetsFor | Sequence[Sequence[Target]]
    ) -> list[tuple[list[tuple[str, str]], bool]]:
        """Write a batch of events and their deliveries in one transaction.

        Coalescing (for targets with ``coalesce``) happens in the same
        transaction, so no worker ever sees a queue half-coalesced.  Nothing is
        returned before the transaction has committed.

        :param targets: per event, the connectors it goes to; or a function that
            says so from inside the transaction (given its connection), so that
            the targets are read in the transaction that writes to them.
        :returns: per event, ``([(delivery id, connector name)], created)``.  An
            event id already stored, or met earlier in the batch, creates nothing:
            its existing deliveries come back with ``created=False``.
        """
        for attempt in range(_SUBMIT_TRIES):
            try:
                with self._engine.begin() as conn:
                    per_event = targets(conn) if callable(targets) else targets
                    made = write_batch(conn, batch, per_event)
                    queued = any(created and pairs for pairs, created in made)
                    if queued and self._notify:
                        # Sent by the server at COMMIT, so no worker wakes to a
                        # delivery it cannot see yet.
                        conn.execute(text(f"NOTIFY {CHANNEL}"))
            except IntegrityError:
                # Another process stored one of these event ids between our look
                # and our insert (or removed a connector we matched): look again.
                if attempt == _SUBMIT_TRIES - 1:
                    raise
                continue
            if queued:
                self.queued.fire()
            return made
        raise AssertionError("unreachable")

    def retry(
        self,
        delivery_ids: Sequence[str] = (),
        *,
        all_dead: bool = False,
        connector: str | None = None,
        since: float | None = None,
    ) -> list[str]:
        """As :meth:`DeliveryLedger.retry`; the workers are told of what was re-queued."""
        requeued = super().retry(delivery_ids, all_dead=all_dead, connector=connector, since=since)
        if requeued:
            self.announce()
        return requeued

    def listen_engine(self) -> Engine | None:
        """The engine whose database ``NOTIFY``s of queued work (PostgreSQL), else
        ``None``; only where psycopg's asyncio mode works (``_loop``)."""
        from ._loop import _loop_can_watch_sockets

        return self._engine if self._notify and _loop_can_watch_sockets() else None

    def announce(self) -> None:
        """Tell the workers that deliveries may have become due (after a commit
        that queued some outside :meth:`submit_many`: a retry, a resume)."""
        if self._notify:
            with self._engine.begin() as conn:
                conn.execute(text(f"NOTIFY {CHANNEL}"))
        self.queued.fire()

    # -- claim and finish ----------------------------------------------------------

    def loop_runner(self) -> LoopRunner:
        """Runs :meth:`claim_steps` (and other units of work) from the calling event
        loop without holding it up; ``await runner.aclose()`` on the same loop."""
        return LoopRunner(self._hot)

    def claim(
        self,
        owner: str,
        limit: int,
        *,
        lease_seconds: float,
        skip_connectors: Collection[int] = (),
        finished: Sequence[Finished] = (),
        wait: bool = True,
    ) -> list[Claim]:
        """Record ``finished`` attempts, then lease up to ``limit`` due deliveries,
        earliest first, one per appointment queue: one transaction for both.

        Recording first frees the next change of each finished appointment for this
        very claim; one commit for both halves what a busy worker pays per delivery.
        ``skip_connectors``: connectors the worker will not send to now (throttled,
        paused, circuit open); their deliveries stay where they are.

        :param wait: False: raise instead of waiting while another process holds
            SQLite's write lock (PostgreSQL's claims wait on no lock: SKIP LOCKED).
        :raises WriteLockBusy: with ``wait=False`` only; nothing was recorded or
            claimed.
        """
        if limit <= 0 and not finished:
            return []
        steps = self.claim_steps(
            owner, limit, lease_seconds=lease_seconds, skip_connectors=skip_connectors,
            finished=finished,
        )  # fmt: skip
        return self._hot.run(steps, wait=wait)

    def claim_steps(
        self,
        owner: str,
        limit: int,
        *,
        lease_seconds: float,
        skip_connectors: Collection[int] = (),
        finished: Sequence[Finished] = (),
    ) -> Callable[[], Steps[list[Claim]]]:
        """:meth:`claim` as a unit of work, for :meth:`loop_runner` to run."""
        return functools.partial(
            claim_due, owner, limit, lease_seconds, sorted(skip_connectors), finished
        )

    def record(self, finished: Sequence[Finished], owner: str) -> set[int]:
        """Record ended attempts without claiming more (a worker shutting down).

        Should the database refuse the batch, each is recorded on its own, and one
        it still refuses as ``dead`` with WB-351 (``_salvage``).

        :returns: the seqs whose lease had passed to another worker meanwhile.
        """
        if not finished:
            return set()
        try:
            return self._hot.run(functools.partial(record_finished, finished, owner, time.time()))
        except Exception as exc:
            return drive(record_one_by_one(finished, owner, exc), self._hot.run)

    async def salvage(
        self, runner: LoopRunner, finished: Sequence[Finished], owner: str, failure: Exception
    ) -> set[int]:
        """After ``failure`` recorded none of ``finished`` (with a claim, on ``runner``):
        each on its own, and one the database still refuses as ``dead`` with WB-351.

        :returns: the seqs whose lease had passed to another worker meanwhile.
        :raises Exception: ``failure``, when the database answers nothing at all.
        """
        return await drive_async(record_one_by_one(finished, owner, failure), runner.run)

    def finish(
        self,
        claim: Claim,
        owner: str,
        attempt: AttemptRecord,
        *,
        status: str,
        next_attempt_at: float | None = None,
    ) -> bool:
        """Record one attempt and the delivery's new state in a transaction of its own.

        :returns: False when the lease had passed to another worker meanwhile (the
            attempt is still recorded; the other worker's result decides the status).
        """
        return not self.record([Finished(claim, attempt, status, next_attempt_at)], owner)

    def renew(self, claims: Iterable[Claim], owner: str, *, lease_seconds: float) -> set[int]:
        """Extend the leases of deliveries in flight; returns the seqs whose lease was lost."""
        seqs = [c.seq for c in claims]
        if not seqs:
            return set()
        with self._work_engine.begin() as conn:
            kept = (
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.seq.in_(seqs), deliveries.c.lease_owner == owner)
                    .values(lease_expires_at=db_now() + lease_seconds)
                    .returning(deliveries.c.seq)
                )
                .scalars()
                .all()
            )
        return set(seqs) - set(kept)

    def release(self, claims: Iterable[Claim], owner: str) -> None:
        """Give leases back unused (worker shutting down)."""
        seqs = [c.seq for c in claims]
        if not seqs:
            return
        with self._work_engine.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.seq.in_(seqs), deliveries.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    def next_wake(self, skip_connectors: Collection[int] = ()) -> float | None:
        """When the next pending delivery may become claimable, on this process's
        clock (due times are kept on the database's); ``None``: nothing pending.

        Deliveries of ``skip_connectors`` are left out: the worker knows when those
        connectors open again.
        """
        now = time.time()
        with self._work_engine.begin() as conn:
            wait = conn.execute(NEXT_WAKE, {"skip": sorted(skip_connectors), "now": now}).scalar()
        return None if wait is None else now + wait

    def pending_among(self, delivery_ids: Collection[str]) -> int:
        """How many of ``delivery_ids`` are still pending."""
        with self._work_engine.begin() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(
                        deliveries.c.id.in_(list(delivery_ids)), deliveries.c.status == "pending"
                    )
                ).scalar_one()
            )
