"""API keys: made once, kept as a hash, looked up by it.

A key is ``wbk_`` and 43 characters of ``secrets.token_urlsafe(32)``: 256 random
bits.  The store keeps its SHA-256 only; with that much entropy a fast hash is
enough (nothing to brute-force), and it lets a request find its key with one
lookup on the unique ``key_hash`` index instead of checking every row.

The ``api_keys`` table belongs to the core's schema (its migrations create it);
this module declares the columns it uses and works on the store's engine,
``Dispatcher.store.engine``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from writeback import UserError

__all__ = ["PREFIX", "SCOPES", "ApiKey", "ApiKeys", "hash_key"]

#: Every key starts with this, so a leaked one is recognisable (secret scanners).
PREFIX = "wbk_"
#: What a key may do: ``ingest`` posts events, ``read`` reads everything under
#: ``/v1``, ``admin`` does everything.
SCOPES = ("ingest", "read", "admin")
#: How often ``last_used_at`` is written for one key, at most: a write per
#: request would cost every ingest a transaction.
TOUCH_EVERY = 60.0

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

_metadata = MetaData()
api_keys = Table(
    "api_keys",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("scope", String(10), nullable=False),
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Column("last_used_at", Float, nullable=True),
)


def hash_key(key: str) -> str:
    """The hex SHA-256 the store keeps of ``key``."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without the key."""

    name: str
    scope: str
    created_at: float
    revoked_at: float | None
    last_used_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        """As ``api-keys list --json`` prints it (times ISO-8601 UTC)."""
        return {
            "name": self.name,
            "scope": self.scope,
            "active": self.active,
            "created_at": _iso(self.created_at),
            "revoked_at": _iso(self.revoked_at),
            "last_used_at": _iso(self.last_used_at),
        }


class ApiKeys:
    """Create, list, revoke and check API keys in one store."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # When each key's last_used_at was last written by this process.
        self._touched: dict[str, float] = {}

    def create(self, name: str, scope: str) -> str:
        """Store a new key's hash under ``name``; return the key (the only time it exists).

        :raises UserError: a name that is taken or odd, or an unknown scope.
        """
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise UserError(
                f"API key name {name!r} is not allowed; use 1-100 letters, digits, "
                "'.', '_' or '-', starting with a letter or digit."
            )
        if scope not in SCOPES:
            raise UserError(f"--scope {scope!r} is not a scope; allowed: {', '.join(SCOPES)}.")
        key = PREFIX + secrets.token_urlsafe(32)
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(api_keys).values(
                        name=name, scope=scope, key_hash=hash_key(key), created_at=time.time()
                    )
                )
        except IntegrityError:
            raise UserError(
                f"an API key named {name!r} exists already (revoked keys keep their name); "
                "choose another name."
            ) from None
        return key

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones too, by name."""
        with self._engine.begin() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.name)).all()
        return [_from_row(r) for r in rows]

    def revoke(self, name: str) -> bool:
        """Revoke the key ``name``; False when it was revoked already.

        :raises UserError: no key has that name.
        """
        with self._engine.begin() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.name == name)).first()
            if row is None:
                raise UserError(
                    f"no API key is named {name!r}; 'writeback api-keys list' shows them."
                )
            if row.revoked_at is not None:
                return False
            conn.execute(
                update(api_keys).where(api_keys.c.id == row.id).values(revoked_at=time.time())
            )
        return True

    def verify(self, key: str) -> ApiKey | None:
        """The active key whose hash ``key`` has, else None (blocking: call it off the loop)."""
        if not key.startswith(PREFIX) or len(key) > 200:
            return None
        digest = hash_key(key)
        with self._engine.begin() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_hash == digest)).first()
            # The index found it by hash; compare again in constant time anyway.
            if row is None or not secrets.compare_digest(row.key_hash, digest):
                return None
            if row.revoked_at is not None:
                return None
            now = time.time()
            if now - self._touched.get(row.name, 0.0) >= TOUCH_EVERY:
                self._touched[row.name] = now
                conn.execute(
                    update(api_keys).where(api_keys.c.id == row.id).values(last_used_at=now)
                )
        return _from_row(row)


def _from_row(row: Any) -> ApiKey:
    return ApiKey(row.name, row.scope, row.created_at, row.revoked_at, row.last_used_at)


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
