"""The webhook type is found through its entry point and declares itself correctly."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from writeback.conformance import conformance_problems
from writeback.plugin import PluginRegistry


def test_entry_point_names_the_plugin_module() -> None:
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group="writeback")}
    assert found["webhook"].value == "writeback_webhook.plugin"
    assert found["webhook"].dist is not None
    assert found["webhook"].dist.name == "writeback-webhook"


def test_registry_loads_webhook(registry: PluginRegistry) -> None:
    spec = registry.connector_type("webhook")
    assert spec.distribution == "writeback-webhook"
    assert spec.version == importlib.metadata.version("writeback-webhook")
    assert spec.formats == ("json",)
    assert spec.coalesce_default is False
    assert spec.secret_fields == ("signing_secret",)
    assert [e for e in registry.load_errors if e.distribution == "writeback-webhook"] == []


def test_auth_matrix_matches_the_support_matrix(registry: PluginRegistry) -> None:
    spec = registry.connector_type("webhook")
    assert spec.rule_for("default", "json") is not None
    assert registry.effective_methods(spec, "default", "json") == (
        "none",
        "basic",
        "entra",
        "oauth2",
    )


def test_descriptor_conforms(registry: PluginRegistry) -> None:
    assert conformance_problems(registry.connector_type("webhook")) == []


def test_declaring_imports_no_http_library() -> None:
    code = (
        "import sys, writeback_webhook.plugin as plugin\n"
        "plugin.writeback_connector_types()\n"
        "print(sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in ('httpx', 'httpcore', 'writeback_json')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"
