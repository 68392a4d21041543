"""The ``writeback`` command line; every command is described in docs/cli.md."""

from __future__ import annotations

from . import _commands  # registers the commands with ``app``
from ._app import app, main

__all__ = ["_commands", "app", "main"]
