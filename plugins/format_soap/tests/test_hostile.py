"""The soap format against endpoints that misbehave: redirects, trickles, floods, imports."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from writeback._outcome import ANSWER_LIMIT
from writeback.plugin import AttemptResult, Deadline, OutboundMessage, Outcome, PipelineContext
from writeback_soap import SoapFormat
from writeback_testing._soap_xml import PAGE_FIELDS, page_wsdl
from writeback_testing.hostile import (
    MIB,
    Answer,
    Flood,
    HostileServer,
    PageWsdl,
    Redirect,
    Trickle,
    soap_create_result,
)

MakeContext = Callable[..., PipelineContext]
Hostile = Callable[..., HostileServer]
PATH = "/BC/WS/Page/Appointment"
RECORD = {"Database_Action": "I", "Source_App": "CRONUSUS", "Subject": "Boiler check"}


def create(url: str) -> OutboundMessage:
    return OutboundMessage(url=url, operation="Create", payload=dict(RECORD))


def send_all(fmt: SoapFormat, *messages: OutboundMessage) -> list[AttemptResult]:
    async def run() -> list[AttemptResult]:
        try:
            return [await fmt.send(message) for message in messages]
        finally:
            await fmt.aclose()

    return asyncio.run(run())


def test_an_answer_trickled_from_its_first_byte_is_cut_at_the_deadline(
    make_context: MakeContext, writeback_hostile_factory: Hostile
) -> None:
    server = writeback_hostile_factory(
        {
            "GET": PageWsdl(),
            "POST": [Trickle(b" " * 30, head=True), Answer(200, soap_create_result())],
        }
    )
    uri = server.url + PATH
    fmt = SoapFormat(make_context(uri, timeout=1))
    first, second = send_all(fmt, create(uri), create(uri))
    assert first.outcome is Outcome.RETRY
    assert first.error == f"timed out: no complete answer within 1 s (127.0.0.1:{server.port})"
    assert server.wait_abandoned(1) == 1
    # The thread's next attempt has a connection of its own, not the one cut.
    assert (second.outcome, second.status_code) == (Outcome.DELIVERED, 200)


def test_the_plain_request_follows_no_redirect(
    make_context: MakeContext, writeback_hostile_factory: Hostile
) -> None:
    target = writeback_hostile_factory({"*": Answer(200, b"sign in")})
    server = writeback_hostile_factory({"GET": Redirect(f"{target.url}/login?next=/x", 302)})
    fmt = SoapFormat(make_context(server.url + PATH))
    (result,) = send_all(fmt, OutboundMessage(url=server.url + PATH, method="GET"))
    assert result.outcome is Outcome.FAILED and result.status_code == 302
    assert result.error == (
        f"HTTP 302: redirected to {target.url}/login?… (redirects are not followed)"
    )
    assert target.requests == []


def test_a_redirect_with_a_huge_body_is_not_read(
    make_context: MakeContext, writeback_hostile_factory: Hostile
) -> None:
    # requests reads a redirect's whole body before deciding not to follow it.
    moved = Flood(307, sent=2 * MIB, headers={"Location": "/elsewhere"})
    server = writeback_hostile_factory({"GET": PageWsdl(), "POST": moved})
    uri = server.url + PATH
    (result,) = send_all(SoapFormat(make_context(uri, timeout=5)), create(uri))
    assert (result.outcome, result.status_code) == (Outcome.FAILED, 307)
    assert result.error is not None
    assert result.error.startswith(f"HTTP 307: redirected to {server.url}/elsewhere")


def test_a_long_success_answer_is_delivered_and_a_long_fault_cut(
    make_context: MakeContext, writeback_hostile_factory: Hostile
) -> None:
    server = writeback_hostile_factory(
        {"GET": PageWsdl(), "POST": [Flood(200, declared=ANSWER_LIMIT + 10), Flood(500)]}
    )
    uri = server.url + PATH
    ok, error = send_all(SoapFormat(make_context(uri, timeout=5)), create(uri), create(uri))
    assert (ok.outcome, ok.status_code, ok.error) == (Outcome.DELIVERED, 200, None)
    assert error.outcome is Outcome.RETRY and error.error is not None
    assert error.error.startswith("HTTP 500: xxx") and error.error.endswith("…")


def test_the_wsdl_imports_nothing_from_another_origin(
    make_context: MakeContext, writeback_hostile_factory: Hostile
) -> None:
    elsewhere = writeback_hostile_factory({"*": Answer(200, b"<x/>")})
    schema = b'targetNamespace="urn:microsoft-dynamics-schemas/page/appointment">'
    other = f'<xsd:import namespace="urn:other" schemaLocation="{elsewhere.url}/t.xsd?k=1"/>'
    wsdl = page_wsdl("Appointment", PAGE_FIELDS, "http://127.0.0.1:1/x")
    wsdl = wsdl.replace(schema, schema + other.encode(), 1)
    server = writeback_hostile_factory({"GET": Answer(200, wsdl, {"Content-Type": "text/xml"})})
    (result,) = send_all(SoapFormat(make_context(server.url + PATH)), create(server.url + PATH))
    assert result.outcome is Outcome.FAILED
    assert result.error is not None and result.error.startswith("WB-323")
    assert f"refers to {elsewhere.url}/t.xsd?…, outside the uri's origin" in result.error
    assert elsewhere.requests == []


def test_a_deadline_cuts_its_sockets_only_while_its_attempt_runs() -> None:
    ours, theirs = socket.socketpair()
    kept, peer = socket.socketpair()
    try:
        cut = Deadline(60)
        cut.watch(ours)
        cut.expire()
        assert theirs.recv(1) == b""  # shut down: the peer sees the end
        assert cut.passed
        over = Deadline(60)
        over.watch(kept)
        over.finish()
        over.expire()  # too late: the socket may be the thread's next attempt's
        kept.sendall(b"!")
        assert peer.recv(1) == b"!"
    finally:
        for sock in (ours, theirs, kept, peer):
            sock.close()


def test_a_deadline_counts_from_its_start() -> None:
    deadline = Deadline(0.0)
    assert not deadline.over()  # not started: waiting for a thread is not the endpoint's time
    deadline.start()
    assert deadline.over()
