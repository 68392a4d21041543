"""The store: connectors, events, deliveries and attempts on SQLAlchemy Core."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from .._secrets import SecretBox
from ._connectors import ConnectorStore, StoredConnector
from ._engine import DB_ENV, DEFAULT_DB_URL, create_store_engine, key_file_for, migrate
from ._outbox import AttemptRecord, Claim, Outbox, new_delivery_id
from ._schema import SCHEMA_REVISION

__all__ = [
    "DB_ENV",
    "DEFAULT_DB_URL",
    "SCHEMA_REVISION",
    "AttemptRecord",
    "Claim",
    "ConnectorStore",
    "Outbox",
    "Store",
    "StoredConnector",
    "new_delivery_id",
]


@dataclass
class Store:
    """One database: its engine, the secrets key, and the two repositories."""

    url: str
    engine: Engine
    connectors: ConnectorStore
    outbox: Outbox

    @classmethod
    def open(cls, url: str) -> Store:
        """Open (creating and migrating as needed) the database at ``url``."""
        engine = create_store_engine(url)
        migrate(engine)
        box = SecretBox.for_key_file(key_file_for(url))
        return cls(url, engine, ConnectorStore(engine, box), Outbox(engine))

    def close(self) -> None:
        self.engine.dispose()
