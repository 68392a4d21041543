"""The ntlm and windows methods are found through their entry point and declare themselves."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest
from writeback.conformance import conformance_problems
from writeback.plugin import PluginRegistry


def test_entry_point_names_the_plugin_module() -> None:
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group="writeback")}
    assert found["windows"].value == "writeback_auth_windows.plugin"
    assert found["windows"].dist is not None
    assert found["windows"].dist.name == "writeback-auth-windows"


@pytest.mark.parametrize("method", ["ntlm", "windows"])
def test_registry_loads_the_method(method: str) -> None:
    registry = PluginRegistry.load()
    spec = registry.auth_method(method)
    assert spec.distribution == "writeback-auth-windows"
    assert spec.version == importlib.metadata.version("writeback-auth-windows")
    # Connection-oriented schemes: only requests lets an auth object drive a connection.
    assert spec.transports == ("requests",)
    assert spec.secret_fields == ("password",)
    # The password never crosses the wire (challenge response / ticket).
    assert spec.sends_credentials is False
    assert [e for e in registry.load_errors if e.distribution == "writeback-auth-windows"] == []
    assert conformance_problems(spec) == []


def test_declaring_imports_no_protocol_library() -> None:
    code = (
        "import sys, writeback_auth_windows.plugin as plugin\n"
        "plugin.writeback_auth_methods()\n"
        "heavy = ('requests', 'requests_ntlm', 'spnego', 'gssapi', 'krb5', 'httpx')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"


def test_declared_dependencies_are_exactly_what_is_imported() -> None:
    requires = importlib.metadata.requires("writeback-auth-windows") or []
    plain = sorted(r.split(">")[0].split("[")[0].strip() for r in requires if "extra ==" not in r)
    assert plain == ["pyspnego", "requests", "requests-ntlm", "writeback"]
    extras = [r for r in requires if "extra ==" in r]
    assert extras and all(r.startswith("pyspnego[kerberos]") for r in extras)
