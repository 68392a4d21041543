"""Secrets: ``env:NAME`` references, encryption at rest, masking and redaction.

- A secret written ``env:NAME`` is read from the environment when a delivery is
  sent and never stored as a value.
- Literal secrets are stored Fernet-encrypted (``fernet:<token>``) with a key
  from ``WRITEBACK_SECRET_KEY`` or a key file created with mode 0600 beside the
  database.  Every literal is encrypted, one that starts with ``fernet:`` too,
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
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from ._errors import EnvSecretMissingError, SecretKeyError
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
KEY_ENV = "WRITEBACK_SECRET_KEY"


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
    """Encrypts literal secrets of a row for the store, and decrypts them back."""

    def __init__(self, key: bytes) -> None:
        from cryptography.fernet import Fernet

        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise SecretKeyError(
                f"{KEY_ENV} (or the key file) does not hold a valid Fernet key; "
                "make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'."
            ) from None

    @classmethod
    def for_key_file(
        cls, key_file: Path | None, *, holds_secrets: Callable[[], bool] | None = None
    ) -> SecretBox:
        """The key from ``WRITEBACK_SECRET_KEY``, else ``key_file`` (created 0600 when absent).

        :param holds_secrets: asked when the key file is missing: whether the
            database already holds secrets sealed with a key.  Then the file was
            lost, and a new key would make every one of them undecryptable, so
            :class:`SecretKeyError` is raised instead of making one.
        """
        from cryptography.fernet import Fernet

        env_key = os.environ.get(KEY_ENV)
        if env_key:
            return cls(env_key.strip().encode())
        if key_file is None:
            # An in-memory database: nothing outlives the process, neither may the key.
            return cls(Fernet.generate_key())
        key = _read_key(key_file)
        if key is None and holds_secrets is not None and holds_secrets():
            # Another process opening a new database may have made the key meanwhile.
            key = _read_key(key_file)
            if key is None:
                raise SecretKeyError(
                    f"the key file {key_file} is missing, but the database holds secrets "
                    f"encrypted with its key; restore the file from a backup, or set {KEY_ENV} "
                    "to that key."
                )
        return cls(key if key is not None else _create_key_file(key_file))

    def seal(self, row: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
        """A copy of ``row`` with every literal secret encrypted.

        Every value that is not an ``env:`` reference is a literal given by the
        user, even one that looks sealed already (``fernet:…``): it is always
        encrypted, so that the stored form never depends on what the value looks like.
        """
        out = copy.deepcopy(dict(row))
        for path in paths:
            node, key = _walk(out, path)
            value = node.get(key) if node is not None else None
            if not isinstance(value, str) or value.startswith(ENV_PREFIX):
                continue
            assert node is not None
            REDACTOR.add(value)
            node[key] = SEALED_PREFIX + self._fernet.encrypt(value.encode()).decode()
        return out

    def seal_text(self, value: str) -> str:
        """``value`` encrypted (for a value that is not part of a row: a cached token)."""
        return self._fernet.encrypt(value.encode()).decode()

    def open_text(self, sealed: str) -> str | None:
        """The text :meth:`seal_text` sealed; ``None`` when this key cannot open it."""
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            return None

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
                node[key] = self._fernet.decrypt(value[len(SEALED_PREFIX) :]).decode()
            except InvalidToken:
                raise SecretKeyError(
                    f"connector {out.get('name')!r}: {path} cannot be decrypted with this key; "
                    f"set {KEY_ENV} to the key the connector was stored with, or add the "
                    "connector again."
                ) from None
            REDACTOR.add(node[key])
        return out


def _read_key(key_file: Path) -> bytes | None:
    """The key in ``key_file``; ``None`` when there is no such file."""
    try:
        return key_file.read_bytes().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretKeyError(
            f"the key file {key_file} cannot be read ({exc.strerror}); give this user read "
            f"access to it, or set {KEY_ENV}."
        ) from None


def _create_key_file(key_file: Path) -> bytes:
    """Make a new key in ``key_file``, unless another process did first: the key it holds.

    The key is written whole to a private temporary file, which is then linked
    to its name: of several processes opening a new database at once, exactly
    one link succeeds, and the others read a complete key, never an empty file.
    """
    from cryptography.fernet import Fernet

    key = Fernet.generate_key()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{key_file.name}.", dir=key_file.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        while True:
            try:
                os.link(temp, key_file)
            except FileExistsError:
                found = _read_key(key_file)
                if found is not None:
                    return found
                continue  # removed again in between: try once more to be the one
            return key
    finally:
        os.unlink(temp)
