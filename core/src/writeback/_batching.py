"""Several due deliveries of one connector in one request (an OData ``$batch``).

When a connector's pipeline allows more than one delivery per request
(``Pipeline.batch_limit``: its type's ``batch_limit``, and a format with
``send_batch``), the slot that starts a claimed delivery takes along further
claims of the same connector from the worker's local queue: one request, one
slot and one token of the connector's throttle, one attempt record per delivery.

Order per appointment needs nothing more: a claim is only ever the head of its
appointment's queue, and the next change of that appointment becomes the head
only once this one's attempt is recorded.  A batch still takes at most one
claim per appointment, so that holds however claims are made.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence

from ._attempt import CODE_INTERRUPTED, INTERRUPTED, _delivery, _settle, attempt
from ._connector_states import ConnectorState
from ._interfaces import AttemptResult, Delivery, Outcome
from ._log_context import delivery_logging
from ._pipeline import CODE_PLUGIN_BUG
from ._secrets import secret_safe_logger
from .store import Claim, Finished

__all__ = ["attempt_batch", "take_batch"]

log = secret_safe_logger("writeback.worker")


def batch_limit(state: ConnectorState | AttemptResult) -> int:
    """How many claims one attempt of ``state``'s connector may carry."""
    return state.pipeline.batch_limit if isinstance(state, ConnectorState) else 1


def take_batch(ready: deque[Claim], first: Claim, limit: int) -> list[Claim]:
    """``first`` and up to ``limit - 1`` more claims of its connector, taken out of
    ``ready`` in queue order, at most one per appointment; the rest keep their order."""
    batch = [first]
    if limit <= 1 or first.connector_id is None or not ready:
        return batch
    appointments = {first.appointment_key}
    kept: list[Claim] = []
    while ready and len(batch) < limit:
        claim = ready.popleft()
        if claim.connector_id == first.connector_id and claim.appointment_key not in appointments:
            appointments.add(claim.appointment_key)
            batch.append(claim)
        else:
            kept.append(claim)
    ready.extendleft(reversed(kept))
    return batch


async def attempt_batch(
    claims: Sequence[Claim], state: ConnectorState | AttemptResult
) -> list[Finished]:
    """Attempt every claim of ``claims`` (one connector's) in one request; one
    :class:`Finished` each, in order.  The gate was admitted once for the request
    and is released once, judged by the answer that says the most about the
    endpoint (a 429 first, else a delivery)."""
    if len(claims) == 1 or not isinstance(state, ConnectorState):
        return [await attempt(claim, state) for claim in claims]
    ids = ",".join(claim.id for claim in claims)
    with delivery_logging(ids, claims[0].connector_name):
        return await _attempt_batch(claims, state)


async def _attempt_batch(claims: Sequence[Claim], state: ConnectorState) -> list[Finished]:
    started = time.time()
    clock = time.perf_counter()
    schedule = tuple(state.pipeline.connector.row.retry.schedule)
    results: list[AttemptResult | None] = [None] * len(claims)
    interrupted = False
    try:
        deliveries: dict[int, Delivery] = {}
        for i, claim in enumerate(claims):
            try:
                deliveries[i] = _delivery(claim, claim.attempts + 1)
            except Exception as exc:  # an unreadable stored event fails that one only
                results[i] = _bug(exc)
        sent = await state.pipeline.send_batch(list(deliveries.values()))
        for i, result in zip(deliveries, sent, strict=True):
            results[i] = result
    except asyncio.CancelledError:
        # Shutting down mid-request: it may have reached the endpoint, so each
        # counts as an attempt and goes back to the queue at once.
        interrupted = True
        cut = AttemptResult(Outcome.RETRY, error=INTERRUPTED, code=CODE_INTERRUPTED)
        results = [r or cut for r in results]
    except Exception as exc:  # the worker must record, whatever went wrong
        log.exception("deliveries %s: unexpected error", ",".join(c.id for c in claims))
        results = [r or _bug(exc) for r in results]
    finally:
        ended = [r for r in results if r is not None]
        state.gate.release(_telling(ended))
        if any(r.pause_connector for r in ended):
            state.pause_here()
    duration_ms = (time.perf_counter() - clock) * 1000
    finished = []
    for claim, result in zip(claims, results, strict=True):
        assert result is not None
        n = claim.attempts + 1
        wait = (0.0,) * n if interrupted else schedule
        finished.append(_settle(claim, n, started, duration_ms, result, wait))
    return finished


def _bug(exc: Exception) -> AttemptResult:
    return AttemptResult(Outcome.FAILED, error=f"{CODE_PLUGIN_BUG}: {exc!r}", code=CODE_PLUGIN_BUG)


def _telling(results: list[AttemptResult]) -> AttemptResult | None:
    """The one result the throttle judges a batch request by: a 429 (slow down),
    else a delivery (the endpoint works), else the first."""
    for result in results:
        if result.status_code == 429:
            return result
    for result in results:
        if result.outcome is Outcome.DELIVERED:
            return result
    return results[0] if results else None
