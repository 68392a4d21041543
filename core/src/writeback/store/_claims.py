"""A worker's unit of work: record the attempts that ended, lease the next due deliveries.

Both run as ``Steps`` (``_driver``): generators of statements that
``DriverStatements`` runs in one transaction on the driver's connection, from a
thread or the worker's loop (``_loop``).  ``Outbox.claim`` and
``Outbox.record`` are their synchronous callers.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .._schedule import bounded_wait
from .._secrets import secret_safe_logger
from ._driver import Command, Query, Steps
from ._ledger import AttemptRecord
from ._statements import DUE, INSERT_ATTEMPTS, LEASE, PAUSE_CONNECTOR, RECORD_STATE

__all__ = ["Claim", "Finished", "claim_due", "record_finished"]

log = secret_safe_logger("writeback.outbox")


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
    #: The appointment's identity string, the key of its queue.
    appointment_key: str = ""


@dataclass(frozen=True)
class Finished:
    """An attempt that ended, with the delivery's new state, waiting to be recorded."""

    claim: Claim
    attempt: AttemptRecord
    #: ``delivered``, ``dead``, or ``pending`` (to be retried at ``next_attempt_at``).
    status: str
    #: On the worker's clock; stored as the same distance from the database's now.
    next_attempt_at: float | None = None
    #: ``time.monotonic()`` when the attempt ended (how long it has waited to be recorded).
    ended: float = field(default_factory=time.monotonic)
    #: Pause the delivery's connector, for this reason, in the record's transaction
    #: (the attempt's ``AttemptResult.pause_connector``); ``None``: leave it be.
    pause_reason: str | None = None


def claim_due(
    owner: str, limit: int, lease_seconds: float, skip: list[int], finished: Sequence[Finished]
) -> Steps[list[Claim]]:
    """Record ``finished``, then lease up to ``limit`` due deliveries (see ``Outbox.claim``)."""
    now = time.time()
    if finished:
        yield from record_finished(finished, owner, now)
    if limit <= 0:
        return []
    # Two statements, not UPDATE … WHERE seq IN (SELECT … LIMIT n): PostgreSQL may
    # run such a subquery more than once and so lease more than n rows.  The
    # SELECT's row locks hold until commit, so the UPDATE finds them all.
    rows = yield Query(DUE, {"now": now, "limit": limit, "skip": skip})
    if not rows:
        return []
    values = {
        "seqs": [r[0] for r in rows],
        "now": now,
        "owner": owner,
        "lease_seconds": lease_seconds,
    }
    claimed = {r[0] for r in (yield Query(LEASE, values))}
    # In DUE's column order.
    return [
        Claim(
            seq=seq,
            id=id_,
            event_id=event_id,
            connector_id=connector_id,
            connector_name=connector_name,
            action=action,
            attempts=attempts_made,
            replayed_after=replayed_after,
            event=_payload(payload),
            appointment_key=appointment_key,
        )
        for (
            seq,
            id_,
            event_id,
            connector_id,
            connector_name,
            action,
            attempts_made,
            replayed_after,
            payload,
            appointment_key,
        ) in rows
        if seq in claimed
    ]


def _payload(text: str) -> dict[str, Any]:
    """A claimed delivery's event; ``{}`` when its stored text is not an event's
    JSON (written by something else): that delivery's attempt then fails, where
    a parse error here failed every claim, and the whole outbox stood still."""
    try:
        event = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return event if isinstance(event, dict) else {}


#: What a status code may be: PostgreSQL's ``integer``.
_MAX_CODE = 2**31 - 1
#: Lone UTF-16 surrogates: text a Python string may hold and UTF-8 cannot.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _storable(text: str | None) -> str | None:
    """``text`` with any NUL character and lone surrogate replaced by U+FFFD.

    An error's text comes from the endpoint (its answer's body) or the network.
    PostgreSQL's text cannot hold NUL at all, so one such answer failed the whole
    record, and with it the worker's claim, again at every retry; SQLite's JSON
    functions cut the text short at it.  A lone surrogate cannot be encoded for
    either database.
    """
    if text is None:
        return None
    return _SURROGATE.sub("\ufffd", str(text).replace("\x00", "\ufffd"))


def _code(code: str | None) -> str | None:
    """A code the column holds; a plugin's longer or odd one is cut, never refused
    (one such value would fail the whole batch)."""
    return None if code is None else str(_storable(str(code)))[:12]


def _finite(value: float, default: float) -> float:
    return value if isinstance(value, int | float) and math.isfinite(value) else default


def _row(done: Finished, now: float) -> list[Any]:
    """``done`` as one row of the batch (``FINISHED_FIELDS``), every value one both
    databases take: a single value they refuse (an infinite time, a status code
    beyond their integers) once failed the whole batch with it."""
    attempt = done.attempt
    status_code = attempt.status_code
    wait = 0.0 if done.next_attempt_at is None else done.next_attempt_at - now
    return [
        done.claim.seq,
        done.status,
        bounded_wait(wait),
        attempt.n,
        _finite(attempt.started_at, now),
        _finite(attempt.duration_ms, 0.0),
        status_code if isinstance(status_code, int) and 0 <= status_code <= _MAX_CODE else None,
        attempt.outcome,
        _storable(attempt.error),
        _code(attempt.code),
    ]


def record_finished(finished: Sequence[Finished], owner: str, now: float) -> Steps[set[int]]:
    """Move on the deliveries whose lease ``owner`` still holds; insert every attempt.

    :returns: the seqs whose lease had passed to another worker (their attempt is
        recorded; that worker's result decides the status).
    """
    seqs = [f.claim.seq for f in finished]
    # The whole batch as one parameter, in FINISHED_FIELDS' order (``_statements``).
    # Text as it is, not \u-escaped: PostgreSQL decodes escapes beyond ASCII only
    # in a UTF-8 database, where a plain parameter needs no escaping at all.
    # ``allow_nan=False``: a value ``_row`` missed fails here, before the database.
    rows = json.dumps([_row(f, now) for f in finished], ensure_ascii=False, allow_nan=False)
    values = {"finished": rows, "seqs": seqs, "owner": owner, "now": now}
    owned = {r[0] for r in (yield Query(RECORD_STATE, values))}
    yield Command(INSERT_ATTEMPTS, {"finished": rows})
    for done in finished:
        # Rare (a webhook's 410 Gone): one statement each, in the same transaction,
        # so that the attempt and the pause it asked for are recorded together.
        if done.pause_reason is not None and done.claim.connector_id is not None:
            reason = _storable(done.pause_reason)
            values = {"connector_id": done.claim.connector_id, "reason": reason}
            yield Command(PAUSE_CONNECTOR, values)
    lost = set(seqs) - owned
    if lost:
        ids = ", ".join(f.claim.id for f in finished if f.claim.seq in lost)
        log.warning("lease lost before the result was recorded: %s", ids)
    return lost
