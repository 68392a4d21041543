"""The store: connectors, events, deliveries and attempts on SQLAlchemy Core."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from .._secrets import SecretBox
from ._connectors import ConnectorStore, StoredConnector
from ._engine import (
    DB_ENV,
    DEFAULT_DB_URL,
    create_store_engine,
    current_revision,
    ensure_schema,
    key_file_for,
    migrate,
)
from ._key_guard import holds_sealed_secrets
from ._ledger import STATUSES, ConnectorStats, DeliveryStats
from ._loop import LoopRunner
from ._outbox import (
    AttemptRecord,
    Claim,
    Finished,
    Outbox,
    Target,
    WriteLockBusy,
    new_delivery_id,
)
from ._schema import SCHEMA_REVISION
from ._tokens import SharedToken, TokenStore

__all__ = [
    "DB_ENV",
    "DEFAULT_DB_URL",
    "SCHEMA_REVISION",
    "STATUSES",
    "AttemptRecord",
    "Claim",
    "ConnectorStats",
    "ConnectorStore",
    "DeliveryStats",
    "Finished",
    "LoopRunner",
    "Outbox",
    "SharedToken",
    "Store",
    "StoredConnector",
    "Target",
    "TokenStore",
    "WriteLockBusy",
    "create_store_engine",
    "current_revision",
    "key_file_for",
    "migrate",
    "new_delivery_id",
]


@dataclass
class Store:
    """One database: its engine, the secrets key, and the two repositories."""

    url: str
    engine: Engine
    connectors: ConnectorStore
    outbox: Outbox
    #: Access tokens shared by the processes using this database
    #: (docs/tokens.md, "TokenSource").
    tokens: TokenStore
    #: The worker's bookkeeping engine: commits that need not wait for the disk.
    work_engine: Engine | None = None

    @classmethod
    def open(cls, url: str) -> Store:
        """Open the database at ``url``; a new one is created at the current schema.

        :raises SchemaVersionError: when the store's schema is older (run
            ``writeback db upgrade``) or newer than this release; nothing is changed.
        :raises SecretKeyError: for a missing or malformed key.
        """
        from .._keyring import env_keys

        engine = create_store_engine(url)
        try:
            # The keys first: a server database without WRITEBACK_SECRET_KEY, or a
            # malformed key, is refused before anything connects or is created.
            key_file = key_file_for(url)
            env_keys()
            ensure_schema(engine)
            box = SecretBox.for_key_file(
                key_file, holds_secrets=lambda: holds_sealed_secrets(engine)
            )
        except BaseException:
            engine.dispose()
            raise
        work = create_store_engine(url, worker=True)
        outbox = Outbox(engine, work)
        return cls(url, engine, ConnectorStore(engine, box), outbox, TokenStore(engine, box), work)

    def close(self) -> None:
        self.engine.dispose()
        if self.work_engine is not None:
            self.work_engine.dispose()
