"""Fixtures for the entra tests: a registry with stand-in connector types.

The stand-ins (:mod:`writeback_testing.standin`) keep these tests independent
of any real back office: they accept ``entra`` for ``json`` and post the
delivery's appointment as it is; ``scoped`` also brings a default scope, as
``bc`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from writeback.plugin import PluginRegistry, ValidatedConnector
from writeback_testing.standin import standin_connector, standin_registry, standin_type


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    return standin_registry(
        {"entra", "json"},
        types=[
            standin_type(methods=("entra",)),
            standin_type(
                "scoped",
                methods=("entra",),
                summary="test stand-in with a default Entra scope",
                auth_defaults={"entra": {"scope": "https://api.example.com/.default"}},
            ),
        ],
    )


@pytest.fixture
def make_connector(registry: PluginRegistry) -> Callable[..., ValidatedConnector]:
    """``make_connector(uri=…, type=…, **auth_settings)``: a validated row using ``entra``."""

    def make(
        uri: str = "https://erp.example.com/api", type: str = "standin", **auth: Any
    ) -> ValidatedConnector:
        return standin_connector(registry, method="entra", uri=uri, type=type, **auth)

    return make
