"""writeback_registry(only=...): a plugin's tests see only the plugins they name; and the
shipped plugins' same-named test modules collect together in one run."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from writeback.plugin import PluginRegistry, hookimpl
from writeback_testing.contract._standin import contract_type
from writeback_testing.registry import writeback_registry

ROOT = Path(__file__).resolve().parents[2]


def test_only_the_named_entry_points_are_loaded() -> None:
    registry = writeback_registry(only=["basic"])
    assert "basic" in registry.auth_methods
    assert registry.auth_methods["basic"].distribution == "writeback-auth-basic"
    assert "json" not in registry.api_formats and "bc" not in registry.connector_types
    assert registry.load_errors == []


def test_a_distribution_name_loads_all_its_entry_points() -> None:
    registry = writeback_registry(only=["writeback-auth-windows"])
    assert {"ntlm", "windows"} <= set(registry.auth_methods)


def test_disabling_by_environment_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRITEBACK_DISABLE_PLUGINS", "basic")
    assert "basic" in writeback_registry(only=["basic"]).auth_methods


def test_an_unknown_name_is_refused_listing_what_is_installed() -> None:
    with pytest.raises(LookupError) as caught:
        writeback_registry(only=["teams"])
    message = str(caught.value)
    assert "no installed plugin is named 'teams'" in message
    assert "installed: " in message and "basic" in message and "plugins={...}" in message


class _Local:
    @hookimpl
    def writeback_connector_types(self) -> list[object]:
        return [contract_type(["json"], ["none"])]


def test_plugins_not_installed_are_registered_by_object_or_path() -> None:
    registry = writeback_registry(only=["json"], plugins={"local": _Local()})
    assert registry.connector_type("contract").distribution == "local"
    by_path = writeback_registry(plugins={"basic-again": "writeback_auth_basic.plugin"})
    assert by_path.auth_method("basic").distribution == "basic-again"


def test_the_fixture_hands_out_the_function(
    writeback_registry: Callable[..., PluginRegistry],
) -> None:
    registry = writeback_registry(only=["json"])
    assert list(registry.api_formats) == ["json"]


def test_shipped_plugins_test_modules_collect_together() -> None:
    """Nine tests/test_plugin.py and tests/test_contract.py in one run: the root config's
    --import-mode=importlib keeps same-named modules apart (no 'import file mismatch')."""
    modules = sorted(
        str(p.relative_to(ROOT))
        for name in ("test_plugin.py", "test_contract.py")
        for p in (ROOT / "plugins").glob(f"*/tests/{name}")
    )
    assert len(modules) == 18
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "mismatch" not in done.stdout
