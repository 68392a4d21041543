"""An isolated plugin registry: only the plugins a test names, whatever else is installed.

``PluginRegistry.load()`` loads every installed plugin, so a plugin's tests that
use it depend on the rest of the environment: another distribution that fails
to load, imports httpx when declaring, or claims the same name makes them fail
for reasons that are not theirs (issue 21).  :func:`writeback_registry` loads
the built-ins and the named entry points only; the pytest fixture of the same
name hands this function to a test::

    def test_it_loads(writeback_registry):
        registry = writeback_registry(only=["teams", "json"])
        assert registry.connector_type("teams").distribution == "writeback-teams"
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Iterable, Mapping
from types import ModuleType

from writeback.plugin import PluginRegistry

__all__ = ["load_object", "writeback_registry"]

GROUP = "writeback"


def writeback_registry(
    only: Iterable[str] = (),
    *,
    plugins: Mapping[str, ModuleType | object | str] | None = None,
) -> PluginRegistry:
    """A :class:`~writeback.plugin.PluginRegistry` of the built-ins and the named plugins only.

    :param only: installed plugins to load, each an entry-point name in group
        ``writeback`` (``"bc"``) or a distribution name (``"writeback-bc"``, all its
        entry points).  ``WRITEBACK_DISABLE_PLUGINS`` is ignored: a test says
        exactly what it loads.
    :param plugins: plugins that are not installed (one under development, a
        test-local one): registration name -> a module, an object whose methods
        carry ``@hookimpl``, or a dotted module path to import (``"pkg.mod"``, or
        ``"pkg.mod:attribute"`` for an object in it).  Registered after
        the installed ones, with the registration name as their distribution.
    :raises LookupError: when a name in ``only`` is neither an installed entry
        point nor an installed distribution; the message lists what is installed.
    """
    wanted = list(dict.fromkeys(only))
    points = list(importlib.metadata.entry_points(group=GROUP))
    chosen = []
    for name in wanted:
        found = [
            p for p in points if p.name == name or (p.dist is not None and p.dist.name == name)
        ]
        if not found:
            installed = ", ".join(sorted({p.name for p in points})) or "none"
            raise LookupError(
                f"writeback_registry(only=...): no installed plugin is named {name!r} (an "
                f"entry point in group 'writeback' or a distribution); installed: {installed}. "
                f"Install it (pip install -e path/to/it) or pass it in plugins={{...}}."
            )
        chosen += [p for p in found if p not in chosen]
    registry = PluginRegistry.load(entry_points=chosen, disabled=())
    for name, plugin in (plugins or {}).items():
        if isinstance(plugin, str):
            plugin = load_object(plugin)
        registry.register(plugin, name=name, distribution=name)
    return registry


def load_object(path: str) -> ModuleType | object:
    """The module ``"pkg.mod"``, or the object ``"pkg.mod:attribute"`` names."""
    module_name, _, attribute = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module
