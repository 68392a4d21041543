"""Basic auth over a real socket, through the pipeline with the json format."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from writeback.plugin import AttemptResult, Delivery, Outcome, Pipeline, ValidatedConnector

if TYPE_CHECKING:
    from conftest import LocalServer, Seen

import writeback_json  # noqa: F401  (these tests send over the json format; a missing one must fail)

DELIVERY = Delivery(
    id="dlv_1",
    event_id="evt_1",
    action="create",
    appointment={"appointmentNo": "A-1", "sourceApp": "CRONUSUS"},
    occurred_at=None,
)


def deliver(connector: ValidatedConnector) -> AttemptResult:
    async def run() -> AttemptResult:
        pipeline = Pipeline.build(connector)
        try:
            return await pipeline.send(DELIVERY)
        finally:
            await pipeline.aclose()

    return asyncio.run(run())


@pytest.fixture
def guarded(http_server: LocalServer) -> LocalServer:
    """Answers 201 to ``WEBUSER:Pa55:wörd`` and 401 to anything else."""
    expected = "Basic " + base64.b64encode("WEBUSER:Pa55:wörd".encode()).decode()

    def check(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.headers.get("authorization") == expected:
            return 201, {}, b""
        return 401, {"www-authenticate": 'Basic realm="erp"'}, b""

    http_server.responder = check
    return http_server


def test_right_credentials_are_delivered(
    make_connector: Callable[..., ValidatedConnector], guarded: LocalServer
) -> None:
    connector = make_connector(uri=guarded.url, username="WEBUSER", password="Pa55:wörd")
    result = deliver(connector)
    assert result.outcome is Outcome.DELIVERED
    assert result.status_code == 201
    (seen,) = guarded.seen
    assert seen.body == b'{"appointmentNo":"A-1","sourceApp":"CRONUSUS"}'


def test_wrong_password_fails_without_a_resend(
    make_connector: Callable[..., ValidatedConnector], guarded: LocalServer
) -> None:
    connector = make_connector(uri=guarded.url, username="WEBUSER", password="wrong")
    result = deliver(connector)
    assert result.outcome is Outcome.FAILED
    assert result.error == "HTTP 401"
    assert len(guarded.seen) == 1


def test_a_password_echoed_by_the_server_is_redacted(
    make_connector: Callable[..., ValidatedConnector], http_server: LocalServer
) -> None:
    http_server.reply(400, b"user WEBUSER with password echo-me-77 is locked")
    connector = make_connector(uri=http_server.url, username="WEBUSER", password="echo-me-77")
    result = deliver(connector)
    assert result.outcome is Outcome.FAILED
    assert result.error == "HTTP 400: user WEBUSER with password *** is locked"
