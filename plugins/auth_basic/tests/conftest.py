"""Fixtures for the basic auth tests: a registry with a stand-in connector type.

The stand-in type (:mod:`writeback_testing.standin`) keeps these tests
independent of any real back office: it accepts ``basic`` for ``json`` and
posts the delivery's appointment as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from writeback.plugin import PipelineContext, PluginRegistry, ValidatedConnector
from writeback_testing.standin import standin_connector, standin_registry


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    """The installed ``basic`` and ``json`` plugins and the stand-in type, nothing else."""
    return standin_registry({"basic", "json"}, methods=("basic",))


@pytest.fixture
def make_connector(registry: PluginRegistry) -> Callable[..., ValidatedConnector]:
    """``make_connector(uri=…, **auth_settings)``: a validated row using ``basic``."""

    def make(uri: str = "https://erp.example.com/api", **auth: Any) -> ValidatedConnector:
        return standin_connector(registry, method="basic", uri=uri, **auth)

    return make


@pytest.fixture
def make_context(make_connector: Callable[..., ValidatedConnector]) -> Callable[..., Any]:
    """``make_context(**auth_settings)``: the context the mechanism's factory gets."""

    def make(**auth: Any) -> PipelineContext:
        return make_connector(**auth).context()

    return make
