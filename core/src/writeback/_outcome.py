"""Classifying answers: shared by every format so that all agree.

2xx delivered; connection errors, timeouts, 408, 429 and 5xx retry (with
``Retry-After`` honoured, up to a day); a redirect failed, naming where it
pointed (no format follows one); every other status failed with the answer's
error text kept.  Formats call these; connector types may refine the verdict.
The table is in docs/architecture.md, "Classification and retries".
"""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import ssl
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import replace
from urllib.parse import urljoin, urlsplit

from ._interfaces import AttemptResult, Outcome
from ._schedule import MAX_RETRY_AFTER

__all__ = [
    "ANSWER_LIMIT",
    "CODE_CONNECTION",
    "CODE_HTTP_FAILED",
    "CODE_HTTP_RETRY",
    "CODE_REDIRECT",
    "CODE_TIMEOUT",
    "CODE_UNSPECIFIED",
    "ERROR_TEXT_LIMIT",
    "RETRY_STATUSES",
    "classify_status",
    "connection_cause",
    "connection_failure",
    "deadline_passed",
    "endpoint_of",
    "error_text",
    "exception_chain",
    "parse_retry_after",
    "redirect_target",
    "with_code",
]

#: The most bytes of an answer's body any format reads; the answer is
#: classified by what was read (a longer 2xx is still delivered, a longer error
#: body is cut).  Nothing writeback needs from an answer comes near it.
ANSWER_LIMIT = 1024 * 1024


def endpoint_of(url: str, unknown: str = "the endpoint") -> str:
    """``host:port`` of ``url`` (default port filled in): enough to say where an error
    happened, never a path or query that may hold a company name or a secret."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return unknown
    host = parts.hostname or "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions behind it, nearest first, each once (a cycle ends).

    Follows ``__cause__`` and ``__context__``, the members of an exception group,
    and where HTTP libraries keep the real error instead: requests and urllib3
    in ``args`` and in a ``reason`` attribute (``MaxRetryError``,
    ``ProtocolError("Connection aborted.", ConnectionResetError(...))``).
    """
    seen: set[int] = set()
    pending: deque[BaseException] = deque([exc])
    while pending:
        current = pending.popleft()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked: list[object] = [current.__cause__, current.__context__]
        linked.append(getattr(current, "reason", None))
        if isinstance(current, BaseExceptionGroup):
            linked.extend(current.exceptions)
        for arg in current.args:
            linked += [arg, getattr(arg, "reason", None)]
        pending.extend(x for x in linked if isinstance(x, BaseException))


def connection_cause(exc: BaseException) -> str | None:
    """The root cause of a connection error, in a few words; ``None`` if none is known.

    ``TLS certificate not trusted: …``, ``TLS error: …``, ``[Errno 111] Connection
    refused``, ``the connection was reset by the server``, ``the server closed
    the connection without answering``: the first found along
    :func:`exception_chain`.  Never the URL, whose path or query may hold a
    company name or a token.
    """
    for current in exception_chain(exc):
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted: {current.verify_message}"
        if isinstance(current, ssl.SSLError):
            return f"TLS error: {current.reason or current}"
        if isinstance(current, OSError) and current.errno is not None:
            # A positive errno has the platform's wording; getaddrinfo's negative
            # codes only have strerror.
            reason = os.strerror(current.errno) if current.errno > 0 else current.strerror
            return f"[Errno {current.errno}] {reason}"
        # Before the reset check: http.client's RemoteDisconnected (which requests
        # wraps) is a ConnectionResetError too, and says more.
        if isinstance(current, http.client.RemoteDisconnected):
            return "the server closed the connection without answering"
        if isinstance(current, ConnectionResetError | ConnectionAbortedError):
            return "the connection was reset by the server"
    return None


RETRY_STATUSES = frozenset({408, 429})

#: An HTTP error answer that is not worth a retry (a 4xx other than 408 and 429).
CODE_HTTP_FAILED = "WB-360"
#: An HTTP error answer worth a retry (408, 429, 5xx).
CODE_HTTP_RETRY = "WB-361"
#: A redirect, not followed.
CODE_REDIRECT = "WB-362"
#: The endpoint could not be reached, or closed the connection without answering.
CODE_CONNECTION = "WB-363"
#: No (complete) answer in time.
CODE_TIMEOUT = "WB-364"
#: What a result that did not succeed and carries no code of its own records.
CODE_UNSPECIFIED = "WB-300"

#: Longest error text kept from an answer body.
ERROR_TEXT_LIMIT = 500


def parse_retry_after(
    value: str | None, *, now: float | None = None, limit: float | None = MAX_RETRY_AFTER
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    At most ``limit`` (a day; ``None``: as asked): an endpoint must not be able
    to hold a delivery, or its whole connector, back for a year.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = max(0.0, when.timestamp() - (time.time() if now is None else now))
    return seconds if limit is None else min(seconds, limit)


def redirect_target(location: str | None, base: str | None = None) -> str:
    """Where a redirect points, fit for an error text.

    Resolved against ``base`` (the request's URL) when relative; without
    user-info, fragment or query (a query shows as ``?…``), which may hold
    credentials or a signature.
    """
    if not location or not location.strip():
        return "nowhere (no Location header)"
    try:
        parts = urlsplit(urljoin(base or "", location.strip()))
        host, port = parts.hostname, parts.port
    except ValueError:
        return "an invalid location"
    where = ""
    if parts.scheme and host:
        netloc = f"[{host}]" if ":" in host else host
        where = f"{parts.scheme}://{netloc}" + (f":{port}" if port is not None else "")
    where += parts.path + ("?…" if parts.query else "")
    return where if len(where) <= 200 else where[:199] + "…"


def error_text(body: str | None) -> str | None:
    """The useful part of an error body: an OData/JSON error's code and message, or a prefix."""
    if not body:
        return None
    body = body.strip()
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        code, message = err.get("code"), err.get("message")
        if code or message:
            return ": ".join(str(part) for part in (code, message) if part)
    if len(body) > ERROR_TEXT_LIMIT:
        return body[:ERROR_TEXT_LIMIT] + "…"
    return body


def classify_status(
    status: int,
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    *,
    url: str | None = None,
) -> AttemptResult:
    """Classify an HTTP answer by its status code, as the module docstring says.

    :param url: the request's URL, against which a relative redirect is resolved.
    """
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    if 200 <= status < 300:
        return AttemptResult(Outcome.DELIVERED, status_code=status, headers=lowered)
    if 300 <= status < 400 and status != 304:
        # Never followed: a redirect may lead to another origin, where an
        # NTLM handshake would complete, or from https to http, in clear.
        where = redirect_target(lowered.get("location"), url)
        error = f"HTTP {status}: redirected to {where} (redirects are not followed)"
        return AttemptResult(
            Outcome.FAILED, status_code=status, error=error, headers=lowered, code=CODE_REDIRECT
        )
    detail = error_text(body)
    error = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status in RETRY_STATUSES or status >= 500:
        asked = parse_retry_after(lowered.get("retry-after"), limit=None)
        retry_after = None if asked is None else min(asked, MAX_RETRY_AFTER)
        if asked is not None and asked > MAX_RETRY_AFTER:
            error += f" (Retry-After {asked:.0f} s, honoured as {MAX_RETRY_AFTER:.0f} s)"
        return AttemptResult(
            Outcome.RETRY,
            status_code=status,
            error=error,
            retry_after=retry_after,
            headers=lowered,
            code=CODE_HTTP_RETRY,
        )
    return AttemptResult(
        Outcome.FAILED, status_code=status, error=error, headers=lowered, code=CODE_HTTP_FAILED
    )


def with_code(result: AttemptResult) -> AttemptResult:
    """``result`` with the code its record carries: none when delivered, else its
    own, or ``WB-300`` when a plugin gave none."""
    code = None if result.outcome is Outcome.DELIVERED else result.code or CODE_UNSPECIFIED
    return result if code == result.code else replace(result, code=code)


def connection_failure(description: str, *, timeout: bool = False) -> AttemptResult:
    """A connection error or timeout: always worth a retry."""
    kind, code = ("timed out", CODE_TIMEOUT) if timeout else ("connection failed", CODE_CONNECTION)
    return AttemptResult(Outcome.RETRY, error=f"{kind}: {description}", code=code)


def deadline_passed(seconds: float, url: str, *, prefix: str = "") -> AttemptResult:
    """The attempt's deadline (its ``timeout``) passed before the whole answer was in."""
    return connection_failure(
        f"{prefix}no complete answer within {seconds:g} s ({endpoint_of(url)})", timeout=True
    )
