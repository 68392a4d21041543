"""The loopback base: lifecycle, body reading, answers, and clients that misbehave."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from writeback_testing import LoopbackHandler, LoopbackServer


class Echo(LoopbackServer):
    """Echoes the body and counts requests per connection."""

    def __init__(self) -> None:
        super().__init__()
        #: Set when a sleeping ``/slow`` handler was woken by ``stop()``.
        self.woken = threading.Event()

    def handle_request(self, handler: LoopbackHandler) -> None:
        if handler.path == "/boom":
            raise RuntimeError("simulator bug")
        if handler.path == "/slow" and self.sleep(30):
            self.woken.set()
            handler.drop()
            return
        handler.state["n"] = handler.state.get("n", 0) + 1
        handler.respond(200, handler.body, {"X-Seen-On-Connection": str(handler.state["n"])})


@pytest.fixture
def echo() -> Iterator[Echo]:
    with Echo() as server:
        yield server


def test_url_is_loopback_with_a_bound_port(echo: Echo) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", echo.url)
    assert echo.url.endswith(f":{echo.port}") and echo.port > 0
    assert echo.running


def test_url_before_start_and_double_start_are_errors() -> None:
    server = Echo()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url
    with server, pytest.raises(RuntimeError, match="already started"):
        server.start()
    assert not server.running


def test_base_server_answers_404(client: httpx.Client) -> None:
    with LoopbackServer() as server:
        assert client.get(server.url + "/anything").status_code == 404


def test_stop_is_idempotent_and_a_server_can_be_restarted(client: httpx.Client) -> None:
    server = Echo().start()
    old_url = server.url
    server.stop()
    server.stop()
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        client.get(old_url)
    server.start()
    try:
        assert client.post(server.url, content=b"again").content == b"again"
    finally:
        server.stop()


def test_stop_is_fast_with_idle_keep_alive_and_a_sleeping_handler(client: httpx.Client) -> None:
    server = Echo().start()
    try:
        assert client.post(server.url, content=b"x").status_code == 200  # leaves an idle connection
        with pytest.raises(httpx.ReadTimeout):
            client.post(server.url + "/slow", timeout=0.2)
        server.stop()
        # The sleeping handler was woken, not waited for (stop gives up on a
        # handler after a few seconds; this one would sleep 30).
        assert server.woken.is_set()
        assert server.errors == []
    finally:
        server.stop()


def test_body_by_content_length_and_chunked(echo: Echo, client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"hello "
        yield b"chunked "
        yield b"world"

    assert client.post(echo.url, content=b"plain body").content == b"plain body"
    response = client.post(echo.url, content=chunks())
    assert response.content == b"hello chunked world"
    # Still in sync on the same connection after a chunked body.
    assert client.post(echo.url, content=b"next").content == b"next"
    assert echo.connections_accepted == 1


def test_per_connection_state_and_keep_alive(echo: Echo, client: httpx.Client) -> None:
    seen = [client.post(echo.url).headers["x-seen-on-connection"] for _ in range(3)]
    assert seen == ["1", "2", "3"]
    with httpx.Client(verify=False) as other:
        assert other.post(echo.url).headers["x-seen-on-connection"] == "1"
    assert echo.connections_accepted == 2


def test_head_gets_headers_only(echo: Echo, client: httpx.Client) -> None:
    with socket.create_connection(("127.0.0.1", echo.port), timeout=5) as sock:
        sock.sendall(
            b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 2\r\n\r\nok"
        )
        data = _read_until(sock, b"\r\n\r\nok")
    first, _, rest = data.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200") and b"Content-Length: 0" in first
    assert rest.startswith(b"HTTP/1.1 200")  # the HEAD answer carried no body


def test_a_client_asking_to_close_is_told_and_disconnected(echo: Echo) -> None:
    with socket.create_connection(("127.0.0.1", echo.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = _read_until(sock, b"never")  # returns at EOF: the server closed
    assert data.startswith(b"HTTP/1.1 200") and b"Connection: close" in data


def test_simulator_exception_becomes_500_and_is_recorded(echo: Echo, client: httpx.Client) -> None:
    response = client.get(echo.url + "/boom")
    assert response.status_code == 500
    assert "simulator bug" in response.text
    assert [str(e) for e in echo.errors] == ["simulator bug"]


def test_bad_content_length_is_400(echo: Echo, client: httpx.Client) -> None:
    with socket.create_connection(("127.0.0.1", echo.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
        data = _read_until(sock, b"nope'")
    assert data.startswith(b"HTTP/1.1 400") and b"Connection: close" in data


def test_clients_that_hang_up_do_not_break_the_server(echo: Echo, client: httpx.Client) -> None:
    with socket.create_connection(("127.0.0.1", echo.port)) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort")
    with socket.create_connection(("127.0.0.1", echo.port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
    assert client.post(echo.url, content=b"still fine").content == b"still fine"
    assert echo.errors == []


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
