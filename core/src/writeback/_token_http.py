"""Token requests over HTTP: no redirect followed, a bounded answer, one deadline.

The formats' rules (docs/delivery.md) hold for token requests too, and matter
more there, as a token request carries the client secret: a followed 307 sends
it again to wherever ``Location`` points, another host or plain ``http://``.

- **requests** (msal, and ``oauth2`` under a requests format): mount
  :func:`token_adapter` on the session and make the fetch inside
  :func:`token_deadline`.  The adapter (a :class:`~writeback.plugin.WatchedAdapter`,
  as the soap format's) refuses a redirect before anything can follow it, reads
  at most :data:`~writeback._outcome.ANSWER_LIMIT` bytes of an answer, and has its
  connections shut down when the :class:`~writeback.plugin.Deadline` passes.
- **httpx** (``oauth2`` under an httpx format): give the ``AsyncClient``
  :func:`token_event_hooks` (the redirect and the limit) and run the fetch with
  :func:`run_with_deadline`, under ``asyncio.timeout`` as the json format runs an
  attempt.

Each failure is an :class:`~writeback.plugin.AttemptError` from :mod:`._token_errors`.
requests and httpx are imported only when asked for: the core depends on neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from ._deadline import Deadline, current_deadline
from ._outcome import ANSWER_LIMIT
from ._token_errors import token_answer_too_long, token_redirected, token_timeout

__all__ = [
    "TokenDeadline",
    "is_redirect",
    "run_with_deadline",
    "token_adapter",
    "token_deadline",
    "token_event_hooks",
]

T = TypeVar("T")

_CHUNK = 64 * 1024

#: The deadline of a token fetch: a :class:`~writeback.plugin.Deadline` (the old name).
TokenDeadline = Deadline


def is_redirect(status: int) -> bool:
    """A status that asks the client to go elsewhere (304 asks nothing of the kind)."""
    return 300 <= status < 400 and status != 304


@contextlib.contextmanager
def token_deadline(seconds: float) -> Iterator[Deadline]:
    """Bound the requests this thread makes through :func:`token_adapter` by ``seconds``
    in all, from now (a timer thread cuts their connections when it passes)."""
    deadline = Deadline(seconds)
    deadline.start(timer=True)
    try:
        with deadline.applied():
            yield deadline
    finally:
        deadline.cancel_timer()


# -- requests ------------------------------------------------------------------------


def token_adapter() -> Any:
    """A requests transport adapter for token requests; mount it for ``https://`` and
    ``http://``.

    Every answer is read by the adapter, at most :data:`ANSWER_LIMIT` bytes,
    so that nothing after it reads more.

    :raises AttemptError: from a request: WB-312 for a redirect (never
        followed), WB-314 when the :func:`token_deadline` passes, and for an
        answer longer than the limit, by its status (WB-317, WB-312, WB-313).
    """
    return _adapter_class()()


@functools.cache
def _adapter_class() -> type:
    import requests

    from ._watched import WatchedAdapter

    class TokenAdapter(WatchedAdapter):
        """Refuses redirects, reads a bounded answer, its connections cut at the deadline."""

        def send(  # type: ignore[override]
            self,
            request: requests.PreparedRequest,
            stream: bool = False,
            timeout: Any = None,
            **kwargs: Any,
        ) -> requests.Response:
            url = request.url or ""
            deadline = current_deadline()
            if deadline is not None:
                if deadline.over():
                    raise token_timeout(url, deadline.seconds)
                timeout = deadline.bound(timeout)
            # A compressed answer could be many times the limit once decoded.
            request.headers["Accept-Encoding"] = "identity"
            try:
                response = super().send(request, stream=True, timeout=timeout, **kwargs)
                if is_redirect(response.status_code):
                    response.close()
                    location = response.headers.get("location")
                    raise token_redirected(url, response.status_code, location)
                body = _read(response, url, deadline)
            except requests.RequestException:
                if deadline is not None and deadline.over():
                    raise token_timeout(url, deadline.seconds) from None
                raise
            # requests' own attributes: msal and authlib read ``text`` and ``json()``.
            response._content = body
            response._content_consumed = True
            return response

    def _read(response: requests.Response, url: str, deadline: Deadline | None) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(_CHUNK):
            if deadline is not None and deadline.over():
                response.close()
                raise token_timeout(url, deadline.seconds)
            chunks.append(chunk)
            size += len(chunk)
            if size > ANSWER_LIMIT:
                response.close()  # the rest unread: the connection is not used again
                raise token_answer_too_long(url, response.status_code)
        with contextlib.suppress(Exception):
            response.raw.release_conn()
        return b"".join(chunks)

    return TokenAdapter


# -- httpx ---------------------------------------------------------------------------


def token_event_hooks() -> dict[str, list[Callable[..., Awaitable[None]]]]:
    """``event_hooks`` for an ``httpx.AsyncClient`` making token requests.

    A redirect raises WB-312 before the client could follow it; an answer's
    body raises (by its status, as :func:`token_adapter`) once more than
    :data:`ANSWER_LIMIT` bytes of it have come.  Ask for ``Accept-Encoding:
    identity`` too: the limit counts the bytes as they arrive.
    """
    return {"response": [_bound_answer]}


async def _bound_answer(response: Any) -> None:
    url = str(response.request.url)
    status = response.status_code
    if is_redirect(status):
        raise token_redirected(url, status, response.headers.get("location"))
    response.stream = _bounded_stream_class()(response.stream, url, status)


@functools.cache
def _bounded_stream_class() -> type:
    import httpx

    class BoundedStream(httpx.AsyncByteStream):
        def __init__(self, stream: httpx.AsyncByteStream, url: str, status: int) -> None:
            self._stream = stream
            self._url = url
            self._status = status

        async def __aiter__(self) -> Any:
            size = 0
            async for chunk in self._stream:
                size += len(chunk)
                if size > ANSWER_LIMIT:
                    raise token_answer_too_long(self._url, self._status)
                yield chunk

        async def aclose(self) -> None:
            await self._stream.aclose()

    return BoundedStream


def run_with_deadline(fetch: Callable[[], Awaitable[T]], seconds: float, url: str) -> T:
    """Run the coroutine ``fetch()`` to its end in an event loop of its own, for at most
    ``seconds`` in all (blocking; for the thread a token fetch runs in).

    :raises AttemptError: WB-314 when the deadline passes first.
    """

    async def bounded() -> T:
        async with asyncio.timeout(seconds):
            return await fetch()

    try:
        return asyncio.run(bounded())
    except TimeoutError:
        raise token_timeout(url, seconds) from None
