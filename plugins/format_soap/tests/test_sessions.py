"""Threads, Sessions and credentials: one Session per thread, the WSDL once, Basic, TLS."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from writeback import Throttle
from writeback.plugin import NO_AUTH, AttemptResult, OutboundMessage, Outcome, PipelineContext
from writeback_soap import SoapFormat
from writeback_testing.acceptors import BasicAcceptor
from writeback_testing.soap_page import PAGE_FIELDS, SoapPageServer, page_wsdl, result_envelope

if TYPE_CHECKING:
    from conftest import LocalCA, LocalServer

MakeContext = Callable[..., PipelineContext]
PageFactory = Callable[..., SoapPageServer]


async def send(fmt: SoapFormat, message: OutboundMessage) -> AttemptResult:
    """One attempt as the pipeline makes it: the mechanism's credentials, then the send."""
    mechanism = fmt.context.auth
    auth = await mechanism.attempt_auth() if mechanism is not None else NO_AUTH
    return await fmt.send(message, auth)


def create(url: str, n: int = 0) -> OutboundMessage:
    return OutboundMessage(url, operation="Create", payload={"Subject": f"S{n}", "Colour": "x"})


def test_the_wsdl_is_fetched_once_for_many_concurrent_deliveries(
    make_context: MakeContext,
    writeback_soap_page_factory: PageFactory,
    credentials: tuple[str, str],
) -> None:
    acceptor = BasicAcceptor(dict([credentials]))
    page = writeback_soap_page_factory(auth=acceptor)
    context = make_context(page.page_url, auth="basic", throttle=Throttle(max_concurrency=8))
    fmt = SoapFormat(context)
    sessions: list[int] = []

    async def run() -> list[AttemptResult]:
        results = await asyncio.gather(*(send(fmt, create(page.page_url, n)) for n in range(200)))
        sessions.append(fmt.sessions.count)
        await fmt.aclose()
        return list(results)

    results = asyncio.run(run())
    assert {r.outcome for r in results} == {Outcome.DELIVERED}
    assert page.wsdl_gets == 1 and fmt.wsdl_loads == 1
    assert sorted(r["Subject"] for r in page.records) == sorted(f"S{n}" for n in range(200))
    # One Session per worker thread, each on its own kept-alive connection.
    assert 1 < sessions[0] <= 8
    assert page.connections_accepted == sessions[0]
    assert len({c.connection for c in page.calls}) == sessions[0]
    assert acceptor.refused == 0
    assert {c.principal for c in page.calls} == {credentials[0]}


def test_each_thread_has_its_own_session_and_keeps_it(make_context: MakeContext) -> None:
    fmt = SoapFormat(make_context("http://127.0.0.1:9/NAV/WS/C/Page/Appointment"))
    seen: dict[int, list[object]] = {}
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        mine = [fmt.sessions.current() for _ in range(3)]
        seen[threading.get_ident()] = mine

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    per_thread = [set(map(id, sessions)) for sessions in seen.values()]
    assert all(len(ids) == 1 for ids in per_thread)
    assert len(set.union(*per_thread)) == 4 == fmt.sessions.count
    fmt.sessions.close()
    assert fmt.sessions.count == 0


def test_basic_auth_reaches_the_wsdl_and_the_calls(
    make_context: MakeContext,
    writeback_soap_page_factory: PageFactory,
    credentials: tuple[str, str],
) -> None:
    acceptor = BasicAcceptor(dict([credentials]))
    page = writeback_soap_page_factory(auth=acceptor)
    fmt = SoapFormat(make_context(page.page_url, auth="basic"))
    results = asyncio.run(_send(fmt, create(page.page_url), OutboundMessage(page.page_url, "GET")))
    assert [(r.outcome, r.status_code) for r in results] == [(Outcome.DELIVERED, 200)] * 2
    # WSDL for the client, the call, the probe's GET; Basic is sent up front, never refused.
    assert (acceptor.accepted, acceptor.refused, page.wsdl_gets) == (3, 0, 2)


def test_a_wrong_password_is_a_401_that_names_no_secret(
    make_context: MakeContext,
    writeback_soap_page_factory: PageFactory,
    credentials: tuple[str, str],
) -> None:
    page = writeback_soap_page_factory(auth=BasicAcceptor(dict([credentials])))
    fmt = SoapFormat(make_context(page.page_url, auth="basic", password="wrong-pw-123"))
    (call, probe) = asyncio.run(
        _send(fmt, create(page.page_url), OutboundMessage(page.page_url, "GET"))
    )
    assert (call.outcome, call.status_code) == (Outcome.FAILED, 401)
    assert call.error == (
        f"WB-322: the WSDL could not be fetched from 127.0.0.1:{page.port}: HTTP 401: unauthorized"
    )
    assert (probe.outcome, probe.status_code) == (Outcome.FAILED, 401)
    assert page.calls == [] and page.wsdl_gets == 0


def test_an_env_password_is_read_again_for_every_attempt(
    make_context: MakeContext,
    writeback_soap_page_factory: PageFactory,
    credentials: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An ``env:`` password rotated on the server and in the environment: the next
    attempt carries the new one, on the thread's kept Session."""
    user, password = credentials
    monkeypatch.setenv("WB_SOAP_TEST_PW", password)
    acceptor = BasicAcceptor({user: password})
    page = writeback_soap_page_factory(auth=acceptor)
    # One thread, so that the second send reuses the first one's Session.
    context = make_context(
        page.page_url,
        auth="basic",
        password="env:WB_SOAP_TEST_PW",
        throttle=Throttle(max_concurrency=1),
    )
    fmt = SoapFormat(context)

    async def run() -> list[AttemptResult]:
        first = await send(fmt, create(page.page_url))
        acceptor.users[user] = "rotated-pw-456"
        stale = await send(fmt, create(page.page_url))
        monkeypatch.setenv("WB_SOAP_TEST_PW", "rotated-pw-456")
        again = await send(fmt, create(page.page_url))
        await fmt.aclose()
        return [first, stale, again]

    first, stale, again = asyncio.run(run())
    assert first.outcome is Outcome.DELIVERED
    assert (stale.outcome, stale.status_code) == (Outcome.FAILED, 401)
    assert again.outcome is Outcome.DELIVERED
    assert page.wsdl_gets == 1


def test_closing_ends_the_sessions_and_a_later_send_starts_afresh(
    make_context: MakeContext, writeback_soap_page: SoapPageServer
) -> None:
    page = writeback_soap_page
    fmt = SoapFormat(make_context(page.page_url))

    async def run() -> tuple[AttemptResult, int, AttemptResult]:
        first = await send(fmt, create(page.page_url))
        await fmt.aclose()
        count = fmt.sessions.count
        return first, count, await send(fmt, create(page.page_url))

    first, count_after_close, later = asyncio.run(run())
    assert first.outcome is later.outcome is Outcome.DELIVERED
    assert count_after_close == 0
    assert page.connections_accepted == 2
    assert page.wsdl_gets == 1  # the parsed WSDL outlives the connections


def _tls_page(serve: Callable[..., LocalServer], test_ca: LocalCA) -> LocalServer:
    server = serve(tls=test_ca.server_context)
    url = server.url + "/BC/WS/CRONUS/Page/Appointment"
    wsdl = page_wsdl("Appointment", PAGE_FIELDS, url)
    answer = result_envelope("Appointment", "Create", {"Appointment": {"Subject": "S0"}})
    server.responder = lambda seen: (
        (200, {"content-type": "text/xml; charset=utf-8"}, wsdl if seen.method == "GET" else answer)
    )
    return server


@pytest.mark.parametrize(
    ("ssl_cert_file", "requests_ca_bundle", "trusted"),
    [
        ("ca", None, True),
        (None, "ca", True),
        ("ca", "system", True),  # SSL_CERT_FILE wins over REQUESTS_CA_BUNDLE
        ("system", "ca", False),
    ],
)
def test_https_trusts_the_bundle_the_environment_names_first(
    make_context: MakeContext,
    serve: Callable[..., LocalServer],
    test_ca: LocalCA,
    monkeypatch: pytest.MonkeyPatch,
    ssl_cert_file: str | None,
    requests_ca_bundle: str | None,
    trusted: bool,
) -> None:
    import certifi

    bundles = {"ca": str(test_ca.ca_pem), "system": certifi.where()}
    for variable, choice in (
        ("SSL_CERT_FILE", ssl_cert_file),
        ("REQUESTS_CA_BUNDLE", requests_ca_bundle),
    ):
        if choice is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, bundles[choice])
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    server = _tls_page(serve, test_ca)
    url = server.url + "/BC/WS/CRONUS/Page/Appointment"
    (result,) = asyncio.run(_send(SoapFormat(make_context(url)), create(url)))
    if trusted:
        assert result.outcome is Outcome.DELIVERED, result.error
    else:
        assert result.outcome is Outcome.RETRY
        assert result.error is not None
        assert result.error.startswith(
            "connection failed: fetching the WSDL: TLS certificate not trusted"
        )


def test_an_unreadable_ca_bundle_is_one_clear_sentence(
    make_context: MakeContext, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from writeback.plugin import AttemptError

    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    with pytest.raises(AttemptError) as caught:
        SoapFormat(make_context("https://nav.example.com/WS/C/Page/Appointment"))
    assert caught.value.message.startswith(
        "the CA bundle /nonexistent/ca.pem named by SSL_CERT_FILE"
    )


async def _send(fmt: SoapFormat, *messages: OutboundMessage) -> list[AttemptResult]:
    try:
        return [await send(fmt, message) for message in messages]
    finally:
        await fmt.aclose()


def test_the_environments_proxy_is_used_and_no_proxy_honoured(
    make_context: MakeContext,
    serve: Callable[..., LocalServer],
    writeback_soap_page: SoapPageServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = serve()
    url = "http://nav.invalid:7047/BC/WS/CRONUS/Page/Appointment"
    wsdl = page_wsdl("Appointment", PAGE_FIELDS, url)
    answer = result_envelope("Appointment", "Create", {"Appointment": {"Subject": "S0"}})
    proxy.responder = lambda seen: (
        (200, {"content-type": "text/xml; charset=utf-8"}, wsdl if seen.method == "GET" else answer)
    )
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    results = asyncio.run(_send(SoapFormat(make_context(url)), create(url)))
    assert results[0].outcome is Outcome.DELIVERED, results[0].error
    assert [(s.method, s.path) for s in proxy.seen] == [("GET", url), ("POST", url)]
    page = writeback_soap_page  # 127.0.0.1 is in NO_PROXY: reached directly
    (direct,) = asyncio.run(_send(SoapFormat(make_context(page.page_url)), create(page.page_url)))
    assert direct.outcome is Outcome.DELIVERED
    assert len(proxy.seen) == 2 and page.wsdl_gets == 1
