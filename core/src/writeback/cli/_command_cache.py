"""The names and summaries of plugin commands, remembered between runs.

``writeback --help`` lists the commands plugins add.  Learning them means
loading every plugin (and importlib.metadata, pydantic and each plugin's
models): about twice the CPU of the rest of ``--help``.  So the listing is kept
in a small JSON file and used while nothing it came from has changed: the
interpreter, ``sys.path`` and each of its directories (installing, upgrading or
removing a distribution changes its ``site-packages``), the plugins' own source
files (an editable install), ``WRITEBACK_DISABLE_PLUGINS`` and the core's
version.  Only the listing comes from here: running a plugin command always
loads the plugins afresh.

The file lives in ``$WRITEBACK_CACHE_DIR``, else ``$XDG_CACHE_HOME/writeback``,
else ``~/.cache/writeback``; ``WRITEBACK_CACHE_DIR=`` (empty) keeps none.  A
cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._commands import CommandSpec

__all__ = ["CACHE_ENV", "read", "write"]

CACHE_ENV = "WRITEBACK_CACHE_DIR"
_FORMAT = 1


def _cache_file() -> Path | None:
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None:
        base = Path(chosen) if chosen else None
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) / "writeback" if xdg else Path.home() / ".cache" / "writeback"
    if base is None:
        return None
    # One file per interpreter and path: several virtual environments share a home.
    where = hashlib.sha256(
        json.dumps([sys.executable, sys.path]).encode("utf-8", "surrogateescape")
    ).hexdigest()[:16]
    return base / f"commands-{where}.json"


def _stamp(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _environment() -> dict[str, Any]:
    from .. import __version__

    return {
        "format": _FORMAT,
        "version": __version__,
        # The registry's DISABLE_ENV, named here so that reading needs no registry.
        "disabled": os.environ.get("WRITEBACK_DISABLE_PLUGINS", ""),
        # Distributions are installed into site-packages (or dist-packages):
        # its mtime changes with each install, upgrade or removal.
        "path": [
            [entry, _stamp(entry) if entry.endswith(("site-packages", "dist-packages")) else None]
            for entry in sys.path
        ],
    }


def read() -> dict[str, str] | None:
    """The plugin commands (name -> summary) remembered, or ``None`` when there is
    no cache or anything it depends on has changed."""
    try:
        file = _cache_file()
        if file is None:
            return None
        saved = json.loads(file.read_text(encoding="utf-8"))
        if saved.get("environment") != _environment():
            return None
        if any(_stamp(path) != stamp for path, stamp in saved["sources"]):
            return None
        commands = saved["commands"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(commands, dict):
        return None
    return {str(name): str(summary) for name, summary in commands.items()}


def _plugin_sources() -> list[list[Any]]:
    """Every plugin's package directory and the Python files directly in it, stamped."""
    import importlib.metadata

    from .._registry import ENTRY_POINT_GROUP

    sources: list[list[Any]] = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        module = sys.modules.get(ep.value.split(":")[0].split(".")[0])
        origin = getattr(module, "__file__", None)
        if not origin:
            continue
        folder = os.path.dirname(origin)
        sources.append([folder, _stamp(folder)])
        with os.scandir(folder) as entries:
            sources += [[e.path, _stamp(e.path)] for e in entries if e.name.endswith(".py")]
    return sources


def write(specs: dict[str, CommandSpec]) -> None:
    """Remember ``specs``' names and summaries (after a full load of the plugins)."""
    try:
        file = _cache_file()
        if file is None:
            return
        saved = {
            "environment": _environment(),
            "sources": _plugin_sources(),
            "commands": {name: spec.summary for name, spec in specs.items()},
        }
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(saved), encoding="utf-8")
        os.replace(partial, file)
    except (OSError, ValueError):
        return
