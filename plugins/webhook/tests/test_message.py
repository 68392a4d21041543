"""What the webhook type builds for one delivery.

docs/connectors.md, "What a webhook receiver gets", is the promise tested here.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from writeback.plugin import (
    AttemptError,
    Delivery,
    EnvSecretMissingError,
    OutboundMessage,
    Outcome,
    Pipeline,
    ValidatedConnector,
)
from writeback_webhook import WebhookConnector, verify_signature

MakeConnector = Callable[..., ValidatedConnector]
MakeDelivery = Callable[..., Delivery]


def build(connector: ValidatedConnector, delivery: Delivery) -> OutboundMessage:
    pipeline = Pipeline.build(connector)
    assert isinstance(pipeline.connector_type, WebhookConnector)
    return pipeline.connector_type.build_message(delivery)


def body_of(message: OutboundMessage) -> Any:
    assert message.content is not None
    return json.loads(message.content)


@pytest.mark.parametrize(
    ("action", "event_type"),
    [
        ("create", "appointment.created"),
        ("update", "appointment.updated"),
        ("delete", "appointment.deleted"),
    ],
)
def test_envelope_carries_type_timestamp_and_the_appointment_unchanged(
    make_connector: MakeConnector,
    make_delivery: MakeDelivery,
    appointment: dict[str, Any],
    action: str,
    event_type: str,
) -> None:
    occurred = datetime(2026, 11, 23, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    message = build(make_connector(), make_delivery(action, occurred_at=occurred))
    assert message.method == "POST"
    assert message.url == "https://hooks.example.com/appointments"
    assert body_of(message) == {
        "type": event_type,
        "timestamp": "2026-11-23T10:00:00Z",
        "data": appointment,
    }
    assert message.headers["content-type"] == "application/json"
    assert "x-writeback-action" not in message.headers


def test_body_is_compact_utf8_and_is_the_payload(
    make_connector: MakeConnector, make_delivery: MakeDelivery
) -> None:
    message = build(make_connector(), make_delivery())
    assert message.content is not None
    assert b'"subject":"Kessel pr\xc3\xbcfen"' in message.content
    assert b", " not in message.content and b": " not in message.content
    assert json.loads(message.content) == message.payload


def test_timestamp_is_now_without_occurred_at(
    make_connector: MakeConnector, make_delivery: MakeDelivery
) -> None:
    before = datetime.now(UTC)
    stamp = body_of(build(make_connector(), make_delivery(occurred_at=None)))["timestamp"]
    after = datetime.now(UTC)
    assert stamp.endswith("Z")
    assert before <= datetime.fromisoformat(stamp) <= after


def test_naive_occurred_at_is_taken_as_utc(
    make_connector: MakeConnector, make_delivery: MakeDelivery
) -> None:
    delivery = make_delivery(occurred_at=datetime(2026, 11, 23, 10, 0, 0, 250000))
    assert body_of(build(make_connector(), delivery))["timestamp"] == "2026-11-23T10:00:00.250000Z"


def test_headers_identify_the_delivery(
    make_connector: MakeConnector, make_delivery: MakeDelivery
) -> None:
    message = build(make_connector(), make_delivery())
    assert message.headers["webhook-id"] == "dlv_01JD7Y3Z"
    assert abs(int(message.headers["webhook-timestamp"]) - time.time()) <= 2
    assert "webhook-signature" not in message.headers


def test_signature_covers_the_exact_bytes(
    make_connector: MakeConnector, make_delivery: MakeDelivery, signing_secret: str
) -> None:
    message = build(make_connector(signing_secret=signing_secret), make_delivery())
    assert message.content is not None
    assert message.headers["webhook-signature"].startswith("v1,")
    assert verify_signature(signing_secret, message.headers, message.content)
    assert not verify_signature(signing_secret, message.headers, message.content + b" ")


def test_a_retry_keeps_the_webhook_id_and_signs_afresh(
    make_connector: MakeConnector, make_delivery: MakeDelivery, signing_secret: str
) -> None:
    connector = make_connector(signing_secret=signing_secret)
    first = build(connector, make_delivery(attempt=1))
    second = build(connector, make_delivery(attempt=2))
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "dlv_01JD7Y3Z"
    assert second.content is not None
    assert verify_signature(signing_secret, second.headers, second.content)


def test_bare_appointment_payload_with_action_header(
    make_connector: MakeConnector,
    make_delivery: MakeDelivery,
    appointment: dict[str, Any],
    signing_secret: str,
) -> None:
    connector = make_connector(payload="appointment", signing_secret=signing_secret)
    message = build(connector, make_delivery("delete"))
    assert body_of(message) == appointment
    assert message.headers["x-writeback-action"] == "delete"
    assert message.content is not None
    assert verify_signature(signing_secret, message.headers, message.content)


def test_env_secret_is_read_when_each_message_is_built(
    make_connector: MakeConnector,
    make_delivery: MakeDelivery,
    signing_secret: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rotated = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    monkeypatch.setenv("WB_TEST_HOOK_SECRET", signing_secret)
    connector = make_connector(signing_secret="env:WB_TEST_HOOK_SECRET")
    pipeline = Pipeline.build(connector)
    first = pipeline.connector_type.build_message(make_delivery())
    monkeypatch.setenv("WB_TEST_HOOK_SECRET", rotated)
    second = pipeline.connector_type.build_message(make_delivery())
    assert first.content is not None and second.content is not None
    assert verify_signature(signing_secret, first.headers, first.content)
    assert verify_signature(rotated, second.headers, second.content)
    assert not verify_signature(signing_secret, second.headers, second.content)


def test_missing_env_secret_fails_the_attempt_naming_the_variable(
    make_connector: MakeConnector, make_delivery: MakeDelivery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WB_TEST_HOOK_SECRET", raising=False)
    pipeline = Pipeline.build(make_connector(signing_secret="env:WB_TEST_HOOK_SECRET"))
    with pytest.raises(EnvSecretMissingError, match="WB_TEST_HOOK_SECRET"):
        pipeline.connector_type.build_message(make_delivery())
    result = asyncio.run(pipeline.send(make_delivery()))
    assert result.outcome is Outcome.FAILED
    assert result.error is not None and "WB_TEST_HOOK_SECRET" in result.error


def test_env_secret_of_the_wrong_form_fails_without_quoting_it(
    make_connector: MakeConnector, make_delivery: MakeDelivery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WB_TEST_HOOK_SECRET", "plain-password-123")
    pipeline = Pipeline.build(make_connector(signing_secret="env:WB_TEST_HOOK_SECRET"))
    with pytest.raises(AttemptError) as caught:
        pipeline.connector_type.build_message(make_delivery())
    assert caught.value.retryable is False
    assert "WB_TEST_HOOK_SECRET" in str(caught.value)
    assert "plain-password-123" not in str(caught.value)


def test_unknown_action_is_refused(
    make_connector: MakeConnector, make_delivery: MakeDelivery
) -> None:
    with pytest.raises(AttemptError, match="cannot send action 'upsert'"):
        build(make_connector(), make_delivery("upsert"))


def test_probe_is_head_on_the_uri(make_connector: MakeConnector) -> None:
    probe = Pipeline.build(make_connector()).connector_type.probe_message()
    assert (probe.method, probe.url, probe.content) == (
        "HEAD",
        "https://hooks.example.com/appointments",
        None,
    )
