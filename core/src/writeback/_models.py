"""The connector row, as written in JSON or YAML files and stored.

Every key is described in docs/connectors.md, "Row keys".

This model checks the row on its own.  Whether its ``type``, ``api_type`` and
``auth`` agree with the installed plugins is checked by
:func:`writeback.plugin.validate_connector`, which also parses ``auth`` and ``options``
with the plugins' own settings models.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ._limits import MAX_SCHEDULE_WAIT, unsendable
from ._problems import shown
from ._uri import uri_problem

__all__ = ["CRUD_TYPES", "DEFAULT_RETRY_SCHEDULE", "Connector", "RetryPolicy", "Throttle", "no_nul"]

CRUD_TYPES = ("create", "update", "delete")


def no_nul(value: Any) -> Any:
    """A field validator: refuses a string that holds a NUL character.

    For fields stored as columns of their own (names, keys), not inside a JSON
    document: PostgreSQL's text cannot hold NUL, and such a row failed there
    with a traceback (SQLite took it).
    """
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("holds a NUL character (\\u0000); give it without one.")
    return value


#: Seconds to wait before attempt 2, 3, …; Svix's schedule less its immediate first retry.
DEFAULT_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
_RATE = re.compile(r"^\s*([0-9]{1,20})\s*/\s*([0-9]{1,20}(?:\.[0-9]{1,20})?)\s*s\s*$")
#: Bounds of a throttle rate: requests per window, and the window in seconds.
MAX_RATE_REQUESTS = 1_000_000
MIN_RATE_WINDOW, MAX_RATE_WINDOW = 0.001, 86400.0
#: A throttle group's name: letters, digits and ``. _ - : @ /``, up to 100 characters.
MAX_GROUP_LENGTH = 100
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-:@/]*")
#: Plugin names are short words; a longer one is a mistake, quoted cut short.
MAX_NAME_LENGTH = 50

_WAIT_ALLOWED = (
    f"every wait is a finite number of seconds from 0 to {MAX_SCHEDULE_WAIT:g} (one day)"
)


def _wait_number(value: Any) -> Any:
    # pydantic reads true as 1.0; a wait of "true" is a mistake, not one second.
    if isinstance(value, bool):
        raise PydanticCustomError("wait_bounds", _WAIT_ALLOWED)
    return value


def _wait_bounds(value: float) -> float:
    if not (math.isfinite(value) and 0 <= value <= MAX_SCHEDULE_WAIT):
        raise PydanticCustomError("wait_bounds", _WAIT_ALLOWED)
    return value


Wait = Annotated[float, BeforeValidator(_wait_number), AfterValidator(_wait_bounds)]


def refuse_unsendable(data: Any) -> Any:
    """A ``model_validator(mode="before")``: refuses what could not be stored and sent
    as JSON (see :func:`writeback._limits.unsendable`), naming where it is."""
    problem = unsendable(data)
    if problem is not None:
        raise ValueError(problem)
    return data


CrudType = Literal["create", "update", "delete"]


class RetryPolicy(BaseModel):
    """When to try again after a ``retry`` outcome."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Seconds to wait before attempt 2, 3, …; its length + 1 is the most attempts.
    #: Each from 0 to a day, the cap an endpoint's ``Retry-After`` has too.
    schedule: tuple[Wait, ...] = Field(default=DEFAULT_RETRY_SCHEDULE, max_length=100)


class Throttle(BaseModel):
    """How hard one endpoint may be pushed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: At most this many requests in flight to the endpoint.
    max_concurrency: int | None = Field(default=None, ge=1, le=1000)
    #: At most this many requests per window, written ``"6000/300s"``.
    rate: str | None = None
    #: Connectors with the same group share one budget across the fleet;
    #: ``None``: the connector type's default group (the connector's own name).
    group: str | None = None

    @field_validator("group")
    @classmethod
    def _group_shape(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if len(value) > MAX_GROUP_LENGTH or not _GROUP.fullmatch(value):
            raise ValueError(
                f"{shown(value)} is not a throttle group; give 1 to {MAX_GROUP_LENGTH} "
                "characters, each a letter, a digit or one of ._-:@/, the first a letter "
                "or digit."
            )
        return value

    @field_validator("rate")
    @classmethod
    def _rate_shape(cls, value: str | None) -> str | None:
        if value is None:
            return value
        match = _RATE.match(value)
        if (
            not match
            or not 1 <= int(match.group(1)) <= MAX_RATE_REQUESTS
            or not MIN_RATE_WINDOW <= float(match.group(2)) <= MAX_RATE_WINDOW
        ):
            raise ValueError(
                f"{shown(value)} is not a rate; write requests per window like '6000/300s', "
                f"with 1 to {MAX_RATE_REQUESTS} requests and a window of {MIN_RATE_WINDOW:g} "
                f"to {MAX_RATE_WINDOW:g} seconds."
            )
        return value

    def per_second(self) -> float | None:
        """The rate as requests per second, or ``None`` for no limit."""
        if self.rate is None:
            return None
        match = _RATE.match(self.rate)
        assert match is not None
        return int(match.group(1)) / float(match.group(2))


class Connector(BaseModel):
    """One connector row: one back-office endpoint that hears about appointments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Unique human name.
    name: str = Field(min_length=1, max_length=100)
    #: Free text.
    description: str = ""
    #: Connector type plugin name (``bc``, ``nav``, ``webhook``, …).
    type: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    #: False: ignored by dispatch.
    enabled: bool = True
    #: The web service endpoint (``http`` or ``https``).
    uri: str
    #: Format plugin name (``json`` or its alias ``rest``, ``soap``).
    api_type: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    #: Routing key, compared exactly with the appointment's ``sourceApp``.
    source_app: str = Field(min_length=1, max_length=30)
    #: Which changes this connector hears about.
    crud_types: tuple[CrudType, ...] = CRUD_TYPES
    #: ``{"method": …, <that method's settings>}``.
    auth: dict[str, Any] = Field(default_factory=lambda: {"method": "none"})
    #: When to try again.
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    #: Endpoint limits; ``None``: the connector type's default.
    throttle: Throttle | None = None
    #: Replace pending updates by later changes; ``None``: the connector type's default.
    coalesce: bool | None = None
    #: Settings of the connector type, validated by its ``options_model``.
    options: dict[str, Any] = Field(default_factory=dict)

    # The row's own columns; the rest is kept as JSON.
    _columns_without_nul = field_validator("name", "source_app")(no_nul)
    _sendable = model_validator(mode="before")(refuse_unsendable)

    @field_validator("type", "api_type")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name is blank; give the connector a name.")
        return value.strip()

    @field_validator("uri")
    @classmethod
    def _http_uri(cls, value: str) -> str:
        problem = uri_problem(value)
        if problem is not None:
            # shown() masks user-info and secret-looking parameters.
            raise ValueError(f"uri {shown(value)} {problem}.")
        return value

    @field_validator("crud_types")
    @classmethod
    def _crud_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("crud_types is empty; give one or more of create, update, delete.")
        return tuple(dict.fromkeys(value))

    @field_validator("auth")
    @classmethod
    def _auth_method(cls, value: dict[str, Any]) -> dict[str, Any]:
        method = value.get("method")
        if not isinstance(method, str) or not method.strip() or len(method) > MAX_NAME_LENGTH:
            raise ValueError(
                "auth.method is required: one of none, basic, windows, ntlm, entra, oauth2."
            )
        return {**value, "method": method.strip().lower()}

    @property
    def auth_method(self) -> str:
        return str(self.auth["method"])

    def auth_settings(self) -> dict[str, Any]:
        """The ``auth`` object without its ``method`` key."""
        return {k: v for k, v in self.auth.items() if k != "method"}
