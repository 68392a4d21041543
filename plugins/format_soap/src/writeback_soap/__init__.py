"""writeback's ``soap`` API format: Business Central / NAV page web services with zeep.

The plugin module (:mod:`writeback_soap.plugin`) only declares the format, so
listing plugins does not import zeep or requests; :class:`SoapFormat` is loaded
on first use, when a connector actually sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._format import SoapFormat

__all__ = ["SoapFormat"]


def __getattr__(name: str) -> Any:
    if name == "SoapFormat":
        from ._format import SoapFormat

        return SoapFormat
    raise AttributeError(f"module 'writeback_soap' has no attribute {name!r}")
