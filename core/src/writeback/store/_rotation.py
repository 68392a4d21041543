"""Re-encrypting every stored secret with the first key (``writeback keys rotate``).

What is sealed at rest: the literal secrets of connector rows (``fernet:…``
values at the row's ``secret_paths``) and the access tokens of the ``tokens``
table.  Each is re-encrypted with the first configured key when the first key
alone cannot open it, in batches of short transactions, so that workers keep
running meanwhile.  Every write is a compare-and-swap on the value read (``…
WHERE id = :id AND row = :old``): a row another process changed in between is
read again, never overwritten.  A worker that reads a value mid-rotation gets
the old sealing or the new one; either opens with the keys it has, as long as it
has both keys (docs/security.md, "Rotating the key").

With a key file (no ``WRITEBACK_SECRET_KEY``) the rotation also makes the key:
a new key goes into the file first, before the old ones, so that every process
on this host seals with it and can open it (a :class:`SecretBox` made from the
file reads it again when it changes); the old keys are removed from the file
only once everything was re-encrypted and committed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select, update

from .._errors import SecretKeyError
from .._keyring import KEY_ENV, env_keys, generate_key, read_key_file, write_key_file
from .._secrets import SEALED_PREFIX, SecretBox
from ._engine import key_file_for
from ._schema import connectors, tokens

if TYPE_CHECKING:
    from . import Store

__all__ = ["BATCH", "RotationReport", "reseal_store", "rotate_keys"]

#: Rows re-encrypted per transaction: short enough that a worker waiting for
#: SQLite's write lock waits milliseconds, not the whole rotation.
BATCH = 100
_ROW_COLUMNS = (connectors.c.id, connectors.c.name, connectors.c.row, connectors.c.secret_paths)
#: How often a row changed by another process mid-rotation is read again.
_ROUNDS = 5


@dataclass
class RotationReport:
    """What a rotation did."""

    #: Connector rows rewritten, and the secrets re-encrypted in them.
    connectors: int = 0
    secrets: int = 0
    #: Access tokens re-encrypted.
    tokens: int = 0
    #: Tokens no configured key opens, forgotten (a worker fetches a new one).
    tokens_forgotten: int = 0
    #: Where the keys came from: ``WRITEBACK_SECRET_KEY`` or the key file's path.
    source: str = KEY_ENV
    #: With a key file: how many old keys were removed from it.
    keys_removed: int = 0

    def add(self, other: RotationReport) -> None:
        self.connectors += other.connectors
        self.secrets += other.secrets
        self.tokens += other.tokens
        self.tokens_forgotten += other.tokens_forgotten


def _resealed_row(box: SecretBox, name: str, text: str, paths_text: str) -> tuple[str, int] | None:
    """The row text with every secret not under the first key re-encrypted, and
    how many; ``None`` when nothing needs it."""
    row: dict[str, Any] = json.loads(text)
    changed = 0
    for path in json.loads(paths_text):
        section, _, key = path.partition(".")
        node = row.get(section)
        value = node.get(key) if isinstance(node, dict) else None
        if not isinstance(value, str) or not value.startswith(SEALED_PREFIX):
            continue
        sealed = value[len(SEALED_PREFIX) :]
        if box.is_current(sealed):
            continue
        resealed = box.reseal_text(sealed)
        if resealed is None:
            raise SecretKeyError(
                f"connector {name!r}: {path} cannot be decrypted with any configured key; "
                f"add the key it was stored with to {KEY_ENV} (keys separated by commas), "
                "then rotate again."
            )
        assert isinstance(node, dict)
        node[key] = SEALED_PREFIX + resealed
        changed += 1
    return (json.dumps(row), changed) if changed else None


def _check_connectors(engine: Engine, box: SecretBox) -> None:
    """Raise before anything is written when a stored secret opens with no key."""
    last = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(
                    connectors.c.id, connectors.c.name, connectors.c.row, connectors.c.secret_paths
                )
                .where(connectors.c.id > last)
                .order_by(connectors.c.id)
                .limit(BATCH)
            ).all()
        if not rows:
            return
        for r in rows:
            _resealed_row(box, r.name, r.row, r.secret_paths)
        last = rows[-1].id


def _reseal_connectors(engine: Engine, box: SecretBox, report: RotationReport) -> None:
    last = 0
    while True:
        with engine.begin() as conn:
            rows = (
                conn.execute(
                    select(connectors.c.id)
                    .where(connectors.c.id > last)
                    .order_by(connectors.c.id)
                    .limit(BATCH)
                )
                .scalars()
                .all()
            )
        if not rows:
            return
        todo = set(rows)
        for _ in range(_ROUNDS):
            if not todo:
                break
            todo = _reseal_connector_batch(engine, box, todo, report)
        last = rows[-1]


def _reseal_connector_batch(
    engine: Engine, box: SecretBox, ids: set[int], report: RotationReport
) -> set[int]:
    """Re-encrypt the rows ``ids`` (read, then written in one transaction each);
    the ids another process changed in between, to read again."""
    with engine.begin() as conn:
        rows = conn.execute(
            select(
                connectors.c.id, connectors.c.name, connectors.c.row, connectors.c.secret_paths
            ).where(connectors.c.id.in_(sorted(ids)))
        ).all()
    # Decrypting and encrypting happen outside the transaction: SQLite's write
    # lock is held only for the compare-and-swap updates.
    changes = []
    for r in rows:
        resealed = _resealed_row(box, r.name, r.row, r.secret_paths)
        if resealed is not None:
            changes.append((r.id, r.row, *resealed))
    lost: set[int] = set()
    if not changes:
        return lost
    with engine.begin() as conn:
        for row_id, old, new, count in changes:
            # updated_at is kept: the row means what it meant, and a worker keeps
            # the connector it built from it (its connections, its throttle).
            result = conn.execute(
                update(connectors)
                .where(connectors.c.id == row_id, connectors.c.row == old)
                .values(row=new)
            )
            if result.rowcount == 1:
                report.connectors += 1
                report.secrets += count
            else:
                lost.add(row_id)
    return lost


def _reseal_tokens(engine: Engine, box: SecretBox, report: RotationReport) -> None:
    last = ""
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(tokens.c.key, tokens.c.sealed_token)
                .where(tokens.c.key > last)
                .order_by(tokens.c.key)
                .limit(BATCH)
            ).all()
        if not rows:
            return
        last = rows[-1].key
        changes = [
            (r.key, r.sealed_token, box.reseal_text(r.sealed_token))
            for r in rows
            if r.sealed_token is not None and not box.is_current(r.sealed_token)
        ]
        if not changes:
            continue
        with engine.begin() as conn:
            for key, old, new in changes:
                # A token changed in between was stored by a worker with its first
                # key: the pass after the key file's change picks it up if needed.
                values: dict[str, Any] = (
                    {"sealed_token": new}
                    if new is not None
                    else {"sealed_token": None, "expires_at": None}
                )
                result = conn.execute(
                    update(tokens)
                    .where(tokens.c.key == key, tokens.c.sealed_token == old)
                    .values(**values)
                )
                if result.rowcount == 1 and new is not None:
                    report.tokens += 1
                elif result.rowcount == 1:
                    report.tokens_forgotten += 1


def reseal_store(engine: Engine, box: SecretBox) -> RotationReport:
    """Re-encrypt every stored secret and token the first key of ``box`` does not
    open, with that key.

    :raises SecretKeyError: before anything is written, when a connector's secret
        opens with none of the keys.
    """
    report = RotationReport()
    _check_connectors(engine, box)
    _reseal_connectors(engine, box, report)
    _reseal_tokens(engine, box, report)
    return report


@contextlib.contextmanager
def _key_file_lock(key_file: Path) -> Iterator[None]:
    """Only one rotation at a time per key file: two would each drop the key the
    other just wrote.  (A lock on the folder: the key file itself is replaced.)"""
    try:
        import fcntl
    except ImportError:  # not POSIX: run one rotation at a time by hand
        yield
        return
    import os

    folder = os.open(key_file.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        yield
    finally:
        os.close(folder)  # releases the lock


def rotate_keys(store: Store) -> RotationReport:
    """``writeback keys rotate``: re-encrypt every stored secret with the first key.

    With ``WRITEBACK_SECRET_KEY`` the keys are those it holds.  Else, with a key
    file: a new key is written into it first (the old ones kept after it), every
    secret is re-encrypted with it, and then the old keys are removed from the
    file; a second pass catches a token a worker sealed with an old key in
    between.  Stopped half-way, the key file still holds every key, and running
    the command again finishes the work.
    """
    keys = env_keys()
    if keys:
        return reseal_store(store.engine, SecretBox(keys))
    key_file = key_file_for(store.url)
    if key_file is None:
        raise SecretKeyError(
            f"an in-memory database has no stored key to rotate; set {KEY_ENV} or use a file."
        )
    with _key_file_lock(key_file):
        old = read_key_file(key_file)
        if old is None:
            raise SecretKeyError(
                f"the key file {key_file} does not exist; there is no key to rotate "
                f"(or restore it from a backup, or set {KEY_ENV})."
            )
        new = generate_key()
        box = SecretBox([new, *old])
        # Everything sealed now must open with a key this store's processes can
        # read: check before the file changes.
        _check_connectors(store.engine, box)
        write_key_file(key_file, [new, *old])
        report = reseal_store(store.engine, box)
        write_key_file(key_file, [new])
        report.add(reseal_store(store.engine, box))
    report.source = str(key_file)
    report.keys_removed = len(old)
    return report
