"""A plugin that fails to load is met with what to fix in it, never "reinstall it"."""

from __future__ import annotations

import importlib.metadata
import sys
from types import ModuleType

import pytest
from writeback._errors import PluginLoadError
from writeback._load_advice import load_advice, with_advice
from writeback.plugin import PluginRegistry, hookimpl


def _entry_point(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group="writeback")


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        (
            "import failed: ModuleNotFoundError(\"No module named 'zeep'\")",
            "writeback-shop needs 'zeep', which is not installed: install it, and list it in "
            "writeback-shop's pyproject.toml dependencies if it is not there",
        ),
        (
            "import failed: ModuleNotFoundError(\"No module named 'writeback_shop.plugins'\")",
            "writeback-shop imports its own module 'writeback_shop.plugins', which does not "
            "exist: fix the module path in its entry point or in the import that names it",
        ),
        (
            "import failed: SyntaxError('invalid syntax')",
            "importing writeback-shop's plugin module raised: fix that module",
        ),
        (
            "declaration failed: KeyError('x')",
            "a hook of writeback-shop raised: make its writeback_* hooks return descriptors",
        ),
    ],
)
def test_the_advice_names_the_fix(error: str, advice: str) -> None:
    assert load_advice("writeback-shop", error).startswith(advice)


def test_a_row_selecting_a_broken_plugin_is_told_what_to_fix() -> None:
    eps = [_entry_point("shop", "writeback_no_such_module_xyz")]
    registry = PluginRegistry.load(entry_points=eps, disabled=[])
    with pytest.raises(PluginLoadError) as info:
        registry.connector_type("shop")
    message = str(info.value)
    assert "reinstall" not in message
    assert "needs 'writeback_no_such_module_xyz', which is not installed" in message


def test_a_raising_hook_is_told_to_stop_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    module = ModuleType("writeback_raising_hook")

    @hookimpl
    def writeback_connector_types():  # type: ignore[no-untyped-def]
        raise RuntimeError("reads a file at import")

    module.writeback_connector_types = writeback_connector_types  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    registry = PluginRegistry.load(entry_points=[], disabled=[])
    registry.register(module, name="raiser", distribution="writeback-raiser")
    with pytest.raises(PluginLoadError) as info:
        registry.connector_type("raiser")
    assert "a hook of writeback-raiser raised: make its writeback_* hooks return" in str(info.value)
    assert "reinstall" not in str(info.value)


def test_plugins_check_lines_end_with_the_fix() -> None:
    missing = "import failed: ModuleNotFoundError(\"No module named 'zeep'\")"
    assert with_advice("writeback-shop", missing) == (
        f"{missing}; writeback-shop needs 'zeep', which is not installed: install it, and "
        "list it in writeback-shop's pyproject.toml dependencies if it is not there."
    )
    conformance = "writeback-shop was not loaded: …; fix the declaration in writeback-shop."
    assert with_advice("writeback-shop", conformance) == conformance
