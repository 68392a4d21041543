"""The per-attempt auth seam with a stand-in transport the auth plugins never heard of.

A tiny format sends over an in-memory "transport" (it only records the headers
it would send and answers from a script).  The installed ``basic`` and
``oauth2`` plugins, unchanged, authenticate it: their credentials are headers.
A 401 makes the pipeline refresh exactly the token that attempt attached, once,
against the real token simulator.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from writeback.plugin import (
    AttemptAuth,
    AttemptResult,
    Delivery,
    OutboundMessage,
    Outcome,
    Pipeline,
    PluginRegistry,
    validate_connector,
)

DELIVERY = Delivery(id="d1", event_id="e1", action="create", appointment={"n": 1}, occurred_at=None)


class StandinFormat:
    """Sends nothing anywhere: records what it would send, answers from ``statuses``."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.sent: list[dict[str, str]] = []

    async def send(self, message: OutboundMessage, auth: AttemptAuth) -> AttemptResult:
        assert auth.transport_auth("standin") is None  # nothing transport-specific
        self.sent.append(dict(auth.headers()))
        status = self.statuses.pop(0) if self.statuses else 200
        outcome = Outcome.DELIVERED if status < 300 else Outcome.FAILED
        return AttemptResult(outcome, status_code=status)

    async def aclose(self) -> None:
        return None


def standin_pipeline(row: dict[str, Any], statuses: list[int]) -> tuple[Pipeline, StandinFormat]:
    """The installed type and auth plugins, their context naming the stand-in transport."""
    connector = validate_connector(row, PluginRegistry.load())
    context = replace(connector.context(), transport="standin")
    auth = connector.auth_spec.factory(context)
    fmt = StandinFormat(statuses)
    connector_type = connector.type_spec.factory(context)
    return Pipeline(connector, connector_type, fmt, auth), fmt


def row(auth: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "seam",
        "type": "webhook",
        "uri": "https://receiver.example.com/hook",
        "api_type": "json",
        "source_app": "CRONUSUS",
        "auth": auth,
    }


def test_basic_authenticates_a_transport_it_does_not_know() -> None:
    pipeline, fmt = standin_pipeline(
        row({"method": "basic", "username": "WEBUSER", "password": "Pa55-w0rd"}), [401]
    )
    result = asyncio.run(pipeline.send(DELIVERY))
    # One send: a fixed password gains nothing from a resend.
    assert (result.status_code, len(fmt.sent)) == (401, 1)
    assert fmt.sent[0]["Authorization"].startswith("Basic ")


def test_oauth2_on_a_stand_in_transport_refreshes_the_attached_token_once(
    writeback_oauth2_server: Any,
) -> None:
    server = writeback_oauth2_server
    server.register("seam-client", "seam-secret")
    auth = {
        "method": "oauth2",
        "token_url": server.token_url,
        "client_id": "seam-client",
        "client_secret": "seam-secret",
    }
    pipeline, fmt = standin_pipeline(row(auth), [401, 401])

    result = asyncio.run(pipeline.send(DELIVERY))
    # The first token refused, exactly one fresh one fetched and sent, and no more.
    assert (result.status_code, len(fmt.sent)) == (401, 2)
    first, second = (h["Authorization"] for h in fmt.sent)
    assert first != second and first.startswith("Bearer ") and second.startswith("Bearer ")
    assert server.token_requests == 2
    delivered = asyncio.run(pipeline.send(DELIVERY))
    assert delivered.outcome is Outcome.DELIVERED
    assert fmt.sent[-1]["Authorization"] == second  # the fresh token is kept
    assert server.token_requests == 2
