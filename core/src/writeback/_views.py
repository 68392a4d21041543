"""Typed views of deliveries, connectors and statistics, each with one ``to_dict()``.

What ``deliveries list|show --json``, ``connectors list|show --json`` and
``deliveries stats --json`` print, and what an HTTP API returns, is the
``to_dict()`` of these views: one shape, written once (docs/host-api.md, "Views").
Times are ISO-8601 UTC with ``Z``; secrets print as ``***``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ._errors import WritebackError

if TYPE_CHECKING:
    from ._registry import PluginRegistry
    from .store import AttemptRecord, ConnectorStats, DeliveryStats, StoredConnector

__all__ = [
    "AttemptView",
    "ConnectorStatsView",
    "ConnectorView",
    "DeliveryView",
    "StatsView",
]

#: Every status a delivery can have, in the order listings show them.
STATUSES = ("pending", "delivered", "dead", "superseded")


def iso(timestamp: float | None) -> str | None:
    """Unix seconds as ISO-8601 UTC with ``Z``, to the second; ``None`` stays ``None``."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, tz=UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class AttemptView:
    """One attempt of a delivery, as its ``history`` lists it."""

    n: int
    #: Unix seconds.
    started_at: float
    duration_ms: float
    status_code: int | None
    #: ``delivered``, ``retry`` or ``failed``.
    outcome: str
    #: The attempt's stable ``WB-…`` code; ``None`` when delivered.
    code: str | None
    error: str | None

    @classmethod
    def of(cls, record: AttemptRecord) -> AttemptView:
        """The view of an attempt as the store recorded it."""
        return cls(
            record.n,
            record.started_at,
            record.duration_ms,
            record.status_code,
            record.outcome,
            record.code,
            record.error,
        )

    def to_dict(self) -> dict[str, Any]:
        """``{"n", "started_at", "duration_ms", "status_code", "outcome", "code", "error"}``."""
        return {
            "n": self.n,
            "started_at": iso(self.started_at),
            "duration_ms": round(self.duration_ms, 1),
            "status_code": self.status_code,
            "outcome": self.outcome,
            "code": self.code,
            "error": self.error,
        }


@dataclass(frozen=True)
class DeliveryView:
    """A delivery: what was sent where, its status, and (when read alone) every attempt."""

    id: str
    event_id: str
    #: The connector's name (kept when the connector was removed).
    connector: str
    action: str
    #: The appointment's identity string (its guid, number or id).
    appointment: str
    status: str
    #: How many attempts were made.
    attempts: int
    last_error: str | None
    created_at: float
    updated_at: float
    #: When the next attempt is due (unix seconds); ``None`` unless ``pending``.
    next_attempt_at: float | None
    #: Every attempt, oldest first; ``None`` in listings, which leave it out.
    history: tuple[AttemptView, ...] | None = None
    #: Submission order: the position a page of a listing ends at.
    seq: int = field(default=0, compare=False)

    @classmethod
    def of(cls, row: Any, history: Sequence[AttemptRecord] | None = None) -> DeliveryView:
        """The view of a ``deliveries`` row (and of its attempts, for one delivery)."""
        return cls(
            id=row.id,
            event_id=row.event_id,
            connector=row.connector_name,
            action=row.action,
            appointment=row.appointment_key,
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            updated_at=row.updated_at,
            # A delivery that ended keeps its last due time in the row; nothing is
            # scheduled for it any more.
            next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
            history=None if history is None else tuple(AttemptView.of(h) for h in history),
            seq=row.seq,
        )

    def to_dict(self) -> dict[str, Any]:
        """As ``deliveries list --json`` prints each delivery; with ``"history"``
        (as ``deliveries show --json``) when the view holds the attempts."""
        data: dict[str, Any] = {
            "id": self.id,
            "event_id": self.event_id,
            "connector": self.connector,
            "action": self.action,
            "appointment": self.appointment,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "next_attempt_at": iso(self.next_attempt_at),
        }
        if self.history is not None:
            data["history"] = [h.to_dict() for h in self.history]
        return data


@dataclass(frozen=True)
class ConnectorView:
    """A connector row fit to show: secrets ``***``, URIs masked, the connector
    type's defaults for ``throttle`` and ``coalesce`` filled in."""

    name: str
    type: str
    api_type: str
    #: The auth method's name (``row["auth"]`` has its settings, masked).
    auth_method: str | None
    source_app: str
    enabled: bool
    #: A paused connector sends nothing; its deliveries wait.
    paused: bool
    paused_reason: str | None
    #: The whole row as shown, ``enabled`` included.
    row: Mapping[str, Any] = field(repr=False)

    @classmethod
    def of(cls, stored: StoredConnector, registry: PluginRegistry | None = None) -> ConnectorView:
        """The view of a stored row; ``registry`` supplies the type's defaults (left
        null without it, or when the type is not installed)."""
        row = _printable(stored)
        if registry is not None:
            _fill_type_defaults(row, registry, stored)
        auth = row.get("auth")
        return cls(
            name=stored.name,
            type=str(row.get("type")),
            api_type=str(row.get("api_type")),
            auth_method=auth.get("method") if isinstance(auth, dict) else None,
            source_app=str(row.get("source_app")),
            enabled=stored.enabled,
            paused=stored.paused,
            paused_reason=stored.paused_reason,
            row=row,
        )

    def to_dict(self) -> dict[str, Any]:
        """As ``connectors list|show --json`` print it: the row, then ``paused`` and
        ``paused_reason``."""
        data = copy.deepcopy(dict(self.row))
        data["enabled"] = self.enabled
        data["paused"] = self.paused
        data["paused_reason"] = self.paused_reason
        return data


def _printable(stored: StoredConnector) -> dict[str, Any]:
    """The row fit to print: secrets as ``***``, and the user-info and secret-looking
    parameters of its URIs masked (rows stored before they were refused, a token
    endpoint's query)."""
    from ._uri import mask_uri

    row = stored.masked()
    if isinstance(row.get("uri"), str):
        row["uri"] = mask_uri(row["uri"])
    for section in ("auth", "options"):
        values = row.get(section)
        if isinstance(values, dict):
            for key, value in values.items():
                if isinstance(value, str) and "://" in value:
                    values[key] = mask_uri(value)
    return row


def _fill_type_defaults(
    row: dict[str, Any], registry: PluginRegistry, stored: StoredConnector
) -> None:
    """``throttle``/``coalesce`` left out of the row are the connector type's defaults,
    and ``throttle.group`` the group the worker will use: show those, not null (they
    stay null when the type is not installed)."""
    try:
        spec = registry.connector_type(row["type"])
    except WritebackError:
        return
    if row.get("throttle") is None:
        default = spec.throttle_default
        row["throttle"] = {"max_concurrency": default.max_concurrency, "rate": default.rate}
    if row.get("coalesce") is None:
        row["coalesce"] = spec.coalesce_default
    if isinstance(row["throttle"], dict) and row["throttle"].get("group") is None:
        row["throttle"]["group"] = _effective_group(stored, spec)


def _effective_group(stored: StoredConnector, spec: Any) -> str | None:
    """The throttle group the worker derives for a row that names none (a ``bc``
    row's environment and principal); ``None`` when the row no longer parses."""
    if spec.default_throttle_group is None:
        return stored.name
    from ._models import Connector
    from ._validation import throttle_group_of

    try:  # the sealed row: a group is made of names, never of a secret
        row = Connector.model_validate(stored.sealed_row)
        options = spec.options_model.model_validate(row.options or {})
        return throttle_group_of(row, spec, options)
    except Exception:  # a view never fails on a row a newer plugin would refuse
        return None


@dataclass(frozen=True)
class ConnectorStatsView:
    """One connector's deliveries by status (or the whole outbox's, as ``(all)``)."""

    connector: str
    counts: Mapping[str, int]
    #: Seconds since the oldest pending delivery was submitted; ``None``: none pending.
    oldest_pending_age: float | None
    submitted: int
    #: submitted = delivered + dead + superseded + pending (pruned ones included).
    balanced: bool
    #: Ended deliveries that retention removed; counted as submitted.
    pruned: int = 0
    #: The connector is paused: its deliveries wait.
    paused: bool = False
    paused_reason: str | None = None

    @classmethod
    def of(cls, entry: ConnectorStats) -> ConnectorStatsView:
        """The view of the store's figures for one connector."""
        return cls(
            entry.connector,
            {status: entry.counts.get(status, 0) for status in STATUSES},
            entry.oldest_pending_age,
            entry.submitted,
            entry.balanced,
            pruned=entry.pruned,
            paused=entry.paused,
            paused_reason=entry.paused_reason,
        )

    def to_dict(self) -> dict[str, Any]:
        """``{"connector", "pending", "delivered", "dead", "superseded", "submitted",
        "pruned", "oldest_pending_age_s", "balanced", "paused", "paused_reason"}``."""
        age = self.oldest_pending_age
        return {
            "connector": self.connector,
            **{status: self.counts.get(status, 0) for status in STATUSES},
            "submitted": self.submitted,
            "pruned": self.pruned,
            "oldest_pending_age_s": None if age is None else round(age, 1),
            "balanced": self.balanced,
            "paused": self.paused,
            "paused_reason": self.paused_reason,
        }


@dataclass(frozen=True)
class StatsView:
    """``deliveries stats``: per connector, the totals, attempts, and the ledger check."""

    connectors: tuple[ConnectorStatsView, ...]
    totals: ConnectorStatsView
    #: Attempt records in the store.
    attempts: int

    @classmethod
    def of(cls, stats: DeliveryStats) -> StatsView:
        """The view of the store's statistics."""
        return cls(
            tuple(ConnectorStatsView.of(e) for e in stats.connectors),
            ConnectorStatsView.of(stats.totals),
            stats.attempts,
        )

    @property
    def balanced(self) -> bool:
        """True when every connector's ledger (and the totals) balance."""
        return all(e.balanced for e in (*self.connectors, self.totals))

    def to_dict(self) -> dict[str, Any]:
        """``{"connectors": [...], "totals": {...}, "attempts", "balanced"}``."""
        return {
            "connectors": [e.to_dict() for e in self.connectors],
            "totals": self.totals.to_dict(),
            "attempts": self.attempts,
            "balanced": self.balanced,
        }
