"""writeback's ``json`` API format: JSON over HTTP with httpx.

The plugin module (:mod:`writeback_json.plugin`) only declares the format, so
listing plugins does not import httpx; :class:`JsonFormat` is loaded on first
use, when a connector actually sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._format import JsonFormat

__all__ = ["JsonFormat"]


def __getattr__(name: str) -> Any:
    if name == "JsonFormat":
        from ._format import JsonFormat

        return JsonFormat
    raise AttributeError(f"module 'writeback_json' has no attribute {name!r}")
