from __future__ import annotations

import importlib.metadata
import inspect
import sys
from types import ModuleType

import pytest
from writeback import hookimpl, hookspecs
from writeback._errors import DuplicatePluginError, PluginLoadError, PluginMissingError
from writeback.plugin import PluginRegistry

from .conftest import FakePlugin, fake_registry


def test_builtin_none_auth_is_always_there():
    registry = PluginRegistry.load(entry_points=[], disabled=[])
    spec = registry.auth_method("none")
    assert spec.distribution == "writeback"
    assert spec.transports == ()  # no credentials ride every transport


def test_registered_plugin_is_stamped_with_its_distribution():
    registry = fake_registry()
    assert registry.connector_type("fake").distribution == "fake-dist"
    assert registry.api_format("w").name == "wire"  # alias
    assert registry.canonical_format("w") == "wire"


def test_duplicate_names_are_refused_naming_both():
    registry = fake_registry()
    registry.register(FakePlugin(), name="fake-again", distribution="other-dist", version="2")
    with pytest.raises(DuplicatePluginError) as info:
        registry.connector_type("fake")
    assert "fake-dist" in info.value.message and "other-dist" in info.value.message
    assert any("provided by both" in e.error for e in registry.load_errors)


def _entry_point(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group="writeback")


def test_broken_entry_point_is_reported_not_fatal():
    eps = [_entry_point("bc", "writeback_no_such_module_xyz")]
    registry = PluginRegistry.load(entry_points=eps, disabled=[])
    assert [e.name for e in registry.load_errors] == ["bc"]
    assert "import failed" in registry.load_errors[0].error
    assert registry.auth_method("none").name == "none"  # the rest still works
    with pytest.raises(PluginLoadError, match="failed to load"):
        registry.connector_type("bc")


def test_plugin_with_a_misspelled_hook_is_reported():
    module = ModuleType("typo_plugin")

    @hookimpl
    def writeback_connector_typez():  # misspelled on purpose
        return []

    module.writeback_connector_typez = writeback_connector_typez  # type: ignore[attr-defined]
    registry = PluginRegistry.load(entry_points=[], disabled=[])
    registry.register(module, name="typo", distribution="typo-dist")
    assert [e.distribution for e in registry.load_errors] == ["typo-dist"]
    assert "not a valid plugin" in registry.load_errors[0].error


def test_disabled_plugins_are_not_loaded(monkeypatch):
    monkeypatch.setenv("WRITEBACK_DISABLE_PLUGINS", "webhook, json")
    sys.modules.pop("writeback_no_such_module_xyz", None)
    eps = [_entry_point("webhook", "writeback_no_such_module_xyz")]
    registry = PluginRegistry.load(entry_points=eps)
    assert registry.load_errors == []  # never imported
    with pytest.raises(PluginMissingError, match="disabled by WRITEBACK_DISABLE_PLUGINS"):
        registry.connector_type("webhook")


def test_missing_plugin_is_named_by_the_type_that_accepts_it():
    registry = PluginRegistry.load(entry_points=[], disabled=[])
    with pytest.raises(PluginMissingError, match="not a known API format"):
        registry.api_format("soap")
    with pytest.raises(PluginMissingError, match="not a known connector type"):
        registry.connector_type("salesforce")


def test_every_hookspec_is_documented():
    specs = [f for name, f in vars(hookspecs).items() if name.startswith("writeback_")]
    assert len(specs) == 5
    for spec in specs:
        doc = inspect.getdoc(spec) or ""
        # The observer returns nothing; it documents its argument instead.
        assert ":returns:" in doc or ":param record:" in doc, spec.__name__


def test_summary_lists_effective_matrix():
    summary = fake_registry().summary()
    fake = summary["connector_types"][0]
    # "key" is httpx-only, so the requests-based "pipe" format loses it.
    assert fake["auth"]["on-premises"] == {"wire": ["none", "key"], "pipe": ["none"]}
    assert {"name", "distribution", "version"} <= set(summary["auth_methods"][0])


def test_broken_third_party_plugin_is_named_when_selected():
    eps = [_entry_point("teams", "writeback_no_such_teams_module")]
    registry = PluginRegistry.load(entry_points=eps, disabled=[])
    with pytest.raises(PluginLoadError, match="teams"):
        registry.connector_type("teams")
