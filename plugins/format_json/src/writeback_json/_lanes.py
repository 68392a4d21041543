"""Lanes: one connector's kept-alive connections, each an httpx client of its own.

Why not one client with a pool of ``size`` connections: httpcore's pool hands a
freed connection to every request that starts before the first of them has put
it to use; the others fail with ``ConnectionNotAvailable`` and go round again
(encode/httpcore#822 and #1110, open in httpcore 1.0.9), and each round checks
every idle connection with a system call.  A worker starts requests in bursts
(after each claim), and paid more than one such retry per delivery
(docs/benchmarks.md, "The json format").  A client that owns exactly one
connection, lent to one request at a time, has nothing to contest and one
connection to check.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

__all__ = ["Lanes"]


class Lanes:
    """Up to ``size`` single-connection clients, opened as they are first needed.

    A request borrows one for its whole exchange, body included, so the
    connection is idle again when it comes back; a request that finds all
    ``size`` lent out waits (that is the connector's own concurrency limit, not
    a slow endpoint, so it has no timeout).  Made inside the event loop that
    uses it, as the clients' connections are bound to that loop.

    :param open_client: makes one client; called with the ``httpx.Limits`` of one
        connection.
    """

    def __init__(self, size: int, open_client: Callable[[httpx.Limits], httpx.AsyncClient]) -> None:
        self.size = size
        self._open_client = open_client
        self._free: list[httpx.AsyncClient] = []
        self._opened: list[httpx.AsyncClient] = []
        self._vacancy = asyncio.Semaphore(size)

    @asynccontextmanager
    async def borrow(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client no other request is using, given back when the block ends."""
        async with self._vacancy:
            if self._free:
                client = self._free.pop()
            else:
                client = self._open_client(
                    httpx.Limits(max_connections=1, max_keepalive_connections=1)
                )
                self._opened.append(client)
            try:
                yield client
            finally:
                # Last in, first out: under a light load the same few connections
                # stay warm and the rest may time out on the server unused.
                self._free.append(client)

    async def aclose(self) -> None:
        """Close every client's connection."""
        opened, self._opened, self._free = self._opened, [], []
        for client in opened:
            await client.aclose()
