"""Access tokens shared by every process that uses one database.

Several workers on one database must make one token request per token
lifetime per connector, not one each.  A row per token key holds the current
token (Fernet-encrypted, like every secret at rest), a generation counter that
a 401 invalidates by compare-and-swap, and a lease: the process holding it
fetches, the others wait for its token.  Every statement is a single-row
``UPDATE … WHERE`` whose condition is re-checked under the row lock, so the
same code is correct on SQLite (one writer at a time) and PostgreSQL.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from .._secrets import secret_safe_logger
from ._schema import tokens

if TYPE_CHECKING:
    from .._secrets import SecretBox
    from .._tokens import Token

__all__ = ["SharedToken", "TokenStore"]

log = secret_safe_logger("writeback.tokens")


@dataclass(frozen=True)
class SharedToken:
    """A token row as read: the token (``None`` when none is held) and its generation."""

    token: Token | None
    generation: int
    leased: bool


class TokenStore:
    """The ``tokens`` table: read, lease, store and invalidate tokens by key."""

    def __init__(self, engine: Engine, box: SecretBox) -> None:
        self._engine = engine
        self._box = box
        self._known: set[str] = set()

    def _ensure_row(self, key: str) -> None:
        if key in self._known:
            return
        with self._engine.begin() as conn:
            found = conn.execute(select(tokens.c.key).where(tokens.c.key == key)).first()
        if found is None:
            try:
                with self._engine.begin() as conn:
                    conn.execute(
                        insert(tokens).values(key=key, generation=0, updated_at=time.time())
                    )
            except IntegrityError:
                pass  # another process created it between our read and insert
        self._known.add(key)

    def read(self, key: str) -> SharedToken:
        """The token stored under ``key`` (decrypted), its generation and whether it is leased."""
        from .._tokens import Token, remember_for_redaction

        with self._engine.begin() as conn:
            row = conn.execute(select(tokens).where(tokens.c.key == key)).first()
        if row is None:
            return SharedToken(None, 0, False)
        now = time.time()
        leased = row.lease_owner is not None and (row.lease_expires_at or 0) > now
        if row.sealed_token is None or row.expires_at is None:
            return SharedToken(None, row.generation, leased)
        text = self._box.open_text(row.sealed_token)
        if text is None:
            # Sealed with another key (WRITEBACK_SECRET_KEY changed): fetch anew.
            log.warning("token %s cannot be decrypted with this key; fetching a new one", key)
            return SharedToken(None, row.generation, leased)
        data = json.loads(text)
        token = Token(
            access_token=data["access_token"],
            token_type=data.get("token_type") or "Bearer",
            scope=data.get("scope"),
            obtained_at=row.obtained_at or now,
            expires_at=row.expires_at,
            generation=row.generation,
        )
        # Another process fetched it: this one must still remove it from every text.
        remember_for_redaction(token)
        return SharedToken(token, row.generation, leased)

    def acquire(self, key: str, owner: str, seconds: float) -> bool:
        """Take the fetch lease of ``key`` for ``seconds`` unless another process holds it."""
        self._ensure_row(key)
        now = time.time()
        with self._engine.begin() as conn:
            result = conn.execute(
                update(tokens)
                .where(
                    tokens.c.key == key,
                    or_(
                        tokens.c.lease_owner.is_(None),
                        tokens.c.lease_expires_at < now,
                        tokens.c.lease_owner == owner,
                    ),
                )
                .values(lease_owner=owner, lease_expires_at=now + seconds)
            )
        return result.rowcount == 1

    def release(self, key: str, owner: str) -> None:
        """Give the lease back without a token (the fetch failed)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(tokens)
                .where(tokens.c.key == key, tokens.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    def put(self, key: str, owner: str, token: Token) -> int | None:
        """Store ``token`` and release the lease, if ``owner`` still holds it.

        :returns: the token's generation, or ``None`` when the lease had passed
            to another process (the token is still good for this one).
        """
        payload = json.dumps(
            {
                "access_token": token.access_token,
                "token_type": token.token_type,
                "scope": token.scope,
            }
        )
        with self._engine.begin() as conn:
            generation = conn.execute(
                update(tokens)
                .where(tokens.c.key == key, tokens.c.lease_owner == owner)
                .values(
                    sealed_token=self._box.seal_text(payload),
                    obtained_at=token.obtained_at,
                    expires_at=token.expires_at,
                    generation=tokens.c.generation + 1,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=time.time(),
                )
                .returning(tokens.c.generation)
            ).scalar()
        return generation

    def invalidate(self, key: str, generation: int) -> bool:
        """Forget the token of ``generation`` (a 401 answered it); False when it is gone already."""
        with self._engine.begin() as conn:
            result = conn.execute(
                update(tokens)
                .where(
                    tokens.c.key == key,
                    tokens.c.generation == generation,
                    tokens.c.sealed_token.is_not(None),
                )
                .values(sealed_token=None, expires_at=None, updated_at=time.time())
            )
        return result.rowcount == 1
