"""writeback-testing's plugin: the commands it adds to ``writeback``.

Only descriptors here: the simulators and their command modules load when a
command is run, so listing commands (``writeback --help``) costs them nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from writeback.plugin import CommandSpec, hookimpl


def _demo() -> Any:
    from ._demo_cmd import app

    return app


def _receive() -> Any:
    from ._receive_cmd import app

    return app


def _plugin() -> Any:
    from ._plugin_new_cmd import app

    return app


@hookimpl
def writeback_commands() -> Sequence[CommandSpec]:
    return [
        CommandSpec(
            name="receive",
            summary="A local webhook receiver that prints each request and checks Basic "
            "auth and signatures.",
            factory=_receive,
        ),
        CommandSpec(
            name="plugin",
            summary="Start a new plugin distribution: writeback plugin new NAME --kind KIND.",
            factory=_plugin,
        ),
        CommandSpec(
            name="demo",
            summary="The whole flow against local simulators, on a throwaway database "
            "unless --db is given.",
            factory=_demo,
        ),
    ]
