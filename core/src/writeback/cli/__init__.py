"""The ``writeback`` command line (contract §5)."""

from __future__ import annotations

from . import _commands  # registers the commands with ``app``
from ._app import app, main

__all__ = ["_commands", "app", "main"]
