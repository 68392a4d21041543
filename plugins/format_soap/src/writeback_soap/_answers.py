"""How the soap format reads answers: never a redirect, never more than a bounded prefix.

requests follows redirects by default, and even told not to it reads a
redirect's whole body first (``Session.resolve_redirects``); auth hooks (NTLM)
then complete their handshake wherever the redirect pointed.  The format's
Sessions follow none: a redirect is an answer like any other, classified
``failed``.  Bodies are read streamed, at most a limit, with the attempt's
deadline checked between reads.
"""

from __future__ import annotations

import codecs
import contextlib
from typing import Any
from urllib.parse import urlsplit

import requests
from writeback.plugin import ANSWER_LIMIT

from ._deadline import current_deadline

__all__ = [
    "ANSWER_LIMIT",
    "ERROR_BODY_LIMIT",
    "WSDL_LIMIT",
    "NoRedirectSession",
    "answer_text",
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
                deadline.check()
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
    except requests.RequestException:
        if deadline is not None:
            deadline.check()  # a read cut by the deadline says so
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
