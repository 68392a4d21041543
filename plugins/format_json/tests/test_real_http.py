"""The json format against real sockets on 127.0.0.1: keep-alive, errors, TLS trust."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from writeback import Throttle
from writeback.plugin import AttemptError, AttemptResult, OutboundMessage, Outcome, PipelineContext
from writeback_json import JsonFormat
from writeback_json import _format as json_format
from writeback_json._tls import verify_setting

if TYPE_CHECKING:
    from conftest import LocalCA, LocalServer

MakeContext = Callable[..., PipelineContext]


def send_all(context: PipelineContext, *messages: OutboundMessage) -> list[AttemptResult]:
    async def run() -> list[AttemptResult]:
        fmt = JsonFormat(context)
        try:
            return [await fmt.send(message) for message in messages]
        finally:
            await fmt.aclose()

    return asyncio.run(run())


def send_at_once(context: PipelineContext, url: str, count: int) -> list[AttemptResult]:
    """``count`` sends started together on one format, as a worker's burst is."""

    async def run() -> list[AttemptResult]:
        fmt = JsonFormat(context)
        try:
            return await asyncio.gather(
                *(fmt.send(OutboundMessage(url, payload={"n": n})) for n in range(count))
            )
        finally:
            await fmt.aclose()

    return asyncio.run(run())


def test_posts_reuse_one_kept_alive_connection(
    make_context: MakeContext, http_server: LocalServer
) -> None:
    url = http_server.url + "/hook?x=1"
    payloads: list[Any] = [{"n": 1}, {"n": 2}, {"n": 3}]
    results = send_all(make_context(url), *(OutboundMessage(url, payload=p) for p in payloads))
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 3
    assert [s.body for s in http_server.seen] == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    assert {s.path for s in http_server.seen} == {"/hook?x=1"}
    assert {s.headers["content-type"] for s in http_server.seen} == {"application/json"}
    assert len({s.peer for s in http_server.seen}) == 1


def test_a_burst_shares_exactly_size_connections_one_request_each(
    make_context: MakeContext, http_server: LocalServer
) -> None:
    """40 sends started at once on a pool of 4: the case where one httpx pool hands
    a freed connection to several requests (encode/httpcore#822)."""
    lock = threading.Lock()
    open_now: dict[tuple[str, int], int] = {}
    most_at_once = [0]
    all_four = threading.Event()
    deadline = time.monotonic() + 30  # a sanity timeout, not a timing bound

    def slow(seen: Any) -> tuple[int, dict[str, str], bytes]:
        with lock:
            open_now[seen.peer] = open_now.get(seen.peer, 0) + 1
            most_at_once[0] = max(most_at_once[0], sum(open_now.values()))
            assert open_now[seen.peer] == 1, "two requests at once on one connection"
            if most_at_once[0] >= 4:
                all_four.set()
        # The first requests wait for each other: four in flight at once, however
        # the machine schedules the client, so every connection of the pool is open.
        all_four.wait(max(0.0, deadline - time.monotonic()))
        time.sleep(0.02)
        with lock:
            open_now[seen.peer] -= 1
        return 200, {}, b"{}"

    http_server.responder = slow
    url = http_server.url + "/hook"
    context = make_context(url, throttle=Throttle(max_concurrency=4))

    async def run() -> tuple[list[AttemptResult], list[AttemptResult]]:
        fmt = JsonFormat(context)
        try:
            burst = await asyncio.gather(
                *(fmt.send(OutboundMessage(url, payload={"n": n})) for n in range(40))
            )
            # Afterwards, one at a time: the last connection given back goes out again.
            one_by_one = [await fmt.send(OutboundMessage(url, payload={"n": n})) for n in range(5)]
            return burst, one_by_one
        finally:
            await fmt.aclose()

    burst, one_by_one = asyncio.run(run())
    assert [r.outcome for r in burst + one_by_one] == [Outcome.DELIVERED] * 45
    assert most_at_once[0] == 4
    assert len({s.peer for s in http_server.seen[:40]}) == 4
    assert len({s.peer for s in http_server.seen[40:]}) == 1
    assert sorted(s.body for s in http_server.seen[:40]) == sorted(
        f'{{"n":{n}}}'.encode() for n in range(40)
    )


def test_without_a_throttle_each_request_in_flight_has_a_connection(
    make_context: MakeContext, http_server: LocalServer
) -> None:
    """24 sends at once to a slow endpoint and no throttle: all 24 are in flight
    together (the worker's concurrency bounds them), not 8 (a pool's old cap)."""
    lock = threading.Lock()
    in_flight = [0]
    most_at_once = [0]
    all_in = threading.Event()
    deadline = time.monotonic() + 30  # a sanity timeout, not a timing bound

    def slow(seen: Any) -> tuple[int, dict[str, str], bytes]:
        with lock:
            in_flight[0] += 1
            most_at_once[0] = max(most_at_once[0], in_flight[0])
            if most_at_once[0] >= 24:
                all_in.set()
        # Each answer waits until all 24 are in: only a client that sends them
        # together gets there (with a cap, the first ones wait out the deadline).
        all_in.wait(max(0.0, deadline - time.monotonic()))
        with lock:
            in_flight[0] -= 1
        return 200, {}, b"{}"

    http_server.responder = slow
    url = http_server.url + "/hook"

    results = send_at_once(make_context(url), url, 24)
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 24
    assert most_at_once[0] == 24
    assert len({s.peer for s in http_server.seen}) == 24


def test_server_busy_is_retry_with_its_wait(
    make_context: MakeContext, http_server: LocalServer
) -> None:
    http_server.reply(503, b"maintenance", retry_after="7")
    (result,) = send_all(make_context(http_server.url), OutboundMessage(http_server.url))
    assert result.outcome is Outcome.RETRY
    assert result.retry_after == 7.0
    assert result.error == "HTTP 503: maintenance"


def test_refused_connection_is_retry(make_context: MakeContext, refused_url: str) -> None:
    (result,) = send_all(make_context(refused_url), OutboundMessage(refused_url, payload={}))
    port = refused_url.split(":")[2].split("/")[0]
    assert result.outcome is Outcome.RETRY
    assert result.status_code is None
    assert result.error == f"connection failed: [Errno 111] Connection refused (127.0.0.1:{port})"


def test_silent_server_times_out_after_the_option(
    make_context: MakeContext, silent_url: str
) -> None:
    (result,) = send_all(make_context(silent_url, timeout=0.2), OutboundMessage(silent_url))
    assert result.outcome is Outcome.RETRY
    assert result.error is not None
    assert result.error.startswith("timed out: no complete answer within 0.2 s (127.0.0.1:")


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_https_trusts_the_bundle_named_by_the_environment(
    make_context: MakeContext,
    serve: Callable[..., LocalServer],
    test_ca: LocalCA,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv(variable, str(test_ca.ca_pem))
    server = serve(tls=test_ca.server_context)
    (result,) = send_all(make_context(server.url), OutboundMessage(server.url, payload={}))
    assert result.outcome is Outcome.DELIVERED
    assert [s.body for s in server.seen] == [b"{}"]


@pytest.fixture
def bundle_loads(test_ca: LocalCA, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """``SSL_CERT_FILE`` names the test CA; each load of it is appended here."""
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.ca_pem))
    loads: list[object] = []

    def counted_verify_setting() -> object:
        loads.append(verify_setting())
        return loads[-1]

    monkeypatch.setattr(json_format, "verify_setting", counted_verify_setting)
    return loads


def test_every_lane_shares_one_ssl_context_loaded_once(
    make_context: MakeContext,
    serve: Callable[..., LocalServer],
    test_ca: LocalCA,
    bundle_loads: list[object],
) -> None:
    """Loading a CA bundle costs ~40 ms of CPU: once per connector, not per lane."""
    server = serve(tls=test_ca.server_context)
    context = make_context(server.url, throttle=Throttle(max_concurrency=4))
    results = send_at_once(context, server.url, 12)
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 12
    assert len(bundle_loads) == 1
    assert 1 < len({s.peer for s in server.seen}) <= 4


def test_the_ssl_context_is_loaded_when_the_format_is_built_not_by_the_first_send(
    make_context: MakeContext,
    serve: Callable[..., LocalServer],
    test_ca: LocalCA,
    bundle_loads: list[object],
) -> None:
    """A worker builds its pipelines before its first claim; the bundle's 40 ms of
    CPU are spent then, not while its first deliveries wait."""
    server = serve(tls=test_ca.server_context)

    async def run() -> AttemptResult:
        fmt = JsonFormat(make_context(server.url))
        assert len(bundle_loads) == 1
        try:
            return await fmt.send(OutboundMessage(server.url, payload={}))
        finally:
            await fmt.aclose()

    assert asyncio.run(run()).outcome is Outcome.DELIVERED
    assert len(bundle_loads) == 1


def test_a_bundle_that_cannot_be_read_fails_the_send_until_it_can(
    make_context: MakeContext,
    serve: Callable[..., LocalServer],
    test_ca: LocalCA,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    server = serve(tls=test_ca.server_context)

    async def run() -> AttemptResult:
        fmt = JsonFormat(make_context(server.url))
        try:
            with pytest.raises(AttemptError, match="SSL_CERT_FILE"):
                await fmt.send(OutboundMessage(server.url, payload={"n": 1}))
            monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.ca_pem))
            return await fmt.send(OutboundMessage(server.url, payload={"n": 2}))
        finally:
            await fmt.aclose()

    assert asyncio.run(run()).outcome is Outcome.DELIVERED
    assert [s.body for s in server.seen] == [b'{"n":2}']


def test_https_with_an_untrusted_certificate_is_not_sent(
    make_context: MakeContext,
    serve: Callable[..., LocalServer],
    test_ca: LocalCA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    server = serve(tls=test_ca.server_context)
    (result,) = send_all(make_context(server.url), OutboundMessage(server.url, payload={}))
    assert result.outcome is Outcome.RETRY
    assert result.error is not None
    assert result.error == (
        "connection failed: TLS certificate not trusted: unable to get local issuer certificate "
        f"({server.url.removeprefix('https://')})"
    )
    assert server.seen == []
