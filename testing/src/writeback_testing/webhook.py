"""A webhook receiver for tests: records every request and fails on purpose.

A failure plan says how the next POSTs are answered (status, ``Retry-After``,
a delay that trips client timeouts, a dropped connection), so retry, backoff
and dead-lettering can be tested against a real socket.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import dataclasses
import hmac
import json as _json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit

from writeback_testing._server import LoopbackHandler, LoopbackServer
from writeback_testing._signing import decode_secret, sign, verify

if TYPE_CHECKING:
    from writeback_testing.acceptors import Acceptor

__all__ = ["Plan", "ReceivedRequest", "Step", "WebhookReceiver", "echo", "sign", "verify"]


@dataclass(frozen=True)
class Step:
    """How to answer one POST.

    ``body``: a str goes out as text, bytes as-is, anything else as JSON; None
    means ``{"ok": <2xx>}``. ``retry_after`` becomes the ``Retry-After`` header
    (seconds or an HTTP date). ``delay`` waits before answering; ``drop`` resets
    the connection instead of answering. ``headers`` override the defaults.
    """

    status: int = 200
    retry_after: int | str | None = None
    delay: float = 0.0
    drop: bool = False
    body: Any = None
    headers: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be 100-599, not {self.status}")
        if self.delay < 0:
            raise ValueError(f"delay must not be negative, not {self.delay}")


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the receiver saw it, and what it answered.

    ``status`` is None for a dropped connection (and in the request a callable
    plan is given, which is not answered yet). ``signature_valid`` is None when
    the receiver has no signing secret. ``connection`` numbers the TCP
    connections from 1, so tests can see keep-alive reuse.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    status: int | None
    received_at: float
    signature_valid: bool | None
    connection: int
    #: Who the ``auth=`` acceptor authenticated (None without one, or when it refused).
    principal: str | None = None
    #: When the answer was ready to go (just before it was sent); with
    #: ``received_at`` the span the request was in the receiver's hands.
    answered_at: float | None = None

    @property
    def dropped(self) -> bool:
        return self.status is None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


Plan: TypeAlias = (
    Sequence[Step] | Mapping[str, Sequence[Step]] | Callable[[ReceivedRequest], Step | None] | None
)

_OK = Step()


def echo(status: int = 400, *, error: str = "invalid_request") -> Callable[[ReceivedRequest], Step]:
    """A plan that refuses every POST with ``status`` and quotes the request back.

    Careless servers put the request they refuse into their error answer; this
    one quotes its ``Authorization`` header and its body in an OAuth2-style
    error (``{"error": …, "error_description": …}``), so that one receiver can
    stand for a webhook endpoint or a token endpoint, and a test can check that
    the credentials it echoes never reach a record, a log or an output.
    """

    def answer(request: ReceivedRequest) -> Step:
        quoted = (
            f"you sent Authorization: {request.headers.get('authorization', '(none)')} "
            f"with the body {request.text}"
        )
        return Step(status, body={"error": error, "error_description": quoted})

    return answer


class WebhookReceiver(LoopbackServer):
    """A loopback webhook endpoint: any path, any method, POSTs follow the plan.

    ``plan`` is a list of steps consumed one per POST (then 200), a dict of
    such lists per path (query string ignored), or a callable returning a step
    or None (succeed). HEAD, GET and other methods get 200 and consume nothing.
    With ``basic_auth``, requests without those credentials get 401 and consume
    nothing; ``auth`` takes any acceptor instead (``BearerAcceptor(server.principal)``
    for OAuth2 tokens: revoking a token makes its next use answer 401), whose 401s
    are recorded and consume nothing either. ``default_delay`` slows every response down.
    """

    def __init__(
        self,
        plan: Plan = None,
        *,
        basic_auth: tuple[str, str] | None = None,
        auth: Acceptor | None = None,
        signing_secret: str | None = None,
        default_delay: float = 0.0,
    ) -> None:
        super().__init__()
        if signing_secret is not None:
            decode_secret(signing_secret)  # fail here, not inside a handler thread
        if default_delay < 0:
            raise ValueError(f"default_delay must not be negative, not {default_delay}")
        if basic_auth is not None and auth is not None:
            raise ValueError("give basic_auth or auth, not both")
        self._auth = None if basic_auth is None else "{}:{}".format(*basic_auth).encode("utf-8")
        self._acceptor = auth
        self._secret = signing_secret
        self._default_delay = default_delay
        self._cond = threading.Condition()
        self._requests: list[ReceivedRequest] = []
        self._order: list[int] = []
        self._arrivals = 0
        # Requests in the receiver's hands now, and the most there ever were at once.
        self._in_hand = 0
        self._max_in_hand = 0
        self._answered: set[int] = set()
        self._plan: deque[Step] | dict[str, deque[Step]] | Callable[..., Step | None] | None
        self.set_plan(plan)

    def set_plan(self, plan: Plan) -> None:
        """Replace the failure plan; steps of the old plan not yet used are forgotten."""
        new: deque[Step] | dict[str, deque[Step]] | Callable[..., Step | None] | None
        if plan is None or callable(plan):
            new = plan
        elif isinstance(plan, Mapping):
            new = {path: deque(_check_steps(steps)) for path, steps in plan.items()}
        else:
            new = deque(_check_steps(plan))
        with self._cond:
            self._plan = new

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every answered or dropped request, in arrival order (a copy).

        A request appears once it is answered, so one still being delayed is
        not listed yet.
        """
        with self._cond:
            return list(self._requests)

    @property
    def deliveries(self) -> list[ReceivedRequest]:
        """The POSTs answered with 2xx, in arrival order (a copy)."""
        with self._cond:
            return [r for r in self._requests if _is_delivery(r)]

    @property
    def max_in_flight(self) -> int:
        """The most requests the receiver held at once (arrived, not yet answered).

        A client holds each request for at least that span, so this is a lower
        bound of its own concurrency: a limit it keeps is never exceeded here.
        """
        with self._cond:
            return self._max_in_hand

    def count(self, status: int | None = None, *, method: str | None = None) -> int:
        """How many requests were answered with ``status`` (any when None) and ``method``."""
        with self._cond:
            return sum(
                1
                for r in self._requests
                if (status is None or r.status == status) and (method in (None, r.method))
            )

    def wait_for(self, n: int, timeout: float = 10.0) -> list[ReceivedRequest]:
        """Block until ``n`` deliveries (2xx POSTs) arrived; return all of them.

        :raises AssertionError: after ``timeout`` seconds, listing what did arrive.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                delivered = [r for r in self._requests if _is_delivery(r)]
                if len(delivered) >= n:
                    return delivered
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            seen = list(self._requests)
        raise AssertionError(
            f"expected {n} deliveries within {timeout}s, got {len(delivered)}; {_describe(seen)}"
        )

    def handle_request(self, handler: LoopbackHandler) -> None:
        headers: dict[str, str] = {}
        for name, value in handler.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        request = ReceivedRequest(
            method=handler.command,
            path=handler.path,
            headers=headers,
            body=handler.body,
            json=_parse_json(handler.body),
            status=None,
            received_at=time.time(),
            signature_valid=(
                None if self._secret is None else verify(self._secret, headers, handler.body)
            ),
            connection=handler.connection_id,
        )
        with self._cond:
            arrival = self._arrivals = self._arrivals + 1
            self._in_hand += 1
            self._max_in_hand = max(self._max_in_hand, self._in_hand)
        try:
            self._answer(handler, arrival, request)
        finally:
            with self._cond:
                if arrival in self._answered:
                    self._answered.discard(arrival)
                else:  # never recorded (the handler failed): out of hand all the same
                    self._in_hand -= 1

    def _answer(self, handler: LoopbackHandler, arrival: int, request: ReceivedRequest) -> None:
        if self._acceptor is not None:
            principal = self._authenticate(handler, arrival, request)
            if principal is None:  # the acceptor has answered (401) and it is recorded
                return
            request = dataclasses.replace(request, principal=principal)
        step = self._choose(request)
        delay = step.delay + self._default_delay
        # Stopping cuts a delay short: the answer is dropped rather than keeping stop() waiting.
        drop = step.drop or bool(delay and self.sleep(delay))
        # Recorded before answering, so a client that got its answer finds it recorded.
        self._record(arrival, dataclasses.replace(request, status=None if drop else step.status))
        if drop:
            handler.drop()
            return
        body, response_headers = _render(step)
        handler.respond(step.status, body, response_headers)

    def _authenticate(
        self, handler: LoopbackHandler, arrival: int, request: ReceivedRequest
    ) -> str | None:
        """Ask the acceptor; an answer it gives is recorded before it goes out, like ours."""
        assert self._acceptor is not None
        send = handler.respond

        def recorded(status: int, *args: Any, **kwargs: Any) -> None:
            self._record(arrival, dataclasses.replace(request, status=status))
            send(status, *args, **kwargs)

        handler.respond = recorded  # type: ignore[method-assign]
        try:
            return self._acceptor.authenticate(handler)
        finally:
            del handler.respond

    def _choose(self, request: ReceivedRequest) -> Step:
        if self._auth is not None and not self._authorized(request.headers):
            return Step(
                401,
                body={"ok": False, "error": "unauthorized"},
                headers={"WWW-Authenticate": 'Basic realm="writeback-testing"'},
            )
        if request.method != "POST":
            return _OK
        with self._cond:
            plan = self._plan
            if isinstance(plan, deque):
                return plan.popleft() if plan else _OK
            if isinstance(plan, dict):
                steps = plan.get(urlsplit(request.path).path)
                return steps.popleft() if steps else _OK
        if plan is None:
            return _OK
        step = plan(request)
        if step is not None and not isinstance(step, Step):
            raise TypeError(f"a plan callable returns a Step or None, not {type(step).__name__}")
        return step or _OK

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or self._auth is None:
            return False
        try:
            given = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self._auth)

    def _record(self, arrival: int, request: ReceivedRequest) -> None:
        # A delayed answer is recorded late but listed where it arrived.
        request = dataclasses.replace(request, answered_at=time.time())
        with self._cond:
            # Out of hand once recorded: the answer goes out next.
            self._in_hand -= 1
            self._answered.add(arrival)
            index = bisect.bisect(self._order, arrival)
            self._order.insert(index, arrival)
            self._requests.insert(index, request)
            self._cond.notify_all()


def _check_steps(steps: Sequence[Step]) -> list[Step]:
    if wrong := [s for s in steps if not isinstance(s, Step)]:
        raise TypeError(f"a plan holds Step objects, not {type(wrong[0]).__name__}")
    return list(steps)


def _is_delivery(request: ReceivedRequest) -> bool:
    return request.method == "POST" and request.status is not None and request.status // 100 == 2


def _parse_json(body: bytes) -> Any:
    try:
        return _json.loads(body) if body else None
    except ValueError:
        return None


def _render(step: Step) -> tuple[bytes, dict[str, str]]:
    content = {"ok": 200 <= step.status < 300} if step.body is None else step.body
    if isinstance(content, bytes):
        body, content_type = content, "application/octet-stream"
    elif isinstance(content, str):
        body, content_type = content.encode("utf-8"), "text/plain; charset=utf-8"
    else:
        body, content_type = _json.dumps(content).encode("utf-8"), "application/json"
    headers = {"Content-Type": content_type}
    if step.retry_after is not None:
        headers["Retry-After"] = str(step.retry_after)
    if step.headers:
        overridden = {name.lower() for name in step.headers}
        headers = {k: v for k, v in headers.items() if k.lower() not in overridden}
        headers.update(step.headers)
    return body, headers


def _describe(requests: list[ReceivedRequest], limit: int = 20) -> str:
    if not requests:
        return "no requests arrived"
    lines = [
        f"{r.method} {r.path} -> {'dropped' if r.status is None else r.status}"
        for r in requests[:limit]
    ]
    if len(requests) > limit:
        lines.append(f"... and {len(requests) - limit} more")
    return "requests received: " + "; ".join(lines)
