"""Recording, one at a time, a batch of results the database refused as a whole.

A worker records the attempts that ended in one transaction with its next
claim (``_claims``).  One result the database will not take fails that whole
transaction: before this, the worker then stopped, and every other
connector's deliveries in the batch, already sent, went out a second time
after their leases ran out.  Now each result is recorded in a transaction of
its own, and one that still fails is settled ``dead`` with WB-351 naming the
cause, so that the others are kept and the worker goes on.

The steps are a plan of units of work (:data:`SalvagePlan`) that the caller
drives on its own runner: :meth:`Outbox.record` on the calling thread, the
worker on its event loop (``_loop.LoopRunner``).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import Any

from sqlalchemy import literal_column, select

from .._secrets import secret_safe_logger
from ._claims import Finished, record_finished
from ._driver import Query, Steps
from ._ledger import AttemptRecord

__all__ = ["UNRECORDABLE", "SalvagePlan", "Unit", "drive", "drive_async", "record_one_by_one"]

log = secret_safe_logger("writeback.outbox")

#: The code of the error recorded for a result the database would not take.
UNRECORDABLE = "WB-351"
#: A unit of work, run in a transaction of its own.
Unit = Callable[[], Steps[Any]]
#: Yields units; each is sent its result, or has its exception thrown in.
#: Returns the seqs whose lease had passed to another worker.
SalvagePlan = Generator[Unit, Any, set[int]]

_OUTCOMES = ("delivered", "retry", "failed")
_PING = select(literal_column("1"))


def record_one_by_one(
    finished: Sequence[Finished], owner: str, failure: BaseException
) -> SalvagePlan:
    """After ``failure`` recorded none of ``finished``: each in a transaction of
    its own; one the database still refuses as ``dead`` with :data:`UNRECORDABLE`.

    :raises BaseException: ``failure`` itself, when the database answers nothing
        at all (it is gone, not one result): the worker stops as it did before.
    """
    lost: set[int] = set()
    refused = 0
    for done in finished:
        try:
            lost |= yield functools.partial(record_finished, [done], owner, time.time())
            continue
        except Exception as exc:
            cause = _cause(exc)
        refused += 1
        marked = _unrecordable(done, cause)
        try:
            lost |= yield functools.partial(record_finished, [marked], owner, time.time())
        except Exception:
            try:
                yield _ping
            except Exception:
                raise failure from None
            # The database works, yet will not change this row at all: its lease
            # runs out and the delivery is attempted again, by this worker or another.
            log.error(
                "delivery %s to %s: its attempt cannot be recorded at all (%s); it is "
                "sent again once its lease runs out",
                done.claim.id,
                done.claim.connector_name,
                cause,
            )
            continue
        log.error(
            "delivery %s to %s: %s",
            done.claim.id,
            done.claim.connector_name,
            marked.attempt.error,
        )
    if not refused:
        # Nothing to blame on one result (a passing fault): say so once.
        log.warning(
            "recording %d attempt result(s) together failed (%s); recorded one at a time",
            len(finished),
            _cause(failure),
        )
    return lost


def drive(plan: SalvagePlan, run: Callable[[Unit], Any]) -> set[int]:
    """Run ``plan``'s units with ``run`` (one transaction each); its result."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            unit = plan.send(result) if error is None else plan.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        try:
            result, error = run(unit), None
        except Exception as exc:
            result, error = None, exc


async def drive_async(plan: SalvagePlan, run: Callable[[Unit], Awaitable[Any]]) -> set[int]:
    """:func:`drive` for a runner on an event loop."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            unit = plan.send(result) if error is None else plan.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        try:
            result, error = await run(unit), None
        except Exception as exc:
            result, error = None, exc


def _unrecordable(done: Finished, cause: str) -> Finished:
    """``done`` reduced to what any database takes: the delivery ``dead``, its
    attempt's outcome kept and the reason in its error."""
    attempt, claim = done.attempt, done.claim
    outcome = attempt.outcome if attempt.outcome in _OUTCOMES else "failed"
    error = (
        f"{UNRECORDABLE}: the attempt ended ({outcome}) but its result could not be "
        f"recorded ({cause}); the delivery was given up: replay it with "
        f"'writeback deliveries retry {claim.id}' once the cause is fixed."
    )
    started = attempt.started_at
    started = started if isinstance(started, float) and math.isfinite(started) else time.time()
    record = AttemptRecord(attempt.n, started, 0.0, None, outcome, error, UNRECORDABLE)
    return Finished(claim, record, "dead", None, done.ended)


def _cause(exc: BaseException) -> str:
    """The first line of ``exc``, short: a driver's message may run to the data."""
    first = (str(exc).strip().splitlines() or [""])[0]
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _ping() -> Steps[Any]:
    yield Query(_PING, {})
