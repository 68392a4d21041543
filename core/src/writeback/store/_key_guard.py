"""Whether a database already holds secrets sealed with a key.

Asked when the key file of a SQLite database is missing: if connectors with
literal secrets are stored, the file was lost (not yet made), and making a new
key would turn every one of those secrets, and every pending delivery of those
connectors, into a decryption error.
"""

from __future__ import annotations

import json

from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import DatabaseError as SQLAlchemyDatabaseError

from .._errors import DatabaseError
from .._secrets import SEALED_PREFIX
from ._schema import connectors

__all__ = ["holds_sealed_secrets"]


def holds_sealed_secrets(engine: Engine) -> bool:
    """True when a stored connector row has a secret sealed with a key (``fernet:…``).

    :raises DatabaseError: when the database cannot be read (as opening it would
        say), so that no key is made for a database that may hold secrets.
    """
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(connectors.name):
                return False  # a new database
            rows = conn.execute(select(connectors.c.row, connectors.c.secret_paths)).all()
    except SQLAlchemyDatabaseError as exc:
        raise DatabaseError(f"the database cannot be opened: {exc.orig}") from None
    for row, paths in rows:
        data = json.loads(row)
        for path in json.loads(paths):
            section, _, key = path.partition(".")
            node = data.get(section)
            value = node.get(key) if isinstance(node, dict) else None
            if isinstance(value, str) and value.startswith(SEALED_PREFIX):
                return True
    return False
