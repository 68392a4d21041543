"""Short, safe sentences for failed connections.

requests' texts nest urllib3's ("HTTPConnectionPool(host=…): Max retries
exceeded with url: /BC/WS/…") and quote the path, which may carry a company
name or a query.  These texts name the root cause and only the endpoint's host
and port, in the same words as the json format.
"""

from __future__ import annotations

import os
import ssl

from writeback import endpoint_of

__all__ = ["LIMIT", "describe_connection_error"]

#: Longest description kept; the attempt record is no place for a traceback.
LIMIT = 200


def describe_connection_error(exc: BaseException, url: str) -> str:
    """``[Errno 111] Connection refused (host:port)``: the root cause, never the URL."""
    text = _root_cause(exc) or type(exc).__name__
    if len(text) > LIMIT:
        text = text[: LIMIT - 1] + "…"
    return f"{text} ({endpoint_of(url)})"


def _root_cause(exc: BaseException) -> str:
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    fallback = ""
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted: {current.verify_message}"
        if isinstance(current, ssl.SSLError):
            return f"TLS error: {current.reason or current}"
        if isinstance(current, OSError) and current.errno is not None:
            # A positive errno has the platform's wording; getaddrinfo's negative
            # codes only have strerror.
            reason = os.strerror(current.errno) if current.errno > 0 else current.strerror
            return f"[Errno {current.errno}] {reason}"
        if isinstance(current, ConnectionResetError | ConnectionAbortedError):
            return "the connection was reset by the server"
        if type(current).__name__ == "RemoteDisconnected":
            return "the server closed the connection without answering"
        if not fallback and isinstance(current, OSError) and not _mentions_url(str(current)):
            fallback = str(current)
        # urllib3 keeps the real error in ``reason`` and in args (MaxRetryError,
        # ProtocolError("Connection aborted.", ConnectionResetError(...))).
        pending += [a for a in current.args if isinstance(a, BaseException)]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
    return fallback


def _mentions_url(text: str) -> bool:
    return "://" in text or "url:" in text
