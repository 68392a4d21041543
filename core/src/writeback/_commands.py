"""Commands a plugin adds to the ``writeback`` command line, as data.

A plugin's ``writeback_commands()`` returns :class:`CommandSpec` descriptors.
Listing commands (``writeback --help``) reads only their names and summaries;
the command itself is built by its ``factory`` when it is run, so a command's
module, and what it imports, load only then.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CORE_COMMANDS", "CommandSpec", "command_problems"]

#: The core's own top-level commands; a plugin cannot claim these names.
CORE_COMMANDS = frozenset(
    {"connectors", "db", "deliveries", "dispatch", "keys", "plugins", "worker"}
)

_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


@dataclass(frozen=True)
class CommandSpec:
    """A command a plugin adds: ``writeback NAME …``."""

    #: The command's name, lowercase words joined by ``-`` (``demo``, ``api-keys``).
    name: str
    #: One line for ``writeback --help``.
    summary: str
    #: Called with no arguments when the command is run; returns a ``typer.Typer``
    #: (one command, or a group of them) or the command object
    #: ``typer.main.get_command()`` makes of one.  Import the command's module
    #: inside it.
    factory: Callable[[], Any]
    #: Distribution and version, filled in by the registry (plugins leave them empty).
    distribution: str = ""
    version: str = ""


def command_problems(spec: object) -> list[str]:
    """Why ``spec`` is not a usable :class:`CommandSpec`; empty when it is."""
    if not isinstance(spec, CommandSpec):
        return [f"writeback_commands returned a {type(spec).__name__}; return CommandSpec"]
    problems = []
    if not isinstance(spec.name, str) or not _NAME.fullmatch(spec.name):
        problems.append(
            f"command name {spec.name!r} is not lowercase words joined by '-' (like 'api-keys')"
        )
    if not isinstance(spec.summary, str) or not spec.summary.strip():
        problems.append(f"command {spec.name!r} has no summary")
    if not callable(spec.factory):
        problems.append(f"command {spec.name!r} has a factory that is not callable")
    return problems
