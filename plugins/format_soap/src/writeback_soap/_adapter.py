"""The transport adapter of the soap format's Sessions: every exchange bounded.

Everything a Session sends goes through its adapter, the legs of an NTLM or
Negotiate handshake too (their hooks send with ``response.connection``).  So
this is where two limits hold for all of them, whoever reads the answer:

- its connections are watched by the attempt's :class:`~._deadline.Deadline`,
  which shuts them down when it passes;
- at most a bounded prefix of each answer's body is read
  (:data:`writeback.plugin.ANSWER_LIMIT`, or for a successful WSDL fetch the
  larger :func:`answer_limit`): requests and requests-ntlm would otherwise read
  a body whole, however long.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from writeback.plugin import ANSWER_LIMIT

from ._deadline import current_deadline

__all__ = ["GuardedAdapter", "answer_limit"]

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


def _watch(sock: Any) -> None:
    deadline = current_deadline()
    if deadline is not None and isinstance(sock, socket.socket):
        deadline.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)  # the TCP connection, and the TLS handshake over it
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)  # a kept-alive connection, reused by this attempt
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def connect(self) -> None:
        super().connect()
        _watch(self.sock)  # the TLS socket that replaced the plain one

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class GuardedAdapter(HTTPAdapter):
    """Connections cut at their attempt's deadline; answers read only so far."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # A SOCKS proxy's manager has pools of its own kind: its answers are
        # bounded by the body reader's clock checks only.
        if not type(manager).__name__.startswith("SOCKS"):
            manager.pool_classes_by_scheme = _POOLS
        return manager

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
