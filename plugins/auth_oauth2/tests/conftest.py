"""Fixtures for the oauth2 tests: a registry with a stand-in connector type.

The stand-in (:mod:`writeback_testing.standin`) keeps these tests independent
of any real back office: it accepts ``oauth2`` for ``json`` and posts the
delivery's appointment as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from writeback.plugin import PluginRegistry, ValidatedConnector
from writeback_testing.standin import standin_connector, standin_registry


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    return standin_registry({"oauth2", "json"}, methods=("oauth2",))


@pytest.fixture
def make_connector(registry: PluginRegistry) -> Callable[..., ValidatedConnector]:
    """``make_connector(uri=…, **auth_settings)``: a validated row using ``oauth2``."""

    def make(uri: str = "https://erp.example.com/api", **auth: Any) -> ValidatedConnector:
        return standin_connector(registry, method="oauth2", uri=uri, **auth)

    return make
