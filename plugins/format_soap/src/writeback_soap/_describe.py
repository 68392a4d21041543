"""Short, safe sentences for failed connections.

requests' texts nest urllib3's ("HTTPConnectionPool(host=…): Max retries
exceeded with url: /BC/WS/…") and quote the path, which may carry a company
name or a query.  These texts name the root cause and only the endpoint's host
and port, in the same words as the json format.
"""

from __future__ import annotations

from writeback import connection_cause, endpoint_of, exception_chain

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
    found = connection_cause(exc)
    if found is not None:
        return found
    # Otherwise the first OS-level text that does not quote the URL (requests'
    # own texts do: "… Max retries exceeded with url: /BC/WS/…").
    for current in exception_chain(exc):
        if isinstance(current, OSError) and str(current) and not _mentions_url(str(current)):
            return str(current)
    return ""


def _mentions_url(text: str) -> bool:
    return "://" in text or "url:" in text
