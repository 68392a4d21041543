"""What the BC simulator (:mod:`.bc_api`) answers with and keeps: failure plans,
requests as seen, staging rows."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

__all__ = ["BcPlan", "BcRequest", "BcStep", "StagingRow"]


@dataclass(frozen=True)
class BcStep:
    """How to answer one POST.

    ``status`` None processes the request as BC would; a 2xx also creates the row
    but answers with that status; 4xx/5xx create nothing and answer an OData
    error (``code``/``message``, defaults per status). ``omit_location`` leaves
    the ``Location`` header out; ``retry_after`` adds ``Retry-After``; ``delay``
    waits first; ``drop`` resets the connection without answering.
    ``batch_answer`` spoils a ``$batch`` answer: ``"invalid_json"`` answers 200
    with a body that is not JSON, ``"drop_last"`` leaves the last response out.
    """

    status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after: int | str | None = None
    delay: float = 0.0
    drop: bool = False
    omit_location: bool = False
    headers: Mapping[str, str] | None = None
    batch_answer: Literal["invalid_json", "drop_last"] | None = None


@dataclass
class BcRequest:
    """One request as the server saw it; ``status`` None while pending or when dropped."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    connection: int
    received_at: float
    principal: str | None = None
    status: int | None = None
    dropped: bool = False
    #: For a request inside a ``$batch``: its ``id`` there (``None``: an HTTP request).
    batch_id: str | None = None


@dataclass
class StagingRow:
    """One staging row BC stored: the properties sent, defaults for the rest."""

    id: str
    fields: dict[str, Any]
    resources: list[dict[str, Any]]
    principal: str | None
    version: int = 1
    modified: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def etag(self) -> str:
        token = base64.b64encode(f"{self.id};{self.version}".encode()).decode()
        return f'W/"{token}"'

    def entity(self, *, expand: bool = False) -> dict[str, Any]:
        data = {"@odata.etag": self.etag, "id": self.id, **self.fields}
        data["lastModifiedDateTime"] = self.modified
        if expand:
            data["resources"] = [dict(r) for r in self.resources]
        return data


BcPlan: TypeAlias = Sequence[BcStep] | Callable[[BcRequest], BcStep | None] | None
