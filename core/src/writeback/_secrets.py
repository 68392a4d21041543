"""Secrets: ``env:NAME`` references, encryption at rest, masking and redaction.

- A secret written ``env:NAME`` is read from the environment when a delivery is
  sent and never stored as a value.
- Literal secrets are stored Fernet-encrypted (``fernet:<token>``) with a key
  from ``WRITEBACK_SECRET_KEY`` or a key file created with mode 0600 beside the
  database (:mod:`writeback._keyring`; several keys for a rotation, the first
  encrypts).  Every literal is encrypted, one that starts with ``fernet:`` too,
  so that a stored value never depends on what the given one looks like.
- The key file is made by exactly one process, whole; once secrets are sealed
  with it, a missing key file is an error, never a reason to make a new key.
- Every printed form shows ``***`` for a literal secret.
- Every value revealed or decrypted is remembered by :data:`REDACTOR`
  (:mod:`writeback._redaction`), which removes it, in every form it travels in,
  from error texts before they are stored and from log records before they are
  written.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from ._errors import EnvSecretMissingError, SecretKeyError
from ._keyring import KEY_ENV
from ._redaction import MASK, REDACTOR, RedactingFilter, Redactor

__all__ = [
    "ENV_PREFIX",
    "KEY_ENV",
    "MASK",
    "REDACTOR",
    "RedactingFilter",
    "Redactor",
    "SecretBox",
    "mask_row",
    "reveal",
    "secret_safe_logger",
]

ENV_PREFIX = "env:"
SEALED_PREFIX = "fernet:"


def secret_safe_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with :class:`RedactingFilter` attached (once), so that
    an application embedding writeback gets redacted records whatever its handlers."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger


def reveal(secret: SecretStr | str | None) -> str | None:
    """The value of a secret setting; ``env:NAME`` is read from the environment now.

    :raises EnvSecretMissingError: when the variable is not set.
    """
    if secret is None:
        return None
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX) :]
        if name not in os.environ:
            raise EnvSecretMissingError(
                f"the environment variable {name} named by an env: secret is not set; "
                f"set it in the worker's environment."
            )
        value = os.environ[name]
    REDACTOR.add(value)
    return value


def _walk(row: dict[str, Any], path: str) -> tuple[dict[str, Any] | None, str]:
    section, _, key = path.partition(".")
    node = row.get(section)
    return (node if isinstance(node, dict) else None), key


def mask_row(row: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """A copy of ``row`` fit to print: literal secrets as ``***``, ``env:`` references kept."""
    out = copy.deepcopy(dict(row))
    for path in paths:
        node, key = _walk(out, path)
        if node is None or node.get(key) is None:
            continue
        value = node[key]
        if isinstance(value, str) and value.startswith(ENV_PREFIX):
            continue
        node[key] = MASK
    return out


class SecretBox:
    """Encrypts literal secrets of a row for the store, and decrypts them back.

    Holds one key or several (``WRITEBACK_SECRET_KEY=NEW,OLD``, or a key file of
    several lines): the first encrypts, every one decrypts (Fernet's MultiFernet).
    A box made from a key file reads the file again when it has changed, so that
    a process running while ``writeback keys rotate`` writes a new key into it
    seals with the new key and opens what was sealed with it.
    """

    def __init__(self, keys: bytes | Sequence[bytes], *, key_file: Path | None = None) -> None:
        from ._keyring import parse_keys

        given = [keys] if isinstance(keys, bytes) else list(keys)
        where = (
            f"the key file {key_file}" if key_file is not None else f"{KEY_ENV} (or the key file)"
        )
        self._keys = parse_keys([k.decode("utf-8", "surrogateescape") for k in given], where, "key")
        self._key_file = key_file
        self._stamp = _stamp(key_file)
        self._build()

    def _build(self) -> None:
        from cryptography.fernet import Fernet, MultiFernet

        self._primary = Fernet(self._keys[0])
        self._fernet = MultiFernet([Fernet(k) for k in self._keys])

    @property
    def keys(self) -> tuple[bytes, ...]:
        """The keys, the one that encrypts first."""
        return tuple(self._keys)

    def _refresh(self) -> bool:
        """Read the key file again if it changed since it was read; True when the keys did."""
        if self._key_file is None:
            return False
        from ._keyring import read_key_file

        stamp = _stamp(self._key_file)
        if stamp == self._stamp:
            return False
        keys = read_key_file(self._key_file)
        self._stamp = stamp
        if keys is None or keys == self._keys:
            return False  # gone meanwhile: keep the keys this process has
        self._keys = keys
        self._build()
        return True

    def _decrypt(self, sealed: str) -> bytes:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            if not self._refresh():
                raise
        return self._fernet.decrypt(sealed)

    @classmethod
    def for_key_file(
        cls, key_file: Path | None, *, holds_secrets: Callable[[], bool] | None = None
    ) -> SecretBox:
        """The keys from ``WRITEBACK_SECRET_KEY``, else ``key_file`` (created 0600 when absent).

        :param holds_secrets: asked when the key file is missing: whether the
            database already holds secrets sealed with a key.  Then the file was
            lost, and a new key would make every one of them undecryptable, so
            :class:`SecretKeyError` is raised instead of making one.
        """
        from ._keyring import create_key_file, env_keys, generate_key, read_key_file

        keys = env_keys()
        if keys:
            return cls(keys)
        if key_file is None:
            # An in-memory database: nothing outlives the process, neither may the key.
            return cls(generate_key())
        keys = read_key_file(key_file)
        if keys is None and holds_secrets is not None and holds_secrets():
            # Another process opening a new database may have made the key meanwhile.
            keys = read_key_file(key_file)
            if keys is None:
                raise SecretKeyError(
                    f"the key file {key_file} is missing, but the database holds secrets "
                    f"encrypted with its key; restore the file from a backup, or set {KEY_ENV} "
                    "to that key."
                )
        if keys is None:
            keys = [create_key_file(key_file)]
        return cls(keys, key_file=key_file)

    def seal(self, row: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
        """A copy of ``row`` with every literal secret encrypted with the first key.

        Every value that is not an ``env:`` reference is a literal given by the
        user, even one that looks sealed already (``fernet:…``): it is always
        encrypted, so that the stored form never depends on what the value looks like.
        """
        self._refresh()
        out = copy.deepcopy(dict(row))
        for path in paths:
            node, key = _walk(out, path)
            value = node.get(key) if node is not None else None
            if not isinstance(value, str) or value.startswith(ENV_PREFIX):
                continue
            assert node is not None
            REDACTOR.add(value)
            node[key] = SEALED_PREFIX + self._primary.encrypt(value.encode()).decode()
        return out

    def seal_text(self, value: str) -> str:
        """``value`` encrypted (for a value that is not part of a row: a cached token)."""
        self._refresh()
        return self._primary.encrypt(value.encode()).decode()

    def open_text(self, sealed: str) -> str | None:
        """The text :meth:`seal_text` sealed; ``None`` when no key opens it."""
        from cryptography.fernet import InvalidToken

        try:
            return self._decrypt(sealed).decode()
        except InvalidToken:
            return None

    def is_current(self, sealed: str) -> bool:
        """True when the first key alone opens ``sealed`` (nothing to re-encrypt)."""
        from cryptography.fernet import InvalidToken

        try:
            self._primary.decrypt(sealed)
        except InvalidToken:
            return False
        return True

    def reseal_text(self, sealed: str) -> str | None:
        """``sealed`` opened with whichever key opens it and encrypted with the first;
        ``None`` when no key opens it."""
        from cryptography.fernet import InvalidToken

        try:
            text = self._decrypt(sealed)
        except InvalidToken:
            return None
        return self._primary.encrypt(text).decode()

    def open(self, row: Mapping[str, Any], paths: Iterable[str] | None = None) -> dict[str, Any]:
        """A copy of a stored row with its secrets decrypted (and remembered for redaction).

        :param paths: the secrets :meth:`seal` sealed (``auth.password``, …): only
            those are decrypted, so that another field that happens to start with
            ``fernet:`` is left as it is.  ``None``: every ``fernet:`` value of
            ``auth`` and ``options``.
        """
        from cryptography.fernet import InvalidToken

        out = copy.deepcopy(dict(row))
        if paths is None:
            paths = [
                f"{section}.{key}"
                for section in ("auth", "options")
                if isinstance(out.get(section), dict)
                for key in out[section]
            ]
        for path in paths:
            node, key = _walk(out, path)
            value = node.get(key) if node is not None else None
            if not isinstance(value, str) or not value.startswith(SEALED_PREFIX):
                continue
            assert node is not None
            try:
                node[key] = self._decrypt(value[len(SEALED_PREFIX) :]).decode()
            except InvalidToken:
                raise SecretKeyError(
                    f"connector {out.get('name')!r}: {path} cannot be decrypted with any "
                    f"configured key; add the key the connector was stored with to {KEY_ENV} "
                    "(keys separated by commas), or add the connector again."
                ) from None
            REDACTOR.add(node[key])
        return out


def _stamp(key_file: Path | None) -> tuple[int, int, int] | None:
    """What changes when the key file is replaced or written (``None``: no file)."""
    if key_file is None:
        return None
    try:
        info = os.stat(key_file)
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)
