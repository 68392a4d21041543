"""Declares the ``json`` API format (alias ``rest``) to writeback.

This module is what the entry point loads for ``writeback plugins`` and row
validation, so it imports nothing heavier than the core: httpx is imported by
the factory, when a pipeline is built to send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from writeback.plugin import ApiFormatSpec, hookimpl

if TYPE_CHECKING:
    from writeback.plugin import ApiFormat, PipelineContext

__all__ = ["writeback_api_formats"]


def _json_format(context: PipelineContext) -> ApiFormat:
    from ._format import JsonFormat

    return JsonFormat(context)


@hookimpl
def writeback_api_formats() -> list[ApiFormatSpec]:
    return [
        ApiFormatSpec(
            name="json",
            aliases=("rest",),
            transport="httpx",
            summary="JSON over HTTP(S), sent with httpx",
            factory=_json_format,
        )
    ]
