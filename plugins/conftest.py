"""Fixtures shared by the plugins' tests: tiny real HTTP servers on 127.0.0.1.

Real sockets, not mocks, so that the tests see what goes over the wire
(headers as sent, the exact body bytes, keep-alive, TLS).
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    #: Header names lower-cased.
    headers: dict[str, str]
    body: bytes
    #: The client's (host, port): one per connection, so it shows keep-alive.
    peer: tuple[str, int]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class LocalServer:
    """A running server: what it saw, and the replies it will give, first in first out."""

    def __init__(self, httpd: ThreadingHTTPServer, scheme: str) -> None:
        self.httpd = httpd
        host, port = httpd.server_address[:2]
        self.url = f"{scheme}://{host}:{port}"
        self.seen: list[Seen] = []
        self.replies: list[Reply] = []
        #: Chooses the reply from the request when set (the queue is used otherwise):
        #: returns ``(status, headers, body)``.
        self.responder: Callable[[Seen], tuple[int, dict[str, str], bytes]] | None = None

    def reply(self, status: int = 200, body: bytes = b"", **headers: str) -> None:
        """Queue a reply; header names use ``_`` for ``-`` (``retry_after="7"``)."""
        fixed = {k.replace("_", "-"): v for k, v in headers.items()}
        self.replies.append(Reply(status, fixed, body))

    def next_reply(self, seen: Seen) -> Reply:
        if self.responder is not None:
            return Reply(*self.responder(seen))
        return self.replies.pop(0) if self.replies else Reply()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without it every keep-alive request waits ~40 ms: Nagle's algorithm holds the
    # answer's second write until the client's delayed ACK of the first arrives.
    disable_nagle_algorithm = True

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            peer=self.client_address[:2],
        )
        owner: LocalServer = self.server.owner  # type: ignore[attr-defined]
        owner.seen.append(seen)
        reply = owner.next_reply(seen)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    # A burst of connects at once (a format opening a lane per request) overflows
    # the default listen backlog of 5: connects then wait for a SYN resent a
    # second later, or fail.  writeback_testing's servers do the same.
    request_queue_size = 128
    daemon_threads = True


@pytest.fixture
def serve() -> Iterator[Callable[..., LocalServer]]:
    """Start servers: ``serve()`` plain HTTP, ``serve(tls=context)`` HTTPS."""
    started: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(tls: ssl.SSLContext | None = None) -> LocalServer:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        if tls is not None:
            httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        server = LocalServer(httpd, "https" if tls is not None else "http")
        httpd.owner = server  # type: ignore[attr-defined]
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
        thread.start()
        started.append((httpd, thread))
        return server

    yield start
    for httpd, thread in started:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def http_server(serve: Callable[..., LocalServer]) -> LocalServer:
    """A plain HTTP server on 127.0.0.1, answering 200 unless told otherwise."""
    return serve()


@pytest.fixture
def refused_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """An http URL whose server accepts the connection and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
