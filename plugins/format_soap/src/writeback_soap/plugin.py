"""Declares the ``soap`` API format to writeback.

This module is what the entry point loads for ``writeback plugins`` and row
validation, so it imports nothing heavier than the core: zeep and requests are
imported by the factory, when a pipeline is built to send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from writeback.plugin import ApiFormatSpec, hookimpl

if TYPE_CHECKING:
    from writeback.plugin import ApiFormat, PipelineContext

__all__ = ["writeback_api_formats"]


def _soap_format(context: PipelineContext) -> ApiFormat:
    from ._format import SoapFormat

    return SoapFormat(context)


@hookimpl
def writeback_api_formats() -> list[ApiFormatSpec]:
    return [
        ApiFormatSpec(
            name="soap",
            transport="requests",
            summary="SOAP 1.1 page web services (Business Central, NAV), sent with zeep",
            factory=_soap_format,
        )
    ]
