"""The working ``json`` format: sends one connector's messages with httpx.

``timeout`` is the deadline of the whole attempt (connect, send, the whole
answer), not only of each wait as httpx's own timeouts are: an endpoint that
trickles its answer a byte at a time would otherwise hold a worker's slot for as
long as it likes.  At most :data:`writeback.plugin.ANSWER_LIMIT` bytes of an
answer are read.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import json
import ssl
from typing import TYPE_CHECKING, TypeVar

# httpx imports httpcore only when it makes its first client, which a fresh worker
# paid on its first send (docs/benchmarks.md, "The json format"); imported with the
# format, it is paid when the worker builds its pipelines, before its first claim.
import httpcore  # noqa: F401
import httpx
import writeback
from writeback.plugin import (
    ANSWER_LIMIT,
    NO_AUTH,
    AttemptAuth,
    AttemptError,
    AttemptResult,
    OutboundBatch,
    OutboundMessage,
    classify_status,
    connection_failure,
    deadline_passed,
)

from ._batch import batch_body, read_answer, whole_answer
from ._describe import describe_timeout, describe_transport_error
from ._lanes import Lanes
from ._tls import verify_setting

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from writeback import Throttle
    from writeback.plugin import PipelineContext

__all__ = [
    "DEFAULT_TIMEOUT",
    "ERROR_BODY_LIMIT",
    "UNTHROTTLED_LANES",
    "JsonFormat",
    "encode_body",
    "pool_size",
]

#: Seconds allowed for a whole attempt unless the row says (``context.timeout``'s default).
DEFAULT_TIMEOUT = 30.0
#: Bytes of an error answer read for its error text; an OData error fits many times over.
ERROR_BODY_LIMIT = 64 * 1024


#: Lanes when the throttle sets no ``max_concurrency``: the most it may set.  The
#: worker's ``--concurrency`` bounds the requests in flight anyway, and a lane's
#: connection is opened only when that many requests are in flight at once.
UNTHROTTLED_LANES = 1000

#: What a send's reader makes of an answer's body (error text, raw bytes).
_Body = TypeVar("_Body")


def pool_size(throttle: Throttle | None) -> int:
    """Connections one connector may keep: the throttle's ``max_concurrency``, else
    :data:`UNTHROTTLED_LANES`.

    Each request has a connection to itself (``Lanes``), so this is also the most
    requests in flight to the endpoint; connections are opened as needed.  (It
    was 8 when unset and at most 16, to keep httpx's pools small; but what made
    big pools slow was httpcore's pool bookkeeping, which a lane's one-connection
    pool does not have, and the cap held a worker with a higher ``--concurrency``
    to a fraction of its rate: docs/benchmarks.md, "The json format".)
    """
    wanted = throttle.max_concurrency if throttle is not None else None
    return wanted or UNTHROTTLED_LANES


def encode_body(message: OutboundMessage) -> bytes | None:
    """The bytes to send: ``content`` as it is, else the payload as compact UTF-8 JSON.

    No body for ``HEAD`` (it may have none) nor when there is nothing to send:
    a bodiless ``DELETE`` must not become the JSON text ``null``.
    """
    if message.method.upper() == "HEAD":
        return None
    if message.content is not None:
        return message.content
    if message.payload is None:
        return None
    return json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()


class JsonFormat:
    """One connector's JSON-over-HTTP sender: ``size`` kept-alive connections (``Lanes``).

    :param transport: an httpx transport to send through instead of the network
        (tests pass ``httpx.MockTransport``).
    """

    def __init__(
        self, context: PipelineContext, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.context = context
        self.timeout = float(context.timeout)
        self.size = pool_size(context.throttle or context.connector.throttle)
        self._transport = transport
        self._lanes: Lanes | None = None
        # Loaded here, when the worker builds its pipelines before its first claim,
        # not by the first send: loading the CA bundle costs enough CPU to hold up
        # a fresh worker's first deliveries (docs/benchmarks.md, "The json format").
        # A bundle that cannot be loaded is left to the sends, which report it
        # (WB-300) until it can be.
        self._ssl_context: ssl.SSLContext | None = None
        with contextlib.suppress(AttemptError):
            self._ssl_context = _ssl_context()

    def _open(self, limits: httpx.Limits, verify: ssl.SSLContext) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            # A lane's client has its one connection to itself: never a pool wait.
            timeout=httpx.Timeout(self.timeout, pool=None),
            limits=limits,
            verify=verify,
            follow_redirects=False,
            headers={"user-agent": f"writeback/{writeback.__version__}"},
            transport=self._transport,
        )

    async def send(self, message: OutboundMessage, auth: AttemptAuth = NO_AUTH) -> AttemptResult:
        """Send ``message`` once with ``auth``'s credentials and classify the answer
        with ``classify_status``."""
        content = encode_body(message)
        headers = httpx.Headers(message.headers)
        if content is not None and "content-type" not in headers:
            headers["content-type"] = "application/json"
        outcome = await self._exchange(
            message.method.upper(), message.url, content, headers, auth, _success_or_error_text
        )
        if isinstance(outcome, AttemptResult):
            return outcome
        response, text = outcome
        return classify_status(response.status_code, response.headers, text, url=message.url)

    async def send_batch(
        self, batch: OutboundBatch, auth: AttemptAuth = NO_AUTH
    ) -> AttemptResult | list[AttemptResult]:
        """Send ``batch`` as one OData JSON batch request (``_batch``): one result
        per message, or one for the whole batch when it was answered as a whole.

        :raises BatchRefused: the server refused the batch as such.
        """
        headers = httpx.Headers(batch.headers)
        headers["content-type"] = "application/json"
        headers["accept"] = "application/json"
        outcome = await self._exchange("POST", batch.url, batch_body(batch), headers, auth, _read)
        if isinstance(outcome, AttemptResult):
            return outcome
        response, raw = outcome
        if not response.is_success:
            text = raw[:ERROR_BODY_LIMIT].decode(response.charset_encoding or "utf-8", "replace")
            return whole_answer(response.status_code, response.headers, text, batch.url)
        return read_answer(raw, batch.messages)

    async def _exchange(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: httpx.Headers,
        auth: AttemptAuth,
        read: Callable[[httpx.Response], Awaitable[_Body]],
    ) -> tuple[httpx.Response, _Body] | AttemptResult:
        """One request on a lent lane within the attempt's deadline: the answer and
        what ``read`` made of its body, or the failure (deadline, timeout, transport)
        as a result.  ``auth``'s headers are added to ``headers`` here."""
        lanes = self._lanes or self._open_lanes()
        headers.update(auth.headers())
        # Only a connection-bound method has an object of its own; none does for httpx.
        transport_auth: httpx.Auth | None = auth.transport_auth("httpx")
        deadline: asyncio.Timeout | None = None
        try:
            async with lanes.borrow() as client, asyncio.timeout(self.timeout) as deadline:
                # The deadline starts once a lane is lent: waiting for one is the
                # connector's own concurrency limit, not a slow endpoint.
                request = client.build_request(method, url, content=content, headers=headers)
                response = await client.send(request, auth=transport_auth, stream=True)
                try:
                    body = await read(response)
                finally:
                    # A body left unread closes the connection rather than reusing it.
                    await response.aclose()
        except TimeoutError:
            return deadline_passed(self.timeout, url)
        except httpx.TimeoutException as exc:
            if _past(deadline):  # the same moment: say which limit it was, always the same way
                return deadline_passed(self.timeout, url)
            return connection_failure(describe_timeout(exc, url, self.timeout), timeout=True)
        except httpx.TransportError as exc:
            return connection_failure(describe_transport_error(exc, url))
        return response, body

    def _open_lanes(self) -> Lanes:
        # One SSL context for every lane: httpx would load the bundle for each client.
        context = self._ssl_context or _ssl_context()
        self._lanes = Lanes(self.size, functools.partial(self._open, verify=context))
        return self._lanes

    async def aclose(self) -> None:
        """Close the connections; a later send opens new ones."""
        lanes, self._lanes = self._lanes, None
        if lanes is not None:
            await lanes.aclose()


def _past(deadline: asyncio.Timeout | None) -> bool:
    when = deadline.when() if deadline is not None else None
    return when is not None and asyncio.get_running_loop().time() >= when


def _ssl_context() -> ssl.SSLContext:
    """The context the lanes verify with: the bundle the environment names, else httpx's.

    :raises AttemptError: when the named bundle cannot be loaded.
    """
    verify = verify_setting()
    return httpx.create_ssl_context() if verify is True else verify


async def _drain(response: httpx.Response) -> None:
    """Read and drop at most :data:`ANSWER_LIMIT` bytes of a success's body.

    Drained, so that the connection is idle again; raw, so that a badly encoded
    body cannot undo a delivery; bounded, so that an endless body cannot hold
    the attempt (the status has said all that counts).
    """
    if response.is_stream_consumed:
        return
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > ANSWER_LIMIT:
            break


async def _read(response: httpx.Response) -> bytes:
    """A batch answer's body, at most :data:`ANSWER_LIMIT` bytes (cut there: a longer
    one is then not valid JSON, and every message in it is retried)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > ANSWER_LIMIT:
            break
    return b"".join(chunks)[:ANSWER_LIMIT]


async def _success_or_error_text(response: httpx.Response) -> str | None:
    """None for a success (its body drained), else its error text."""
    if response.is_success:
        await _drain(response)
        return None
    return await _error_body(response)


async def _error_body(response: httpx.Response) -> str | None:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= ERROR_BODY_LIMIT:
                break
    except httpx.DecodingError:
        return None
    encoding = response.charset_encoding or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "utf-8"
    return b"".join(chunks)[:ERROR_BODY_LIMIT].decode(encoding, errors="replace")
