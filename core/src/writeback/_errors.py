"""One exception hierarchy for everything writeback reports to a person.

Each error has a stable code (``WB-…``, listed in docs/errors.md) that never
changes meaning, and a message that is one sentence saying what is wrong and
what to do.  ``UserError`` subclasses are bad input: the CLI prints them and
exits 2 without writing anything.
"""

from __future__ import annotations

__all__ = [
    "AttemptError",
    "ConnectorExistsError",
    "ConnectorNotFoundError",
    "DatabaseError",
    "DeliveryNotFoundError",
    "DuplicatePluginError",
    "EnvSecretMissingError",
    "InputFileError",
    "InvalidConnectorError",
    "InvalidEventError",
    "PluginLoadError",
    "PluginMissingError",
    "SchemaVersionError",
    "SecretKeyError",
    "UserError",
    "WritebackError",
]


class WritebackError(Exception):
    """Base of every error writeback raises on purpose."""

    code = "WB-000"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class UserError(WritebackError):
    """Bad input or usage: exit code 2, nothing written."""

    code = "WB-100"


class InvalidConnectorError(UserError):
    """A connector row does not agree with itself or with the installed plugins.

    ``problems`` holds one sentence per problem; the message joins them.
    """

    code = "WB-101"

    def __init__(self, problems: list[str], *, name: str | None = None) -> None:
        self.problems = list(problems)
        self.connector_name = name
        prefix = f"connector {name!r}: " if name else ""
        super().__init__(prefix + " ".join(self.problems))


class InvalidEventError(UserError):
    """An appointment event is malformed; ``problems`` holds one sentence each."""

    code = "WB-102"

    def __init__(self, problems: list[str], *, index: int | None = None) -> None:
        self.problems = list(problems)
        prefix = f"event #{index + 1}: " if index is not None else ""
        super().__init__(prefix + " ".join(self.problems))


class PluginMissingError(UserError):
    """A connector row names a plugin that is not installed."""

    code = "WB-103"


class PluginLoadError(UserError):
    """A connector row selects a plugin whose entry point failed to load."""

    code = "WB-104"


class DuplicatePluginError(UserError):
    """Two installed plugins declare the same name for the same kind."""

    code = "WB-105"


class ConnectorNotFoundError(UserError):
    code = "WB-106"


class DeliveryNotFoundError(UserError):
    code = "WB-107"


class ConnectorExistsError(UserError):
    code = "WB-108"


class InputFileError(UserError):
    """A file given on the command line cannot be read or parsed."""

    code = "WB-109"


class SecretKeyError(UserError):
    """The encryption key for secrets at rest is missing, malformed or wrong."""

    code = "WB-201"


class DatabaseError(UserError):
    """The store cannot be opened or is of a newer schema than this release."""

    code = "WB-401"


class SchemaVersionError(DatabaseError):
    """The store's schema is not the one this release works with: older (run
    ``writeback db upgrade``) or newer (upgrade writeback).  Nothing was changed.

    ``found`` is the store's revision, ``expected`` this release's;
    ``newer`` tells which way they differ.
    """

    code = "WB-402"

    def __init__(self, message: str, *, found: str, expected: str, newer: bool) -> None:
        super().__init__(message)
        self.found = found
        self.expected = expected
        self.newer = newer


class AttemptError(WritebackError):
    """A delivery attempt could not be made; recorded in the attempt, never raised to users.

    ``retryable`` tells the worker whether the attempt is ``retry`` or ``failed``.
    """

    code = "WB-300"
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, retryable: bool | None = None):
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable
        super().__init__(message)


class EnvSecretMissingError(AttemptError):
    """An ``env:NAME`` secret names a variable that is not set at send time."""

    code = "WB-202"
