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

import functools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from writeback_testing._bc_limits import (
    BcLimits,
    Leaving,
    LimitStats,
    UserLimits,
    batch_answer,
    parse_batch,
    resolve,
    response_item,
)
from writeback_testing._bc_model import BcPlan, BcRequest, BcStep, StagingRow
from writeback_testing._odata import DEFAULTS, ERROR_CODES, SCHEMA, ODataError, parse_properties
from writeback_testing._server import LoopbackHandler, LoopbackServer

if TYPE_CHECKING:
    from writeback_testing.acceptors import Acceptor

__all__ = [
    "DEFAULT_COMPANY",
    "SCHEMA",
    "BcApiServer",
    "BcLimits",
    "BcPlan",
    "BcRequest",
    "BcStep",
    "StagingRow",
]

DEFAULT_COMPANY = "4f1c0000-0000-4000-8000-000000000001"
_API = "/api/dimeSoftware/dimeScheduler/v1.0"


class BcApiServer(LoopbackServer):
    """The staging API page of one company on a loopback port.

    :param auth: an :class:`~writeback_testing.acceptors.Acceptor`; None accepts anyone.
    :param plan: POST answers, consumed one per POST (then normal), or a callable
        given each request (any method) returning a :class:`BcStep` or None.
    :param omit_location: answer every created row without ``Location``.
    :param limits: per-user limits to enforce (:class:`BcLimits`: concurrency, a
        request budget per sliding window, 429 with ``Retry-After``); None: none.

    ``POST {service root}/$batch`` takes OData's JSON batch format (``_bc_limits``).
    """

    def __init__(
        self,
        *,
        auth: Acceptor | None = None,
        plan: BcPlan = None,
        omit_location: bool = False,
        company: str = DEFAULT_COMPANY,
        instance: str = "BC",
        limits: BcLimits | None = None,
    ) -> None:
        super().__init__()
        self.auth = auth
        self.omit_location = omit_location
        self.company = company
        self.base_path = f"/{instance}{_API}/companies({company})"
        self.root_path = f"/{instance}{_API}"
        self.user_limits = UserLimits(limits) if limits is not None else None
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

    @property
    def batch_url(self) -> str:
        """Where ``$batch`` requests go: the service root's ``$batch``."""
        return f"{self.url}{self.root_path}/$batch"

    def limit_stats(self, user: str | None = None) -> LimitStats:
        """What the per-user limits saw (``user`` None: the only one seen)."""
        if self.user_limits is None:
            raise RuntimeError("this BcApiServer was started without limits")
        return self.user_limits.stats(user)

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
        if self.user_limits is None:
            self._handle(handler, request)
            return
        user = request.principal or "anonymous"
        wait = self.user_limits.enter(user, self._cost(request))
        if wait is not None:
            error = ODataError(429, "Application_TooManyRequests", "Too many requests.")
            self._send_error(handler, request, error, {"Retry-After": f"{wait:.0f}"})
            return
        leaving = Leaving(handler, functools.partial(self.user_limits.leave, user))
        try:
            self._handle(leaving, request)  # type: ignore[arg-type]
        finally:
            leaving.leave()

    def _cost(self, request: BcRequest) -> int:
        """What ``request`` counts against the window: 1, or a batch's operations."""
        assert self.user_limits is not None
        if self.user_limits.limits.batch_counts_as == "operations" and _is_batch(request):
            found = request.json.get("requests") if isinstance(request.json, dict) else None
            return max(1, len(found)) if isinstance(found, list) else 1
        return 1

    def _handle(self, handler: LoopbackHandler, request: BcRequest) -> None:
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
        if path == f"{self.root_path}/$batch" and request.method == "POST":
            return self._batch(request, step)
        collection = f"{self.base_path}/appointments"
        if self.user_limits is not None and self.user_limits.limits.operation_seconds:
            self.sleep(self.user_limits.limits.operation_seconds)
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

    def _batch(self, request: BcRequest, step: BcStep) -> tuple[int, bytes, dict[str, str]]:
        """Each request of the batch as on its own (a callable plan sees each, with
        ``batch_id`` set), every answer inside one ``200``."""
        responses = []
        for item in parse_batch(request.json):
            body = item.get("body")
            sub = BcRequest(
                method=item["method"].upper(),
                path=resolve(item["url"], self.root_path),
                headers={str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()},
                body=b"" if body is None else json.dumps(body).encode(),
                json=body,
                connection=request.connection,
                received_at=time.time(),
                principal=request.principal,
                batch_id=item["id"],
            )
            with self._cond:
                self._requests.append(sub)
            plan = self._plan
            sub_step = (plan(sub) if callable(plan) else None) or BcStep()
            try:
                if sub_step.status is not None and sub_step.status >= 300:
                    code = sub_step.code or ERROR_CODES.get(sub_step.status, "BadRequest")
                    message = sub_step.message or f"Simulated HTTP {sub_step.status}."
                    raise ODataError(sub_step.status, code, message)
                status, answer, headers = self._serve(sub, sub_step)
            except ODataError as exc:
                status, headers = exc.status, dict(_JSON_HEADERS)
                answer = json.dumps({"error": {"code": exc.code, "message": exc.message}}).encode()
            self._answered(sub, status)
            responses.append(response_item(item["id"], status, headers, answer))
        if step.batch_answer == "invalid_json":
            return 200, b'{"responses": [', dict(_JSON_HEADERS)
        if step.batch_answer == "drop_last":
            responses = responses[:-1]
        return 200, batch_answer(responses), dict(_JSON_HEADERS)

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


def _is_batch(request: BcRequest) -> bool:
    return request.method == "POST" and urlsplit(request.path).path.endswith("/$batch")


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
