"""Business Central online's per-user limits and its JSON ``$batch``, for :mod:`.bc_api`.

Microsoft documents, per user (principal): a few requests at once, a number
of requests per sliding window (6,000 per 5 minutes online), ``429`` with
``Retry-After`` beyond them, and at most 100 operations in one ``$batch``.  It
does not document how a batch counts against the window's budget, so
:class:`BcLimits` makes that a setting: the batch as one request, or as its
operations.  The server keeps what it saw (the most requests at once, the
most counted in any window, every refusal) for tests and benchmarks to check.

The batch is OData's JSON batch format: ``{"requests": [{"id", "method",
"url", "headers", "body"}]}`` answered ``200`` with ``{"responses": [{"id",
"status", "headers", "body"}]}``, each request processed as it would be on its
own, its failure answered inside the ``200``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from writeback_testing._odata import ODataError

if TYPE_CHECKING:
    from writeback_testing._server import LoopbackHandler

__all__ = [
    "BATCH_LIMIT",
    "BcLimits",
    "Leaving",
    "LimitStats",
    "UserLimits",
    "batch_answer",
    "parse_batch",
    "resolve",
    "response_item",
]

#: The most operations Business Central takes in one ``$batch``.
BATCH_LIMIT = 100


@dataclass(frozen=True)
class BcLimits:
    """Per-user limits the simulator enforces (defaults: BC online's published ones).

    ``batch_counts_as``: ``"request"`` counts a ``$batch`` as one request against
    the window; ``"operations"`` counts each request inside it.
    ``operation_seconds``: how long each operation (a single request, or each one
    in a batch) takes the server, to give a batch its real cost.
    """

    max_concurrency: int = 5
    window_requests: int = 6000
    window_seconds: float = 300.0
    batch_counts_as: Literal["request", "operations"] = "request"
    operation_seconds: float = 0.0


@dataclass(frozen=True)
class LimitStats:
    """What the limits saw for one user."""

    #: The most requests in progress at once (refused ones included).
    peak_concurrency: int
    #: The most counted against the budget within any one window.
    max_window_count: int
    #: Requests accepted (a batch is one here, whatever it counts as).
    requests: int
    #: Requests refused with 429, by reason.
    refused_concurrency: int
    refused_window: int


class _User:
    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0
        self.window: deque[tuple[float, int]] = deque()
        self.counted = 0
        self.max_counted = 0
        self.requests = 0
        self.refused_concurrency = 0
        self.refused_window = 0


class UserLimits:
    """Enforces :class:`BcLimits` per principal; thread-safe."""

    def __init__(self, limits: BcLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._users: dict[str, _User] = {}

    def enter(self, user: str, cost: int) -> float | None:
        """Start a request costing ``cost`` against the window; ``None`` when it may
        go on (then call :meth:`leave`), else the seconds to ask the client to wait."""
        limits = self.limits
        with self._lock:
            state = self._users.setdefault(user, _User())
            state.in_flight += 1
            state.peak = max(state.peak, state.in_flight)
            if state.in_flight > limits.max_concurrency:
                state.in_flight -= 1
                state.refused_concurrency += 1
                return 1.0
            now = self._clock()
            self._expire(state, now)
            if state.counted + cost > limits.window_requests:
                state.in_flight -= 1
                state.refused_window += 1
                return self._wait(state, cost, now)
            state.window.append((now, cost))
            state.counted += cost
            state.max_counted = max(state.max_counted, state.counted)
            state.requests += 1
            return None

    def leave(self, user: str) -> None:
        with self._lock:
            self._users[user].in_flight -= 1

    def _expire(self, state: _User, now: float) -> None:
        while state.window and state.window[0][0] <= now - self.limits.window_seconds:
            state.counted -= state.window.popleft()[1]

    def _wait(self, state: _User, cost: int, now: float) -> float:
        """Seconds until enough of the window has passed for ``cost`` more."""
        left = state.counted + cost - self.limits.window_requests
        for at, counted in state.window:
            left -= counted
            if left <= 0:
                return max(1.0, math.ceil(at + self.limits.window_seconds - now))
        return self.limits.window_seconds

    def stats(self, user: str | None = None) -> LimitStats:
        """One user's figures (``None``: the only user, or nothing seen yet)."""
        with self._lock:
            if user is None and len(self._users) == 1:
                user = next(iter(self._users))
            state = self._users.get(user or "", _User())
            return LimitStats(
                state.peak,
                state.max_counted,
                state.requests,
                state.refused_concurrency,
                state.refused_window,
            )


def parse_batch(body: Any) -> list[dict[str, Any]]:
    """The requests of a JSON batch body, checked as BC checks them.

    :raises ODataError: 400 for a body that is not the JSON batch format, a request
        without ``id``/``method``/``url``, an id given twice, or more than
        :data:`BATCH_LIMIT` requests.
    """
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise ODataError(400, "BadRequest", "The batch request body is malformed: no 'requests'.")
    if len(requests) > BATCH_LIMIT:
        raise ODataError(
            400, "BadRequest", f"The batch request has more than {BATCH_LIMIT} operations."
        )
    seen: set[str] = set()
    for request in requests:
        if not isinstance(request, dict) or not all(
            isinstance(request.get(k), str) for k in ("id", "method", "url")
        ):
            raise ODataError(
                400, "BadRequest", "The batch request body is malformed: a request lacks id, "
                "method or url."
            )  # fmt: skip
        if request["id"] in seen:
            raise ODataError(400, "BadRequest", f"The request id {request['id']!r} is repeated.")
        seen.add(request["id"])
    return requests


def resolve(url: str, root_path: str) -> str:
    """A batch request's ``url`` as a path: absolute URLs and paths as they are,
    relative ones under the service root."""
    if "://" in url:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    if url.startswith("/"):
        return url
    return f"{root_path}/{url}"


def batch_answer(responses: list[dict[str, Any]]) -> bytes:
    return json.dumps({"responses": responses}).encode()


def response_item(request_id: str, status: int, headers: dict[str, str], body: bytes) -> dict:
    """One response of the batch answer, its body a JSON value when it is JSON."""
    item: dict[str, Any] = {
        "id": request_id,
        "status": status,
        "headers": {k.lower(): v for k, v in headers.items()},
    }
    if body:
        try:
            item["body"] = json.loads(body)
        except ValueError:
            item["body"] = body.decode("utf-8", "replace")
    return item


class Leaving:
    """A handler that ends the request's count as in progress just before it is
    answered: once the client has its answer it may send the next request, which
    must not find this one still counted."""

    def __init__(self, handler: LoopbackHandler, leave: Callable[[], None]) -> None:
        self._handler = handler
        self._leave: Callable[[], None] | None = leave

    def leave(self) -> None:
        leave, self._leave = self._leave, None
        if leave is not None:
            leave()

    def respond(self, *args: Any, **kwargs: Any) -> None:
        self.leave()
        self._handler.respond(*args, **kwargs)

    def drop(self) -> None:
        self.leave()
        self._handler.drop()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handler, name)
