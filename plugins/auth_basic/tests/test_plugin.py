"""The basic auth method is found through its entry point and declares itself correctly."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from writeback.conformance import conformance_problems
from writeback.plugin import PluginRegistry


def test_entry_point_names_the_plugin_module() -> None:
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group="writeback")}
    assert found["basic"].value == "writeback_auth_basic.plugin"
    assert found["basic"].dist is not None
    assert found["basic"].dist.name == "writeback-auth-basic"


def test_registry_loads_basic() -> None:
    registry = PluginRegistry.load()
    spec = registry.auth_method("basic")
    assert spec.distribution == "writeback-auth-basic"
    assert spec.version == importlib.metadata.version("writeback-auth-basic")
    assert spec.transports == ()  # a header: every transport can send it
    assert spec.secret_fields == ("password",)
    assert spec.sends_credentials is True
    assert [e for e in registry.load_errors if e.distribution == "writeback-auth-basic"] == []


def test_descriptor_conforms() -> None:
    assert conformance_problems(PluginRegistry.load().auth_method("basic")) == []


def test_declaring_imports_no_transport_library() -> None:
    code = (
        "import sys, writeback_auth_basic.plugin as plugin\n"
        "plugin.writeback_auth_methods()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('httpx', 'requests')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"
