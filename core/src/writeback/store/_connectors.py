"""Connector rows in the store: stored validated, secrets sealed."""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, true, update

from .._errors import ConnectorExistsError, ConnectorNotFoundError
from .._secrets import SecretBox, mask_row
from .._uri import mask_uri
from .._validation import ValidatedConnector
from ._schema import connectors, deliveries

__all__ = ["ConnectorStore", "StoredConnector"]


@dataclass(frozen=True)
class StoredConnector:
    """A connector as stored: its row (secrets decrypted on demand) and bookkeeping."""

    id: int
    name: str
    enabled: bool
    sealed_row: dict[str, Any]
    secret_paths: tuple[str, ...]
    updated_at: float
    #: A paused connector sends nothing; its deliveries stay pending (``pause``).
    paused: bool = False
    #: Why it was paused: what ``connectors pause --reason`` said, or what paused
    #: it automatically (a webhook's ``410 Gone``); ``None`` when not given.
    paused_reason: str | None = None

    def masked(self) -> dict[str, Any]:
        """The row fit to print: literal secrets as ``***``, the URI masked."""
        row = mask_row(self.sealed_row, self.secret_paths)
        row["uri"] = mask_uri(row["uri"])
        row["enabled"] = self.enabled
        return row


def _from_db(r: Any) -> StoredConnector:
    row = json.loads(r.row)
    row["enabled"] = bool(r.enabled)
    return StoredConnector(
        id=r.id,
        name=r.name,
        enabled=bool(r.enabled),
        sealed_row=row,
        secret_paths=tuple(json.loads(r.secret_paths)),
        updated_at=r.updated_at,
        paused=bool(r.paused),
        paused_reason=r.paused_reason,
    )


class ConnectorStore:
    """Add, read, enable, disable and remove connector rows."""

    def __init__(self, engine: Engine, box: SecretBox) -> None:
        self._engine = engine
        self._box = box
        # Rows parsed for matching, by id: (the row's columns, parsed).  A row
        # any process changed in any column is parsed again.
        self._parsed: dict[int, tuple[tuple[Any, ...], StoredConnector]] = {}

    def add(self, validated: Sequence[ValidatedConnector], *, replace: bool = False) -> None:
        """Store every row in one transaction: all or nothing.

        :raises ConnectorExistsError: when a name is taken and ``replace`` is false.
        """
        now = time.time()
        names = [v.name for v in validated]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConnectorExistsError(
                f"the file names connector {dupes[0]!r} more than once; names must be unique."
            )
        with self._engine.begin() as conn:
            for item in validated:
                paths = item.secret_paths()
                raw = item.row.model_dump(mode="json", exclude_none=False)
                values = {
                    "type": item.type_spec.name,
                    "api_type": item.format_spec.name,
                    "auth_method": item.auth_spec.name,
                    "enabled": item.row.enabled,
                    "source_app": item.row.source_app,
                    "row": json.dumps(self._box.seal(raw, paths)),
                    "secret_paths": json.dumps(list(paths)),
                    "updated_at": now,
                }
                existing = conn.execute(
                    select(connectors.c.id).where(connectors.c.name == item.name)
                ).scalar()
                if existing is not None and not replace:
                    raise ConnectorExistsError(
                        f"connector {item.name!r} already exists; use --replace to overwrite it."
                    )
                if existing is not None:
                    conn.execute(
                        update(connectors).where(connectors.c.id == existing).values(values)
                    )
                else:
                    conn.execute(
                        connectors.insert().values(name=item.name, created_at=now, **values)
                    )

    def list(self) -> list[StoredConnector]:
        with self._engine.begin() as conn:
            rows = conn.execute(select(connectors).order_by(connectors.c.name)).all()
        return [_from_db(r) for r in rows]

    def enabled_for(
        self, source_apps: Collection[str], conn: Connection | None = None
    ) -> dict[str, list[StoredConnector]]:
        """The enabled connectors of each of ``source_apps``, by name within each.

        One query on the ``source_app`` index, whatever the number of connectors:
        what ``submit`` matches events against.  Rows are read afresh each time
        (so a change made by another process counts at once), but parsed only
        when new or changed (in any column) since this process last parsed
        them.  The returned objects are shared: read them, do not change them.

        :param conn: run in this transaction (the submit's own), else in one of its own.
        """
        wanted = sorted(set(source_apps))
        if not wanted:
            return {}
        query = (
            select(connectors)
            .where(connectors.c.source_app.in_(wanted), connectors.c.enabled == true())
            .order_by(connectors.c.name)
        )
        if conn is None:
            with self._engine.begin() as own:
                rows = own.execute(query).all()
        else:
            rows = conn.execute(query).all()
        found: dict[str, list[StoredConnector]] = {}
        for r in rows:
            columns = tuple(r)
            cached = self._parsed.get(r.id)
            if cached is None or cached[0] != columns:
                cached = self._parsed[r.id] = (columns, _from_db(r))
            found.setdefault(r.source_app, []).append(cached[1])
        return found

    def get(self, name: str) -> StoredConnector:
        with self._engine.begin() as conn:
            row = conn.execute(select(connectors).where(connectors.c.name == name)).first()
        if row is None:
            raise ConnectorNotFoundError(self._not_found(name))
        return _from_db(row)

    def get_by_id(self, connector_id: int) -> StoredConnector | None:
        with self._engine.begin() as conn:
            row = conn.execute(select(connectors).where(connectors.c.id == connector_id)).first()
        return _from_db(row) if row is not None else None

    def opened_row(self, stored: StoredConnector) -> dict[str, Any]:
        """The row with its secrets decrypted, for validation and sending."""
        return self._box.open(stored.sealed_row, stored.secret_paths)

    def set_enabled(self, name: str, enabled: bool) -> None:
        with self._engine.begin() as conn:
            result = conn.execute(
                update(connectors)
                .where(connectors.c.name == name)
                .values(enabled=enabled, updated_at=time.time())
            )
        if result.rowcount == 0:
            raise ConnectorNotFoundError(self._not_found(name))

    def set_paused(self, name: str, paused: bool, reason: str | None = None) -> bool:
        """Pause (with ``reason``) or resume a connector; its deliveries are untouched.

        Pausing does not change ``updated_at``: the row itself is the same, so
        workers keep their pipeline and only stop (or go on) sending.

        :returns: whether it was paused before.
        :raises ConnectorNotFoundError: for an unknown name (nothing changed).
        """
        with self._engine.begin() as conn:
            before = conn.execute(
                select(connectors.c.paused).where(connectors.c.name == name)
            ).first()
            if before is not None:
                conn.execute(
                    update(connectors)
                    .where(connectors.c.name == name)
                    .values(paused=paused, paused_reason=reason if paused else None)
                )
        # Raised outside the transaction: naming the known connectors reads the
        # table again, which must not wait for the lock this one held.
        if before is None:
            raise ConnectorNotFoundError(self._not_found(name))
        return bool(before.paused)

    def remove(self, name: str) -> int:
        """Remove a connector; its pending deliveries go ``dead`` (kept, replayable no more).

        :returns: how many pending deliveries were given up.
        """
        now = time.time()
        with self._engine.begin() as conn:
            connector_id = conn.execute(
                select(connectors.c.id).where(connectors.c.name == name)
            ).scalar()
            if connector_id is None:
                # Named from this transaction: a second one would wait for the
                # write lock this one holds (SQLite's BEGIN IMMEDIATE).
                raise ConnectorNotFoundError(self._not_found(name, conn))
            result = conn.execute(
                update(deliveries)
                .where(deliveries.c.connector_id == connector_id, deliveries.c.status == "pending")
                .values(
                    status="dead",
                    last_error="WB-106: the connector was removed before this was delivered.",
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            )
            conn.execute(
                update(deliveries)
                .where(deliveries.c.connector_id == connector_id)
                .values(connector_id=None)
            )
            conn.execute(delete(connectors).where(connectors.c.id == connector_id))
        return result.rowcount

    def _not_found(self, name: str, conn: Connection | None = None) -> str:
        if conn is None:
            names = [c.name for c in self.list()]
        else:
            query = select(connectors.c.name).order_by(connectors.c.name).limit(10)
            names = list(conn.execute(query).scalars())
        known = ", ".join(repr(n) for n in names[:10]) or "none yet"
        return f"no connector named {name!r}; known connectors: {known}."
