"""The json format is found through its entry point and declares itself correctly."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Callable

from writeback.conformance import conformance_problems
from writeback.plugin import ApiFormat, PipelineContext, PluginRegistry


def test_entry_point_names_the_plugin_module() -> None:
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group="writeback")}
    assert found["json"].value == "writeback_json.plugin"
    assert found["json"].dist is not None
    assert found["json"].dist.name == "writeback-json"


def test_registry_loads_json_and_its_alias() -> None:
    registry = PluginRegistry.load()
    spec = registry.api_format("rest")
    assert spec.name == "json"
    assert spec.transport == "httpx"
    assert spec.distribution == "writeback-json"
    assert spec.version == importlib.metadata.version("writeback-json")
    assert [e for e in registry.load_errors if e.distribution == "writeback-json"] == []


def test_descriptor_conforms() -> None:
    assert conformance_problems(PluginRegistry.load().api_format("json")) == []


def test_factory_builds_an_api_format(make_context: Callable[..., PipelineContext]) -> None:
    working = PluginRegistry.load().api_format("json").factory(make_context())
    assert isinstance(working, ApiFormat)


def test_declaring_and_listing_do_not_import_httpx() -> None:
    code = (
        "import sys, writeback.plugin, writeback_json.plugin as plugin\n"
        "plugin.writeback_api_formats()\n"
        "writeback.plugin.PluginRegistry.load().summary()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('httpx', 'httpcore')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"


def test_building_the_format_imports_what_its_first_send_needs() -> None:
    """httpx imports httpcore only when it makes a client; a worker builds its
    pipelines before its first claim, so the import belongs to the build."""
    code = "import sys, writeback_json._format\nprint('httpcore' in sys.modules)\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "True"
