"""The soap format is found through its entry point and declares itself correctly."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from writeback import InvalidConnectorError
from writeback.conformance import conformance_problems
from writeback.plugin import (
    ApiFormat,
    PipelineContext,
    PluginRegistry,
    validate_connector,
)


def test_entry_point_names_the_plugin_module() -> None:
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group="writeback")}
    assert found["soap"].value == "writeback_soap.plugin"
    assert found["soap"].dist is not None
    assert found["soap"].dist.name == "writeback-soap"


def test_registry_loads_soap_on_the_requests_transport() -> None:
    registry = PluginRegistry.load()
    spec = registry.api_format("soap")
    assert spec.transport == "requests"
    assert spec.distribution == "writeback-soap"
    assert spec.version == importlib.metadata.version("writeback-soap")
    assert [e for e in registry.load_errors if e.distribution == "writeback-soap"] == []


def test_descriptor_conforms() -> None:
    assert conformance_problems(PluginRegistry.load().api_format("soap")) == []


def test_factory_builds_an_api_format(make_context: Callable[..., PipelineContext]) -> None:
    working = (
        PluginRegistry.load()
        .api_format("soap")
        .factory(make_context("https://nav.example.com:7047/NAV/WS/CRONUS/Page/Appointment"))
    )
    assert isinstance(working, ApiFormat)


def test_declaring_and_listing_do_not_import_zeep_or_requests() -> None:
    code = (
        "import sys, writeback.plugin, writeback_soap.plugin as plugin\n"
        "plugin.writeback_api_formats()\n"
        "writeback.plugin.PluginRegistry.load().summary()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'zeep', 'lxml', 'requests'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"


def test_validation_refuses_basic_over_http_and_accepts_the_opt_in(
    registry: PluginRegistry,
    page_row: Callable[..., dict[str, Any]],
    credentials: tuple[str, str],
) -> None:
    row = page_row("http://nav.example.com:7047/NAV/WS/C/Page/Appointment", auth="basic")
    with pytest.raises(InvalidConnectorError) as caught:
        validate_connector(row, registry)
    assert caught.value.problems == [
        "uri 'http://nav.example.com:7047/NAV/WS/C/Page/Appointment': auth.method 'basic' "
        "would send the credentials in clear over http://; use an https:// uri, or set "
        "options.allow_insecure_http: true if the network between is trusted."
    ]
    assert credentials[1] not in str(caught.value)
    unauthenticated = page_row("http://nav.example.com:7047/NAV/WS/C/Page/Appointment")
    assert validate_connector(unauthenticated, registry).format_spec.name == "soap"
