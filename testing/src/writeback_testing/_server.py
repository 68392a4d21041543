"""The base every loopback simulator in this package builds on.

The standard library's ``http.server`` rather than an ASGI server, because a
simulator must be able to drop a connection without answering and to keep state
per TCP connection (an NTLM handshake is bound to one connection); ASGI exposes
neither.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

Headers = Mapping[str, str] | Iterable[tuple[str, str]]

#: How long ``stop()`` waits for handler threads after closing their sockets.
_JOIN_TIMEOUT = 5.0


class LoopbackHandler(BaseHTTPRequestHandler):
    """One instance per TCP connection; every request is passed to the owning server.

    Subclasses of :class:`LoopbackServer` answer through :meth:`respond` or
    :meth:`drop`; ``state`` lives as long as the connection does.
    """

    protocol_version = "HTTP/1.1"
    # Without it, keep-alive requests cost ~45 ms each (Nagle + delayed ACK).
    disable_nagle_algorithm = True

    server: _HTTPServer
    connection_id: int
    state: dict[str, Any]
    body: bytes

    def setup(self) -> None:
        super().setup()
        self.state = {}
        #: Headers added to the next answer on this connection, then forgotten: an
        #: acceptor's final token (Kerberos mutual authentication) for any simulator.
        self.next_headers: list[tuple[str, str]] = []
        self.connection_id = self.server.register(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.unregister(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: test output should show test failures, not access logs."""

    def _dispatch(self) -> None:
        try:
            self.body = self.read_body()
        except ValueError as exc:
            self.respond(400, str(exc).encode(), {"Content-Type": "text/plain"}, close=True)
            return
        try:
            self.server.owner.handle_request(self)
        except Exception as exc:
            # A bug in a simulator must fail the test that hit it, not hang the client.
            self.server.owner.record_error(exc)
            text = "".join(traceback.format_exception(exc)).encode()
            with contextlib.suppress(OSError):
                self.respond(500, text, {"Content-Type": "text/plain"}, close=True)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def read_body(self) -> bytes:
        """Read the request body by ``Content-Length`` or chunked transfer coding."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            size = int(length)
        except ValueError:
            raise ValueError(f"invalid Content-Length: {length!r}") from None
        body = self.rfile.read(size)
        if len(body) < size:
            # The client went away mid-body (a killed worker): a real server would
            # not act on half a request, so neither does a simulator.
            raise ValueError(f"incomplete body: {len(body)} of {size} bytes")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ValueError(f"invalid chunk size line: {line!r}") from None
            if size == 0:
                break
            chunks.append(self.rfile.read(size))
            self.rfile.readline(3)
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # trailers are ignored
        return b"".join(chunks)

    def respond(
        self, status: int, body: bytes = b"", headers: Headers | None = None, *, close: bool = False
    ) -> None:
        """Send status line, headers and body in a single write.

        ``Content-Length`` is added unless given; HEAD requests and bodiless
        statuses get no body. ``close=True`` ends the connection afterwards.
        """
        items = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        items += self.next_headers
        self.next_headers = []
        names = {name.lower(): value for name, value in items}
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [f"{self.protocol_version} {status} {phrase}", "Server: writeback-testing"]
        lines += [f"Date: {self.date_time_string()}", *(f"{n}: {v}" for n, v in items)]
        bodyless = status < 200 or status in (204, 304)
        if not bodyless and "content-length" not in names:
            lines.append(f"Content-Length: {len(body)}")
        # close_connection is already True when the client asked to close (or spoke HTTP/1.0).
        close = close or self.close_connection or names.get("connection", "").lower() == "close"
        if close and "connection" not in names:
            lines.append("Connection: close")
        self.close_connection = close
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        send_body = not bodyless and self.command != "HEAD"
        self.wfile.write(head + body if send_body else head)

    def drop(self) -> None:
        """Reset the connection without answering (the client sees a reset or EOF)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            # Linger 0 makes close() send RST instead of FIN: a hard reset.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


class _HTTPServer(ThreadingHTTPServer):
    """Tracks open connections so that ``stop()`` can end idle keep-alive ones."""

    daemon_threads = True
    # We join handler threads ourselves, with a bound; the stdlib would wait forever.
    block_on_close = False
    # The stdlib's backlog of 5 resets connections when dozens of clients (several
    # worker processes, a benchmark) connect at once.
    request_queue_size = 256

    def __init__(
        self, owner: LoopbackServer, handler_class: type[LoopbackHandler], port: int = 0
    ) -> None:
        super().__init__(("127.0.0.1", port), handler_class)
        self.owner = owner
        self.closing = False
        self._lock = threading.Lock()
        self._accepted = 0
        self._open: dict[socket.socket, threading.Thread] = {}

    def register(self, sock: socket.socket) -> int:
        with self._lock:
            if self.closing:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._open[sock] = threading.current_thread()
            self._accepted += 1
            return self._accepted

    def unregister(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.pop(sock, None)

    @property
    def connections_accepted(self) -> int:
        with self._lock:
            return self._accepted

    def close_connections(self, deadline: float) -> None:
        with self._lock:
            self.closing = True
            open_now = dict(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in open_now.values():
            thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        # Clients that hang up, time out or get reset are part of what we simulate.
        if isinstance(exc, ConnectionError | TimeoutError) or (
            self.closing and isinstance(exc, OSError)
        ):
            return
        if exc is not None:
            self.owner.record_error(exc)
        super().handle_error(request, client_address)


class LoopbackServer:
    """A threaded HTTP/1.1 server on ``127.0.0.1`` and a free port, for tests.

    Subclasses override :meth:`handle_request` (and may set ``handler_class``).
    The port is bound in :meth:`start`, so ``url`` is valid as soon as it returns.
    """

    handler_class: ClassVar[type[LoopbackHandler]] = LoopbackHandler
    #: The port :meth:`start` binds: 0 (tests) picks a free one; ``writeback
    #: receive --port`` sets a fixed one on its instance.
    bind_port: int = 0

    def __init__(self) -> None:
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._errors: list[BaseException] = []
        self._errors_lock = threading.Lock()
        self._accepted_when_stopped = 0

    def handle_request(self, handler: LoopbackHandler) -> None:
        """Answer one request (``handler.command``, ``.path``, ``.headers``, ``.body``)."""
        handler.respond(404, b"no handler", {"Content-Type": "text/plain"})

    def start(self) -> Self:
        """Bind a loopback port (``bind_port``; a free one when 0) and serve from a
        daemon thread; returns ``self``.

        :raises OSError: the port is taken (only with a fixed ``bind_port``).
        """
        if self._httpd is not None:
            raise RuntimeError(f"{type(self).__name__} is already started at {self.url}")
        self._stopping.clear()
        httpd = _HTTPServer(self, self.handler_class, self.bind_port)
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"{type(self).__name__}:{httpd.server_address[1]}",
            daemon=True,
        )
        self._httpd = httpd
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and wait (bounded) for handlers; idempotent."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        deadline = time.monotonic() + _JOIN_TIMEOUT
        self._stopping.set()
        httpd.shutdown()
        thread.join(_JOIN_TIMEOUT)
        httpd.server_close()
        httpd.close_connections(deadline)
        self._accepted_when_stopped = httpd.connections_accepted
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted since the last start: proves keep-alive reuse in tests."""
        httpd = self._httpd
        return self._accepted_when_stopped if httpd is None else httpd.connections_accepted

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised while handling requests: bugs in a simulator."""
        with self._errors_lock:
            return list(self._errors)

    def record_error(self, exc: BaseException) -> None:
        with self._errors_lock:
            self._errors.append(exc)

    def sleep(self, seconds: float) -> bool:
        """Wait in a handler without delaying ``stop()``; True when the server is stopping."""
        return self._stopping.wait(seconds)
