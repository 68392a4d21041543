"""writeback_testing.standin: a stand-in connector type for testing format and auth plugins."""

from __future__ import annotations

import asyncio
import base64

import pytest
from writeback import InvalidConnectorError
from writeback.plugin import ApiFormatSpec, Delivery, Outcome, Pipeline
from writeback_testing import WebhookReceiver
from writeback_testing.standin import (
    StandInType,
    standin_connector,
    standin_registry,
    standin_type,
)

DELIVERY = Delivery(
    id="dlv_1",
    event_id="evt_1",
    action="create",
    appointment={"appointmentNo": "A-1", "sourceApp": "CRONUSUS", "subject": "Boiler"},
    occurred_at=None,
)


def test_only_the_named_plugins_and_the_stand_in_are_loaded(monkeypatch):
    monkeypatch.setenv("WRITEBACK_DISABLE_PLUGINS", "json")  # ignored: the test chose json
    registry = standin_registry({"basic", "json"}, methods=("basic",))
    assert set(registry.connector_types) == {"standin"}
    assert set(registry.api_formats) == {"json"}
    assert set(registry.auth_methods) == {"none", "basic"}  # ``none`` is built in
    spec = registry.connector_type("standin")
    assert spec.factory is StandInType and spec.formats == ("json",)
    assert [(r.api_format, r.methods) for r in spec.auth_rules] == [("json", ("basic",))]
    assert registry.load_errors == []


def test_a_method_the_stand_in_does_not_accept_is_refused():
    registry = standin_registry({"basic", "json"}, methods=("basic",))
    assert standin_connector(registry, method="basic", username="u", password="p")
    with pytest.raises(InvalidConnectorError, match="none"):
        standin_connector(registry, method="none")


def test_types_and_formats_of_the_test_own_take_the_place_of_the_default():
    custom = ApiFormatSpec(
        name="rawjson", summary="test format", transport="httpx", factory=lambda c: None
    )
    scoped = standin_type("scoped", methods=("none",), formats=("json", "rawjson"))
    registry = standin_registry({"json"}, types=[scoped], api_formats=[custom])
    assert set(registry.connector_types) == {"scoped"}
    assert set(registry.api_formats) == {"json", "rawjson"}
    rules = registry.connector_type("scoped").auth_rules
    assert [r.api_format for r in rules] == ["json", "rawjson"]
    row = standin_connector(registry, method="none", api_format="rawjson", type="scoped")
    assert (row.row.type, row.row.api_type) == ("scoped", "rawjson")


def test_the_stand_in_posts_the_appointment_as_it_is(writeback_receiver: WebhookReceiver):
    registry = standin_registry({"basic", "json"}, methods=("basic",))
    connector = standin_connector(
        registry, method="basic", uri=writeback_receiver.url + "/erp", username="u", password="p"
    )
    assert connector.row.source_app == "CRONUSUS"

    async def send() -> Outcome:
        pipeline = Pipeline.build(connector)
        try:
            return (await pipeline.send(DELIVERY)).outcome
        finally:
            await pipeline.aclose()

    assert asyncio.run(send()) is Outcome.DELIVERED
    (seen,) = writeback_receiver.deliveries
    assert (seen.method, seen.path, seen.json) == ("POST", "/erp", DELIVERY.appointment)
    assert seen.headers["authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
