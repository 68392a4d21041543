"""How the soap format reads answers: never a redirect, never more than a bounded prefix.

requests follows redirects by default, and even told not to it reads a
redirect's whole body first (``Session.resolve_redirects``); auth hooks (NTLM)
then complete their handshake wherever the redirect pointed.  The format's
Sessions follow none: a redirect is an answer like any other, classified
``failed``.  Bodies are read streamed, at most a limit, with the attempt's
deadline checked between reads.

Everything a Session sends goes through its :class:`GuardedAdapter`, the legs
of an NTLM or Negotiate handshake too, so that is where both limits hold for
every exchange, whoever reads the answer: its connections are watched by the
attempt's :class:`~writeback.plugin.Deadline` (the core's
:class:`~writeback.plugin.WatchedAdapter`), and at most a bounded prefix of each
body is read (:data:`ANSWER_LIMIT`, or for a successful WSDL fetch the larger
:func:`answer_limit`): requests and requests-ntlm would otherwise read a body
whole, however long.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import requests
from writeback.plugin import (
    ANSWER_LIMIT,
    Deadline,
    DeadlinePassed,
    WatchedAdapter,
    current_deadline,
)

__all__ = [
    "ANSWER_LIMIT",
    "ERROR_BODY_LIMIT",
    "WSDL_LIMIT",
    "GuardedAdapter",
    "NoRedirectSession",
    "answer_limit",
    "answer_text",
    "check_deadline",
    "read_answer",
    "same_origin",
    "was_cut",
]

#: The most bytes of a WSDL (or a document it imports) read; a page's WSDL is
#: far smaller, even with every field published.
WSDL_LIMIT = 16 * 1024 * 1024
#: Bytes of an error answer decoded for its error text.
ERROR_BODY_LIMIT = 64 * 1024
_CHUNK = 64 * 1024


_LIMIT: ContextVar[int] = ContextVar("writeback_soap_answer_limit", default=ANSWER_LIMIT)


@contextlib.contextmanager
def answer_limit(limit: int) -> Iterator[None]:
    """Read at most ``limit`` bytes of each successful answer's body in this block
    (a WSDL's); other answers stay at :data:`ANSWER_LIMIT`."""
    token = _LIMIT.set(limit)
    try:
        yield
    finally:
        _LIMIT.reset(token)


def check_deadline(deadline: Deadline) -> None:
    """:raises DeadlinePassed: when ``deadline`` has passed."""
    if deadline.over():
        raise DeadlinePassed(f"no complete answer within {deadline.seconds:g} s")


class GuardedAdapter(WatchedAdapter):
    """Connections cut at their attempt's deadline; answers read only so far."""

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any
    ) -> requests.Response:
        # Always streamed, so that nothing reads a body before the bound is on it;
        # a caller that asked for the body read gets it read here, bounded.
        response = super().send(request, stream=True, **kwargs)
        # Only a success may be as long as a WSDL; a challenge or an error never needs to.
        success = 200 <= response.status_code < 300
        _bound(response, _LIMIT.get() if success else ANSWER_LIMIT)
        if not stream:
            _ = response.content
        return response


def _bound(response: requests.Response, limit: int) -> None:
    """Make every read of ``response``'s body stop after ``limit + 1`` bytes.

    One byte more than the limit, so that a reader can tell a cut body from one
    exactly as long; the connection of a cut body is closed, not reused.
    """
    raw = response.raw
    stream = raw.stream

    def bounded(amt: int | None = 2**16, decode_content: bool | None = None) -> Iterator[bytes]:
        left = limit + 1
        for chunk in stream(amt, decode_content=decode_content):
            if len(chunk) >= left:
                yield chunk[:left]
                raw.close()
                return
            left -= len(chunk)
            yield chunk

    raw.stream = bounded


class NoRedirectSession(requests.Session):
    """A Session for which no answer is a redirect to follow."""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


def read_answer(response: requests.Response, limit: int = ANSWER_LIMIT) -> bytes:
    """Read at most ``limit`` bytes of a streamed answer into ``response.content``.

    A longer body is cut to ``limit + 1`` bytes (so that :func:`was_cut` can tell)
    and its connection closed rather than reused.  (The Session's adapter bounds
    every read of a body anyway; this is where the format's own reads stop.)

    :raises DeadlinePassed: when the attempt's deadline passes while reading.
    :raises requests.RequestException: when the connection fails while reading.
    """
    deadline = current_deadline()
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(_CHUNK):
            if deadline is not None:
                check_deadline(deadline)
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
    except requests.RequestException:
        if deadline is not None:
            check_deadline(deadline)  # a read cut by the deadline says so
        raise
    body = b"".join(chunks)
    if size > limit:
        body = body[: limit + 1]
        response.close()
    else:
        with contextlib.suppress(Exception):
            response.raw.release_conn()
    # requests' own attributes: the rest of requests and zeep read ``content``.
    response._content = body
    response._content_consumed = True
    return body


def was_cut(response: requests.Response, limit: int = ANSWER_LIMIT) -> bool:
    """Whether :func:`read_answer` stopped before the end of the body."""
    return len(response.content) > limit


def answer_text(response: requests.Response) -> str:
    """The start of an answer's body as text, for an error message.

    Only a prefix is decoded, with the declared charset (else UTF-8): requests'
    ``text`` would run charset detection over the whole body.
    """
    encoding = response.encoding or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "utf-8"
    return response.content[:ERROR_BODY_LIMIT].decode(encoding, errors="replace")


def same_origin(url: str, base: str) -> bool:
    """``url`` has ``base``'s scheme, host and port."""
    try:
        one, two = urlsplit(url), urlsplit(base)
        return _origin(one) == _origin(two)
    except ValueError:
        return False


def _origin(parts: Any) -> tuple[str, str, int]:
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port
