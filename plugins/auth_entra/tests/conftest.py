"""Fixtures for the entra tests: a registry with a stand-in connector type.

The stand-in keeps these tests independent of any real back office: it accepts
``entra`` for ``json`` and posts the delivery's appointment as it is.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from typing import Any

import pytest
from writeback import (
    AuthRule,
    ConnectorTypeBase,
    ConnectorTypeSpec,
    Delivery,
    OutboundMessage,
    PluginRegistry,
    ValidatedConnector,
    hookimpl,
    validate_connector,
)


class EchoType(ConnectorTypeBase):
    def build_message(self, delivery: Delivery) -> OutboundMessage:
        return OutboundMessage(self.context.connector.uri, payload=dict(delivery.appointment))


class StandInPlugin:
    @hookimpl
    def writeback_connector_types(self) -> list[ConnectorTypeSpec]:
        return [
            ConnectorTypeSpec(
                name="standin",
                summary="test stand-in",
                formats=("json",),
                auth_rules=(AuthRule(api_format="json", methods=("entra",)),),
                factory=EchoType,
            ),
            ConnectorTypeSpec(
                name="scoped",
                summary="test stand-in with a default Entra scope",
                formats=("json",),
                auth_rules=(AuthRule(api_format="json", methods=("entra",)),),
                factory=EchoType,
                auth_defaults={"entra": {"scope": "https://api.example.com/.default"}},
            ),
        ]


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    wanted = {"entra", "json"}
    eps = [ep for ep in importlib.metadata.entry_points(group="writeback") if ep.name in wanted]
    registry = PluginRegistry.load(entry_points=eps)
    registry.register(StandInPlugin(), name="standin")
    return registry


@pytest.fixture
def make_connector(registry: PluginRegistry) -> Callable[..., ValidatedConnector]:
    """``make_connector(uri=…, type=…, **auth_settings)``: a validated row using ``entra``."""

    def make(
        uri: str = "https://erp.example.com/api", type: str = "standin", **auth: Any
    ) -> ValidatedConnector:
        row = {
            "name": "erp",
            "type": type,
            "api_type": "json",
            "uri": uri,
            "source_app": "CRONUSUS",
            "auth": {"method": "entra", **auth},
        }
        return validate_connector(row, registry)

    return make
