"""Imports the command modules so that they register with the app."""

from __future__ import annotations

from . import _connectors_cmd, _db_cmd, _deliveries_cmd, _keys_cmd, _run_cmd

__all__ = ["_connectors_cmd", "_db_cmd", "_deliveries_cmd", "_keys_cmd", "_run_cmd"]
