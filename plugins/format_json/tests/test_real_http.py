"""The json format against real sockets on 127.0.0.1: keep-alive, errors, TLS trust."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from writeback import AttemptResult, OutboundMessage, Outcome, PipelineContext
from writeback_json import JsonFormat

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
    assert result.error.startswith("timed out: no answer within 0.2 s (127.0.0.1:")


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
