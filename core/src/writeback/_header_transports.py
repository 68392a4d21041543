"""Header credentials as httpx's and requests' own auth objects, for old formats.

Formats written before ``send(message, auth)`` ask the mechanism for
``for_transport("httpx" | "requests")`` on every send; these objects keep them
working with methods that now only produce headers.  httpx and requests are
imported only when asked for: the core depends on neither.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["header_transport_auth"]

Headers = Callable[[], Mapping[str, str]]


def header_transport_auth(headers: Headers, transport: str) -> Any:
    """An auth object for ``transport`` that adds ``headers()`` to each request.

    :raises ValueError: for a transport other than ``httpx`` and ``requests``.
    """
    if transport == "httpx":
        return _httpx_class()(headers)
    if transport == "requests":
        return _requests_class()(headers)
    raise ValueError(f"no {transport!r} auth object for header credentials; pass auth to send().")


@functools.cache
def _httpx_class() -> type:
    import httpx

    class HttpxHeaders(httpx.Auth):
        def __init__(self, headers: Headers) -> None:
            self._headers = headers

        def auth_flow(self, request: httpx.Request) -> Any:
            request.headers.update(self._headers())
            yield request

    return HttpxHeaders


@functools.cache
def _requests_class() -> type:
    from requests.auth import AuthBase

    class RequestsHeaders(AuthBase):
        def __init__(self, headers: Headers) -> None:
            self._headers = headers

        def __call__(self, request: Any) -> Any:
            request.headers.update(self._headers())
            return request

    return RequestsHeaders
