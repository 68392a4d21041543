"""The oauth2 auth method is found through its entry point and declares itself correctly."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from writeback.conformance import conformance_problems
from writeback.plugin import PluginRegistry


def test_entry_point_names_the_plugin_module() -> None:
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group="writeback")}
    assert found["oauth2"].value == "writeback_auth_oauth2.plugin"
    assert found["oauth2"].dist is not None
    assert found["oauth2"].dist.name == "writeback-auth-oauth2"


def test_registry_loads_oauth2() -> None:
    registry = PluginRegistry.load()
    spec = registry.auth_method("oauth2")
    assert spec.distribution == "writeback-auth-oauth2"
    assert spec.version == importlib.metadata.version("writeback-auth-oauth2")
    assert spec.transports == ()  # a bearer header: every transport can send it
    assert spec.secret_fields == ("client_secret",)
    assert spec.sends_credentials is True
    assert [e for e in registry.load_errors if e.distribution == "writeback-auth-oauth2"] == []


def test_descriptor_conforms() -> None:
    assert conformance_problems(PluginRegistry.load().auth_method("oauth2")) == []


def test_declaring_imports_no_heavy_library() -> None:
    code = (
        "import sys, writeback_auth_oauth2, writeback_auth_oauth2.plugin as plugin\n"
        "plugin.writeback_auth_methods()\n"
        "heavy = ('httpx', 'requests', 'authlib', 'sqlalchemy')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"


def test_requests_is_an_extra_not_a_dependency() -> None:
    requires = importlib.metadata.requires("writeback-auth-oauth2") or []
    plain = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("authlib") for r in plain)
    assert not any(r.startswith("requests") for r in plain)
    assert any(r.startswith("requests") and "extra ==" in r for r in requires)
