"""One attempt of one claimed delivery: send it, and settle what it comes to.

The worker decides what to attempt and when; this decides what an attempt's
answer means for the delivery (delivered, retried at a time, dead) and how
the worker's counters move.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ._connector_states import ConnectorState
from ._interfaces import AttemptResult, Delivery, Outcome
from ._log_context import delivery_logging
from ._outcome import with_code
from ._pipeline import CODE_PLUGIN_BUG
from ._schedule import next_delay
from ._secrets import REDACTOR, secret_safe_logger
from .store import AttemptRecord, Claim, Finished

__all__ = ["CODE_INTERRUPTED", "INTERRUPTED", "WorkerStats", "attempt"]

log = secret_safe_logger("writeback.worker")

#: The code and error recorded for an attempt cut short by shutdown.
CODE_INTERRUPTED = "WB-350"
INTERRUPTED = (
    f"{CODE_INTERRUPTED}: interrupted by the worker's shutdown; the request may have reached the "
    "endpoint, so it is sent again (same webhook-id)"
)


@dataclass
class WorkerStats:
    """What a worker run did; passed to the progress callback after each attempt."""

    attempts: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    pending: int = 0
    dead_ids: list[str] = field(default_factory=list)

    def count(
        self, finished: list[Finished], on_progress: Callable[[WorkerStats], None] | None
    ) -> None:
        """Count recorded attempts (and log the deliveries that went dead)."""
        for done in finished:
            claim = done.claim
            self.attempts += 1
            if done.status == "delivered":
                self.delivered += 1
            elif done.status == "dead":
                self.dead += 1
                self.dead_ids.append(claim.id)
                log.warning(
                    "delivery %s to %s is dead: %s",
                    claim.id,
                    claim.connector_name,
                    done.attempt.error,
                    extra={"delivery_id": claim.id, "connector": claim.connector_name},
                )
            else:
                self.retried += 1
            if on_progress is not None:
                on_progress(self)


async def attempt(claim: Claim, state: ConnectorState | AttemptResult) -> Finished:
    """Send ``claim`` through its connector's pipeline (``state``), or settle it with
    ``state`` when it is already a result (connector removed, or unusable).

    What is logged meanwhile names the delivery and its connector (``--log-format json``).
    """
    with delivery_logging(claim.id, claim.connector_name):
        return await _attempt(claim, state)


async def _attempt(claim: Claim, state: ConnectorState | AttemptResult) -> Finished:
    started = time.time()
    clock = time.perf_counter()
    n = claim.attempts + 1
    result: AttemptResult | None = None
    schedule: tuple[float, ...] = ()
    try:
        if isinstance(state, AttemptResult):
            result = state
        else:
            schedule = tuple(state.pipeline.connector.row.retry.schedule)
            result = await state.pipeline.send(_delivery(claim, n))
    except asyncio.CancelledError:
        # Shutting down mid-attempt: the request may have reached the endpoint, so
        # it counts as an attempt, and the delivery goes back to the queue at once.
        result = AttemptResult(Outcome.RETRY, error=INTERRUPTED, code=CODE_INTERRUPTED)
        schedule = (0.0,) * n
    except Exception as exc:  # the worker must record, whatever went wrong
        log.exception("delivery %s: unexpected error", claim.id)
        result = AttemptResult(
            Outcome.FAILED, error=f"{CODE_PLUGIN_BUG}: {exc!r}", code=CODE_PLUGIN_BUG
        )
    finally:
        if isinstance(state, ConnectorState):
            state.gate.release(result)
            if result is not None and result.pause_connector:
                # The worker starts nothing more of this connector's from now on,
                # before the pause is even recorded (with the next claim).
                state.pause_here()
    duration_ms = (time.perf_counter() - clock) * 1000
    return _settle(claim, n, started, duration_ms, result, schedule)


def _settle(
    claim: Claim,
    n: int,
    started: float,
    duration_ms: float,
    result: AttemptResult,
    schedule: tuple[float, ...],
) -> Finished:
    """The attempt's record and the delivery's next state."""
    error = REDACTOR.redact(result.error)
    status, next_at = "delivered", None
    if result.outcome is Outcome.RETRY:
        wait = next_delay(schedule, n - claim.replayed_after, result.retry_after)
        if wait is None:
            status = "dead"
            error = f"{error} (gave up after {n - claim.replayed_after} attempts)"
        else:
            status, next_at = "pending", time.time() + wait
    elif result.outcome is Outcome.FAILED:
        status = "dead"
    code = with_code(result).code
    record = AttemptRecord(
        n, started, duration_ms, result.status_code, result.outcome.value, error, code
    )
    pause = _pause_reason(claim, result)
    return Finished(claim, record, status, next_at, pause_reason=pause)


#: The longest pause reason kept from a plugin.
PAUSE_REASON_LIMIT = 500


def _pause_reason(claim: Claim, result: AttemptResult) -> str | None:
    """What the connector's ``paused_reason`` says when ``result`` asks for a pause:
    the plugin's reason (secrets removed, cut short), the delivery and the code."""
    if not result.pause_connector:
        return None
    reason = REDACTOR.redact(str(result.pause_connector)) or "paused by its plugin"
    if len(reason) > PAUSE_REASON_LIMIT:
        reason = reason[: PAUSE_REASON_LIMIT - 1] + "…"
    return f"{reason} (delivery {claim.id})"


def _delivery(claim: Claim, n: int) -> Delivery:
    event = claim.event
    if not isinstance(event.get("appointment"), dict):
        raise ValueError("the stored event cannot be read: it is not an appointment event")
    occurred = event.get("occurred_at")
    return Delivery(
        id=claim.id,
        event_id=claim.event_id,
        action=claim.action,
        appointment=event["appointment"],
        occurred_at=datetime.fromisoformat(occurred) if occurred else None,
        attempt=n,
    )
