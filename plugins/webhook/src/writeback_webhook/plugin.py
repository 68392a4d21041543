"""Declares the ``webhook`` connector type to writeback.

Loaded for ``writeback plugins`` and row validation; the options model is all
it needs up front.  A webhook speaks ``json`` only and sends every change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from writeback.plugin import AuthRule, ConnectorTypeSpec, hookimpl

from ._options import WebhookOptions

if TYPE_CHECKING:
    from writeback.plugin import ConnectorType, PipelineContext

__all__ = ["writeback_connector_types"]


def _webhook(context: PipelineContext) -> ConnectorType:
    from ._connector import WebhookConnector

    return WebhookConnector(context)


@hookimpl
def writeback_connector_types() -> list[ConnectorTypeSpec]:
    return [
        ConnectorTypeSpec(
            name="webhook",
            summary="any HTTP endpoint: signed JSON events (Standard Webhooks)",
            formats=("json",),
            auth_rules=(AuthRule(api_format="json", methods=("none", "basic", "entra", "oauth2")),),
            options_model=WebhookOptions,
            # Receivers see every change, in order; nothing is merged away.
            coalesce_default=False,
            provided_by={
                "json": "writeback-json",
                "basic": "writeback-auth-basic",
                "entra": "writeback-auth-entra",
                "oauth2": "writeback-auth-oauth2",
            },
            factory=_webhook,
        )
    ]
