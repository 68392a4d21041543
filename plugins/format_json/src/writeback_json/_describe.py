"""Short, safe sentences for failed connections.

httpx's own texts are often useless ("All connection attempts failed": anyio
hides the OS error in the cause chain) and may quote the request URL, whose
query can carry a token.  These texts name the root cause and only the
endpoint's host and port.
"""

from __future__ import annotations

import re

import httpx
from writeback.plugin import connection_cause, endpoint_of, exception_chain

__all__ = ["describe_timeout", "describe_transport_error"]

#: Longest description kept; the attempt record is no place for a traceback.
LIMIT = 200

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")

_TIMEOUT_PHASES: dict[type[httpx.TimeoutException], str] = {
    httpx.ConnectTimeout: "connecting took longer than {:g} s",
    httpx.ReadTimeout: "no answer within {:g} s",
    httpx.WriteTimeout: "sending took longer than {:g} s",
    httpx.PoolTimeout: "no free connection within {:g} s",
}


def describe_timeout(exc: httpx.TimeoutException, url: str, seconds: float) -> str:
    """``no answer within 30 s (host:port)``."""
    phase = _TIMEOUT_PHASES.get(type(exc), "no answer within {:g} s").format(seconds)
    return f"{phase} ({endpoint_of(url)})"


def describe_transport_error(exc: httpx.TransportError, url: str) -> str:
    """``[Errno 111] Connection refused (host:port)``: the root cause, never the URL."""
    where = endpoint_of(url)
    # A URL in httpx's texts may carry a token in its query; the endpoint is enough.
    text = _URL.sub(lambda _: where, _root_cause(exc) or type(exc).__name__)
    if len(text) > LIMIT:
        text = text[: LIMIT - 1] + "…"
    return f"{text} ({where})"


def _root_cause(exc: BaseException) -> str:
    found = connection_cause(exc)
    if found is not None:
        return found
    # Otherwise the deepest text there is: httpx's own ("All connection attempts
    # failed") says less than what it wraps.
    texts = [str(current) for current in exception_chain(exc) if str(current)]
    return texts[-1] if texts else ""
