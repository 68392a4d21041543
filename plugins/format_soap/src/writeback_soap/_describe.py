"""Short, safe sentences for failed connections.

requests' texts nest urllib3's ("HTTPConnectionPool(host=…): Max retries
exceeded with url: /BC/WS/…") and quote the path, which may carry a company
name or a query.  These texts name the root cause and only the endpoint's host
and port, in the same words as the json format.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from writeback.plugin import connection_cause, endpoint_of, exception_chain

if TYPE_CHECKING:
    import requests

__all__ = ["LIMIT", "describe_connection_error", "describe_timeout"]

#: Longest description kept; the attempt record is no place for a traceback.
LIMIT = 200


def describe_connection_error(exc: BaseException, url: str) -> str:
    """``[Errno 111] Connection refused (host:port)``: the root cause, never the URL."""
    text = _root_cause(exc) or type(exc).__name__
    if len(text) > LIMIT:
        text = text[: LIMIT - 1] + "…"
    return f"{text} ({endpoint_of(url)})"


def describe_timeout(exc: requests.Timeout, url: str, timeouts: tuple[float, float]) -> str:
    """``no answer within 30 s (host:port)``: which wait ran out, with requests' own timeouts."""
    import requests

    if isinstance(exc, requests.ConnectTimeout):
        return f"connecting took longer than {timeouts[0]:g} s ({endpoint_of(url)})"
    return f"no answer within {timeouts[1]:g} s ({endpoint_of(url)})"


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
