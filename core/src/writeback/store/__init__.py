"""The store: connectors, events, deliveries and attempts on SQLAlchemy Core."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from .._secrets import SecretBox
from ._connectors import ConnectorStore, StoredConnector
from ._engine import DB_ENV, DEFAULT_DB_URL, create_store_engine, key_file_for, migrate
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
        """Open (creating and migrating as needed) the database at ``url``."""
        engine = create_store_engine(url)
        # The key first: a server database without WRITEBACK_SECRET_KEY is refused
        # before anything connects to it.
        box = SecretBox.for_key_file(
            key_file_for(url), holds_secrets=lambda: holds_sealed_secrets(engine)
        )
        migrate(engine)
        work = create_store_engine(url, worker=True)
        outbox = Outbox(engine, work)
        return cls(url, engine, ConnectorStore(engine, box), outbox, TokenStore(engine, box), work)

    def close(self) -> None:
        self.engine.dispose()
        if self.work_engine is not None:
            self.work_engine.dispose()
