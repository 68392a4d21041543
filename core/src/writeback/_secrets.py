"""Secrets: ``env:NAME`` references, encryption at rest, masking and redaction.

- A secret written ``env:NAME`` is read from the environment when a delivery is
  sent and never stored as a value.
- Literal secrets are stored Fernet-encrypted (``fernet:<token>``) with a key
  from ``WRITEBACK_SECRET_KEY`` or a key file created with mode 0600 beside the
  database.
- Every printed form shows ``***`` for a literal secret.
- Every revealed value is remembered by :data:`REDACTOR`, which removes it from
  error texts before they are stored and from log records before they are written.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from ._errors import EnvSecretMissingError, SecretKeyError

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
MASK = "***"


class Redactor:
    """Remembers secret values and removes them from text."""

    #: Values shorter than this are not redacted: replacing "a" everywhere would
    #: wreck every message and hide nothing worth hiding.
    MIN_LENGTH = 3

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        if value and len(value) >= self.MIN_LENGTH:
            with self._lock:
                self._values.add(value)

    def redact(self, text: str | None) -> str | None:
        if not text:
            return text
        # Longest first, so that a secret containing another is removed whole.
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, MASK)
        return text


REDACTOR = Redactor()


class RedactingFilter(logging.Filter):
    """A logging filter that removes known secrets from every record it passes."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redactor.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


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
    def for_key_file(cls, key_file: Path | None) -> SecretBox:
        """The key from ``WRITEBACK_SECRET_KEY``, else ``key_file`` (created 0600 when absent)."""
        from cryptography.fernet import Fernet

        env_key = os.environ.get(KEY_ENV)
        if env_key:
            return cls(env_key.strip().encode())
        if key_file is None:
            # An in-memory database: nothing outlives the process, neither may the key.
            return cls(Fernet.generate_key())
        if key_file.exists():
            return cls(key_file.read_bytes().strip())
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key + b"\n")
        return cls(key)

    def seal(self, row: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
        """A copy of ``row`` with every literal secret encrypted."""
        out = copy.deepcopy(dict(row))
        for path in paths:
            node, key = _walk(out, path)
            value = node.get(key) if node is not None else None
            if not isinstance(value, str) or value.startswith((ENV_PREFIX, SEALED_PREFIX)):
                continue
            assert node is not None
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

    def open(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of a stored row with its secrets decrypted."""
        from cryptography.fernet import InvalidToken

        out = copy.deepcopy(dict(row))
        for section in ("auth", "options"):
            node = out.get(section)
            if not isinstance(node, dict):
                continue
            for key, value in node.items():
                if isinstance(value, str) and value.startswith(SEALED_PREFIX):
                    try:
                        node[key] = self._fernet.decrypt(value[len(SEALED_PREFIX) :]).decode()
                    except InvalidToken:
                        raise SecretKeyError(
                            f"connector {out.get('name')!r}: {section}.{key} cannot be decrypted "
                            f"with this key; set {KEY_ENV} to the key the connector was stored "
                            "with, or add the connector again."
                        ) from None
        return out
