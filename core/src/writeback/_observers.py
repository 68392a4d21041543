"""Attempt observers: plugins told of every attempt that ended.

A plugin implementing ``writeback_attempt_finished(record)`` is called once per
attempt, after the worker has recorded it, with an :class:`AttemptFinished`.
Observers watch; they never steer: one that raises is logged and the delivery
goes on as if it were not installed.  With none installed the worker builds
no record at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._secrets import REDACTOR, secret_safe_logger

if TYPE_CHECKING:
    from .store import Finished

__all__ = ["AttemptFinished", "Observer", "Observers"]

log = secret_safe_logger("writeback.observers")


@dataclass(frozen=True, slots=True)
class AttemptFinished:
    """One attempt that ended, as recorded."""

    #: The delivery's id (``dlv_…``).
    delivery_id: str
    #: The connector's name.
    connector: str
    #: ``create``, ``update`` or ``delete``.
    action: str
    #: The appointment's identity string (as ``deliveries list`` shows it).
    appointment: str
    #: The attempt's number, 1 for the first.
    n: int
    #: ``delivered``, ``retry`` or ``failed``.
    outcome: str
    #: The HTTP status answered, or ``None`` (no answer, or not HTTP).
    status_code: int | None
    #: The attempt's stable ``WB-…`` code; ``None`` when delivered.
    code: str | None
    #: What went wrong, redacted; ``None`` when delivered.
    error: str | None
    #: How long the attempt took, in milliseconds.
    duration_ms: float
    #: The delivery's status after this attempt: ``delivered``, ``pending`` or ``dead``.
    delivery_status: str


@dataclass(frozen=True)
class Observer:
    """One plugin's ``writeback_attempt_finished`` implementation."""

    plugin: str
    distribution: str
    call: Callable[[AttemptFinished], object]


class Observers:
    """The installed observers, called in turn for each recorded attempt.

    An observer that raises is logged once per worker run, with the exception's
    first line redacted (its traceback could quote a secret); later failures of
    the same observer are counted and summed up by :meth:`close`.
    """

    def __init__(self, observers: Sequence[Observer]) -> None:
        self._observers = tuple(observers)
        self._failures: dict[str, int] = {}

    def __bool__(self) -> bool:
        return bool(self._observers)

    def notify(self, finished: Iterable[Finished]) -> None:
        """Tell every observer of each of ``finished``, in order."""
        if not self._observers:
            return
        for done in finished:
            record = _record(done)
            for observer in self._observers:
                try:
                    observer.call(record)
                except Exception as exc:  # an observer never affects a delivery
                    self._failed(observer, exc)

    def close(self) -> None:
        """Say how often each failing observer failed after its first, logged failure."""
        for observer in self._observers:
            more = self._failures.get(observer.plugin, 0) - 1
            if more > 0:
                log.warning(
                    "attempt observer %s (%s) raised %d more time(s) in this run",
                    observer.plugin,
                    observer.distribution,
                    more,
                )
        self._failures.clear()

    def _failed(self, observer: Observer, exc: Exception) -> None:
        count = self._failures.get(observer.plugin, 0) + 1
        self._failures[observer.plugin] = count
        if count == 1:
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            log.warning(
                "attempt observer %s (%s) raised %s: %s; deliveries go on, and further "
                "failures of it in this run are only counted",
                observer.plugin,
                observer.distribution,
                type(exc).__name__,
                REDACTOR.redact(first),
            )


def _record(done: Finished) -> AttemptFinished:
    claim, attempt = done.claim, done.attempt
    return AttemptFinished(
        claim.id,
        claim.connector_name,
        claim.action,
        claim.appointment_key,
        attempt.n,
        attempt.outcome,
        attempt.status_code,
        attempt.code,
        attempt.error,
        attempt.duration_ms,
        done.status,
    )
