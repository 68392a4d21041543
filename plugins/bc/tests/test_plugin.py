"""The bc type is found through its entry point and declares its support matrix as data."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from writeback.conformance import conformance_problems
from writeback.plugin import PluginRegistry
from writeback_bc.plugin import BC_ENTRA_SCOPE


def test_entry_point_names_the_plugin_module() -> None:
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group="writeback")}
    assert found["bc"].value == "writeback_bc.plugin"
    assert found["bc"].dist is not None and found["bc"].dist.name == "writeback-bc"


def test_registry_loads_bc(registry: PluginRegistry) -> None:
    spec = registry.connector_type("bc")
    assert spec.distribution == "writeback-bc"
    assert spec.version == importlib.metadata.version("writeback-bc")
    assert spec.formats == ("json", "soap")
    assert spec.variants == ("onprem", "cloud")
    assert (spec.label("onprem"), spec.label("cloud")) == ("on-premises", "online")
    assert [e for e in registry.load_errors if e.distribution == "writeback-bc"] == []


def test_auth_rules_are_the_support_matrix(registry: PluginRegistry) -> None:
    spec = registry.connector_type("bc")
    rules = {(r.variant, r.api_format): (r.methods, dict(r.warnings)) for r in spec.auth_rules}
    assert set(rules) == {
        ("onprem", "soap"),
        ("onprem", "json"),
        ("cloud", "soap"),
        ("cloud", "json"),
    }
    assert rules["onprem", "soap"][0] == ("basic", "windows", "ntlm", "entra", "oauth2")
    assert rules["onprem", "json"] == (("basic", "entra", "oauth2"), {})
    for fmt in ("soap", "json"):
        methods, warnings = rules["cloud", fmt]
        assert methods == ("basic", "entra", "oauth2")
        assert list(warnings) == ["basic"] and "retired" in warnings["basic"]


def test_defaults_coalesce_throttle_and_entra_scope(registry: PluginRegistry) -> None:
    spec = registry.connector_type("bc")
    assert spec.coalesce_default is True
    assert (spec.throttle_default.max_concurrency, spec.throttle_default.rate) == (5, "6000/300s")
    assert spec.auth_defaults == {"entra": {"scope": BC_ENTRA_SCOPE}}
    assert BC_ENTRA_SCOPE == "https://api.businesscentral.dynamics.com/.default"
    assert spec.secret_fields == ()


def test_descriptor_conforms(registry: PluginRegistry) -> None:
    assert conformance_problems(registry.connector_type("bc")) == []


def test_declaring_imports_no_protocol_library_or_format() -> None:
    code = (
        "import sys, writeback_bc.plugin as plugin\n"
        "plugin.writeback_connector_types()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "      ('httpx', 'httpcore', 'requests', 'zeep', 'writeback_json', 'writeback_soap')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"


def test_distribution_depends_on_the_core_only() -> None:
    requires = importlib.metadata.requires("writeback-bc") or []
    assert requires == ["writeback"]
