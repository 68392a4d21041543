"""A requests transport adapter whose connections the current :class:`Deadline` watches.

Everything a Session sends goes through its adapter, the legs of an NTLM or
Negotiate handshake too (their hooks send with ``response.connection``), so this
is where a deadline can reach every socket: a new TCP connection, the TLS
socket that replaces it, and a kept-alive connection used again.  Subclasses add
their own rules in ``send`` (the soap format bounds answers; token requests
refuse redirects).

This module imports requests: :mod:`writeback.plugin` loads it on first use
only, so the core does not depend on requests.
"""

from __future__ import annotations

import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ._deadline import current_deadline

__all__ = ["DeadlinePassed", "WatchedAdapter"]


class DeadlinePassed(requests.Timeout):
    """The exchange's :class:`~writeback.plugin.Deadline` passed before its answer was
    complete (a ``requests.Timeout``, so code that handles timeouts handles it)."""


def _watch(sock: Any) -> None:
    deadline = current_deadline()
    if deadline is not None:
        deadline.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)  # the TCP connection, and a TLS handshake over it
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)  # a kept-alive connection, used again
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


class WatchedAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections are shut down when the calling thread's
    :class:`~writeback.plugin.Deadline` passes (mount it for ``https://`` and ``http://``)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # A SOCKS proxy's manager has pools of its own kind: its answers are
        # bounded by the clock checks between reads only.
        if not type(manager).__name__.startswith("SOCKS"):
            manager.pool_classes_by_scheme = _POOLS
        return manager
