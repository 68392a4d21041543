"""A Business Central API page for tests: the vendor extension's staging entity set.

OData v4 over JSON, as Microsoft documents BC's API pages: ``POST`` creates a staging row
and answers ``201`` with the entity, its ``@odata.etag`` and a ``Location``
header; properties the page does not define, values of the wrong type and
over-long texts are refused with BC's error shape ``{"error": {"code",
"message"}}``; ``PATCH``/``DELETE`` need ``If-Match`` and a stale ETag gives
``409 Request_EntityChanged``.  A failure plan makes POSTs answer 429/503 with
``Retry-After``, 5xx, drop the connection, wait, or leave ``Location`` out.
Every request is kept in arrival order, every row in creation order.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import parse_qs, unquote, urlsplit

from writeback_testing._odata import DEFAULTS, ERROR_CODES, SCHEMA, ODataError, parse_properties
from writeback_testing._server import LoopbackHandler, LoopbackServer

if TYPE_CHECKING:
    from writeback_testing.acceptors import Acceptor

__all__ = [
    "DEFAULT_COMPANY",
    "SCHEMA",
    "BcApiServer",
    "BcPlan",
    "BcRequest",
    "BcStep",
    "StagingRow",
]

DEFAULT_COMPANY = "4f1c0000-0000-4000-8000-000000000001"
_API = "/api/dimeSoftware/dimeScheduler/v1.0"


@dataclass(frozen=True)
class BcStep:
    """How to answer one POST.

    ``status`` None processes the request as BC would; a 2xx also creates the row
    but answers with that status; 4xx/5xx create nothing and answer an OData
    error (``code``/``message``, defaults per status). ``omit_location`` leaves
    the ``Location`` header out; ``retry_after`` adds ``Retry-After``; ``delay``
    waits first; ``drop`` resets the connection without answering.
    """

    status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after: int | str | None = None
    delay: float = 0.0
    drop: bool = False
    omit_location: bool = False
    headers: Mapping[str, str] | None = None


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


class BcApiServer(LoopbackServer):
    """The staging API page of one company on a loopback port.

    :param auth: an :class:`~writeback_testing.acceptors.Acceptor`; None accepts anyone.
    :param plan: POST answers, consumed one per POST (then normal), or a callable
        given each request (any method) returning a :class:`BcStep` or None.
    :param omit_location: answer every created row without ``Location``.
    """

    def __init__(
        self,
        *,
        auth: Acceptor | None = None,
        plan: BcPlan = None,
        omit_location: bool = False,
        company: str = DEFAULT_COMPANY,
        instance: str = "BC",
    ) -> None:
        super().__init__()
        self.auth = auth
        self.omit_location = omit_location
        self.company = company
        self.base_path = f"/{instance}{_API}/companies({company})"
        self._cond = threading.Condition()
        self._requests: list[BcRequest] = []
        self._rows: dict[str, StagingRow] = {}
        self._plan: deque[BcStep] | Callable[[BcRequest], BcStep | None] | None = None
        self.set_plan(plan)

    # -- for tests ----------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The entity set's URL: what a ``bc`` connector row's ``uri`` is."""
        return f"{self.url}{self.base_path}/appointments"

    def set_plan(self, plan: BcPlan) -> None:
        """Replace the failure plan (steps of the old one not yet used are forgotten)."""
        with self._cond:
            self._plan = plan if plan is None or callable(plan) else deque(plan)

    @property
    def requests(self) -> list[BcRequest]:
        """Every request in arrival order (a copy of the list)."""
        with self._cond:
            return list(self._requests)

    @property
    def rows(self) -> list[StagingRow]:
        """The staging rows in creation order (a copy of the list)."""
        with self._cond:
            return list(self._rows.values())

    def wait_for(self, n: int, timeout: float = 10.0) -> list[StagingRow]:
        """Block until ``n`` rows exist; return them all, or raise AssertionError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._rows) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [f"{r.method} {r.path} -> {r.status}" for r in self._requests]
                    raise AssertionError(
                        f"expected {n} staging rows within {timeout}s, got {len(self._rows)}; "
                        f"requests: {seen or 'none'}"
                    )
                self._cond.wait(left)
            return list(self._rows.values())

    # -- serving ------------------------------------------------------------

    def handle_request(self, handler: LoopbackHandler) -> None:
        request = BcRequest(
            method=handler.command,
            path=handler.path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=handler.body,
            json=_json_or_none(handler.body),
            connection=handler.connection_id,
            received_at=time.time(),
        )
        with self._cond:
            self._requests.append(request)
        if self.auth is not None:
            request.principal = self.auth.authenticate(handler)
            if request.principal is None:
                self._answered(request, 401)
                return
        step = self._step(request)
        if (step.delay and self.sleep(step.delay)) or step.drop:
            with self._cond:
                request.dropped = True
                self._cond.notify_all()
            handler.drop()
            return
        extra = dict(step.headers or {})
        if step.retry_after is not None:
            extra["Retry-After"] = str(step.retry_after)
        if step.status is not None and step.status >= 300:
            code = step.code or ERROR_CODES.get(step.status, "Internal_ServerError")
            error = ODataError(step.status, code, step.message or f"Simulated HTTP {step.status}.")
            self._send_error(handler, request, error, extra)
            return
        try:
            status, body, headers = self._serve(request, step)
        except ODataError as exc:
            self._send_error(handler, request, exc, extra)
            return
        self._answered(request, status)
        handler.respond(status, body, {**headers, **extra})

    def _step(self, request: BcRequest) -> BcStep:
        with self._cond:
            plan = self._plan
            if isinstance(plan, deque):
                return plan.popleft() if plan and request.method == "POST" else BcStep()
        return (plan(request) if plan is not None else None) or BcStep()

    def _answered(self, request: BcRequest, status: int) -> None:
        with self._cond:
            request.status = status
            self._cond.notify_all()

    def _send_error(
        self, handler: LoopbackHandler, request: BcRequest, error: ODataError, extra: dict[str, str]
    ) -> None:
        self._answered(request, error.status)
        body = json.dumps({"error": {"code": error.code, "message": error.message}}).encode()
        handler.respond(error.status, body, {**_JSON_HEADERS, **extra})

    def _serve(self, request: BcRequest, step: BcStep) -> tuple[int, bytes, dict[str, str]]:
        parts = urlsplit(request.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        collection = f"{self.base_path}/appointments"
        expand = query.get("$expand") == ["resources"]
        if path == collection:
            if request.method in ("GET", "HEAD"):
                return self._list(query, expand)
            if request.method == "POST":
                return self._create(request, step)
            raise ODataError(405, "BadRequest_MethodNotAllowed", f"{request.method} not allowed.")
        if path.startswith(collection + "(") and path.endswith(")"):
            key = path[len(collection) + 1 : -1]
            return self._entity(request, key, expand)
        raise ODataError(
            404,
            "BadRequest_NotFound",
            f"No HTTP resource was found that matches the request URI '{parts.path}'.",
        )

    def _list(self, query: dict[str, list[str]], expand: bool) -> tuple[int, bytes, dict[str, str]]:
        unknown = [k for k in query if k.startswith("$") and k not in ("$top", "$skip", "$expand")]
        if unknown:
            raise ODataError(400, "BadRequest_NotSupported", f"{unknown[0]} is not simulated.")
        rows = self.rows
        skip = int(query.get("$skip", ["0"])[0])
        top = int(query["$top"][0]) if "$top" in query else None
        chosen = rows[skip:] if top is None else rows[skip : skip + top]
        value = [r.entity(expand=expand) for r in chosen]
        body = {"@odata.context": self._context(), "value": value}
        return 200, json.dumps(body).encode(), dict(_JSON_HEADERS)

    def _create(self, request: BcRequest, step: BcStep) -> tuple[int, bytes, dict[str, str]]:
        fields, resources = parse_properties(request.json, creating=True)
        row = StagingRow(
            id=str(uuid.uuid4()),
            fields={
                name: fields.get(name, "I" if kind == "enum" else DEFAULTS[kind])
                for name, (kind, _) in SCHEMA.items()
            },
            resources=resources,
            principal=request.principal,
        )
        with self._cond:
            self._rows[row.id] = row
            self._cond.notify_all()
        headers = {**_JSON_HEADERS, "ETag": row.etag}
        if not (self.omit_location or step.omit_location):
            headers["Location"] = f"{self.endpoint}({row.id})"
        entity = {"@odata.context": self._context("/$entity"), **row.entity()}
        return step.status or 201, json.dumps(entity).encode(), headers

    def _entity(
        self, request: BcRequest, key: str, expand: bool
    ) -> tuple[int, bytes, dict[str, str]]:
        with self._cond:
            row = self._rows.get(key)
        if row is None:
            raise ODataError(
                404, "BadRequest_NotFound", f"The Appointment does not exist. Identification: {key}"
            )
        if request.method in ("GET", "HEAD"):
            entity = {"@odata.context": self._context("/$entity"), **row.entity(expand=expand)}
            return 200, json.dumps(entity).encode(), {**_JSON_HEADERS, "ETag": row.etag}
        if request.method not in ("PATCH", "DELETE"):
            raise ODataError(405, "BadRequest_MethodNotAllowed", f"{request.method} not allowed.")
        if_match = request.headers.get("if-match")
        if not if_match:
            raise ODataError(428, "Request_PreconditionRequired", "An If-Match header is required.")
        if request.method == "PATCH":
            fields, resources = parse_properties(request.json, creating=False)
        with self._cond:
            if if_match != "*" and if_match != row.etag:
                raise ODataError(
                    409,
                    "Request_EntityChanged",
                    "Another user has already changed the record.",
                )
            if request.method == "DELETE":
                del self._rows[key]
                return 204, b"", {}
            row.fields.update(fields)
            if resources:
                row.resources = resources
            row.version += 1
            row.modified = datetime.now(UTC).isoformat()
            entity = {"@odata.context": self._context("/$entity"), **row.entity()}
        return 200, json.dumps(entity).encode(), {**_JSON_HEADERS, "ETag": row.etag}

    def _context(self, suffix: str = "") -> str:
        root = self.base_path.split("/companies(")[0]
        return f"{self.url}{root}/$metadata#companies({self.company})/appointments{suffix}"


_JSON_HEADERS = {
    "Content-Type": "application/json; odata.metadata=minimal; odata.streaming=true",
    "OData-Version": "4.0",
}


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
