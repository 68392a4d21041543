"""A webhook delivered over a real socket through the pipeline: webhook + json + auth."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from writeback.plugin import (
    AttemptResult,
    Delivery,
    Outcome,
    Pipeline,
    ProbeReport,
    ValidatedConnector,
)
from writeback_webhook import verify_signature

if TYPE_CHECKING:
    from conftest import LocalServer

MakeConnector = Callable[..., ValidatedConnector]
MakeDelivery = Callable[..., Delivery]


def deliver(connector: ValidatedConnector, *deliveries: Delivery) -> list[AttemptResult]:
    async def run() -> list[AttemptResult]:
        pipeline = Pipeline.build(connector)
        try:
            return [await pipeline.send(delivery) for delivery in deliveries]
        finally:
            await pipeline.aclose()

    return asyncio.run(run())


def probe(connector: ValidatedConnector) -> ProbeReport:
    async def run() -> ProbeReport:
        pipeline = Pipeline.build(connector)
        try:
            return await pipeline.probe()
        finally:
            await pipeline.aclose()

    return asyncio.run(run())


def test_signed_delivery_with_basic_auth(
    make_connector: MakeConnector,
    make_delivery: MakeDelivery,
    http_server: LocalServer,
    signing_secret: str,
    appointment: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WB_TEST_HOOK_PASSWORD", "s3cret:pässword")
    connector = make_connector(
        uri=http_server.url + "/hooks/planning",
        auth={"method": "basic", "username": "planner", "password": "env:WB_TEST_HOOK_PASSWORD"},
        signing_secret=signing_secret,
    )
    http_server.reply(500, b"try later")
    first, second = deliver(connector, make_delivery(attempt=1), make_delivery(attempt=2))
    assert (first.outcome, second.outcome) == (Outcome.RETRY, Outcome.DELIVERED)
    assert first.error == "HTTP 500: try later"

    expected_auth = "Basic " + base64.b64encode("planner:s3cret:pässword".encode()).decode()
    for seen in http_server.seen:
        assert (seen.method, seen.path) == ("POST", "/hooks/planning")
        assert seen.headers["authorization"] == expected_auth
        assert seen.headers["content-type"] == "application/json"
        assert seen.headers["webhook-id"] == "dlv_01JD7Y3Z"
        assert verify_signature(signing_secret, seen.headers, seen.body)
        assert json.loads(seen.body)["data"] == appointment


def test_probe_sends_head_with_the_auth(
    make_connector: MakeConnector, http_server: LocalServer
) -> None:
    connector = make_connector(
        uri=http_server.url + "/hook", auth={"method": "basic", "username": "u", "password": "pw"}
    )
    http_server.reply(405)
    report = probe(connector)
    assert report == ProbeReport(True, "reached and accepted (HTTP 405); basic auth as u")
    (seen,) = http_server.seen
    assert (seen.method, seen.body) == ("HEAD", b"")
    assert seen.headers["authorization"] == "Basic " + base64.b64encode(b"u:pw").decode()


def test_bare_appointment_without_auth(
    make_connector: MakeConnector,
    make_delivery: MakeDelivery,
    http_server: LocalServer,
    appointment: dict[str, Any],
) -> None:
    connector = make_connector(uri=http_server.url, payload="appointment")
    (result,) = deliver(connector, make_delivery("create"))
    assert result.outcome is Outcome.DELIVERED
    (seen,) = http_server.seen
    assert json.loads(seen.body) == appointment
    assert seen.headers["x-writeback-action"] == "create"
    assert "authorization" not in seen.headers
    assert "webhook-signature" not in seen.headers


def test_gone_receiver_fails(
    make_connector: MakeConnector, make_delivery: MakeDelivery, http_server: LocalServer
) -> None:
    http_server.reply(410, b"endpoint removed")
    (result,) = deliver(make_connector(uri=http_server.url), make_delivery())
    assert result.outcome is Outcome.FAILED
    assert result.error == "HTTP 410: endpoint removed"
    # Gone for good: the core pauses the connector (tests/test_pause.py runs it end to end).
    assert result.pause_connector and "410 Gone" in result.pause_connector


def test_other_failures_do_not_pause(
    make_connector: MakeConnector, make_delivery: MakeDelivery, http_server: LocalServer
) -> None:
    http_server.reply(404, b"no such path")
    (result,) = deliver(make_connector(uri=http_server.url), make_delivery())
    assert result.outcome is Outcome.FAILED and result.pause_connector is None


def test_refused_connection_is_retried(
    make_connector: MakeConnector,
    make_delivery: MakeDelivery,
    refused_url: str,
    signing_secret: str,
) -> None:
    (result,) = deliver(
        make_connector(uri=refused_url, signing_secret=signing_secret), make_delivery()
    )
    port = refused_url.split(":")[2].split("/")[0]
    assert result.outcome is Outcome.RETRY
    assert result.error == f"connection failed: [Errno 111] Connection refused (127.0.0.1:{port})"
