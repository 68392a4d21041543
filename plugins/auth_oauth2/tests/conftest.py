"""Fixtures for the oauth2 tests: a registry with a stand-in connector type.

The stand-in keeps these tests independent of any real back office: it accepts
``oauth2`` for ``json`` and posts the delivery's appointment as it is.
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
                auth_rules=(AuthRule(api_format="json", methods=("oauth2",)),),
                factory=EchoType,
            )
        ]


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    wanted = {"oauth2", "json"}
    eps = [ep for ep in importlib.metadata.entry_points(group="writeback") if ep.name in wanted]
    registry = PluginRegistry.load(entry_points=eps)
    registry.register(StandInPlugin(), name="standin")
    return registry


@pytest.fixture
def make_connector(registry: PluginRegistry) -> Callable[..., ValidatedConnector]:
    """``make_connector(uri=…, **auth_settings)``: a validated row using ``oauth2``."""

    def make(uri: str = "https://erp.example.com/api", **auth: Any) -> ValidatedConnector:
        row = {
            "name": "erp",
            "type": "standin",
            "api_type": "json",
            "uri": uri,
            "source_app": "CRONUSUS",
            "auth": {"method": "oauth2", **auth},
        }
        return validate_connector(row, registry)

    return make
