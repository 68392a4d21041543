"""The entra auth method is found through its entry point and declares itself correctly."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from writeback.conformance import conformance_problems
from writeback.plugin import PluginRegistry


def test_entry_point_names_the_plugin_module() -> None:
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group="writeback")}
    assert found["entra"].value == "writeback_auth_entra.plugin"
    assert found["entra"].dist is not None
    assert found["entra"].dist.name == "writeback-auth-entra"


def test_registry_loads_entra() -> None:
    registry = PluginRegistry.load()
    spec = registry.auth_method("entra")
    assert spec.distribution == "writeback-auth-entra"
    assert spec.version == importlib.metadata.version("writeback-auth-entra")
    assert spec.transports == ()  # a bearer header: every transport can send it
    assert spec.secret_fields == ("client_secret",)
    assert spec.sends_credentials is True
    assert [e for e in registry.load_errors if e.distribution == "writeback-auth-entra"] == []


def test_descriptor_conforms() -> None:
    assert conformance_problems(PluginRegistry.load().auth_method("entra")) == []


def test_declaring_imports_no_heavy_library() -> None:
    code = (
        "import sys, writeback_auth_entra, writeback_auth_entra.plugin as plugin\n"
        "plugin.writeback_auth_methods()\n"
        "heavy = ('httpx', 'requests', 'msal', 'sqlalchemy')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"
