"""Declares the ``nav`` connector type to writeback.

Dynamics NAV runs the same vendor extension as Business Central, reached over
its SOAP page only, on premises only: the staging row, its options and the
throttle come from ``writeback-bc``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from writeback.plugin import AuthRule, ConnectorTypeSpec, hookimpl
from writeback_bc import StagingOptions
from writeback_bc.plugin import STAGING_THROTTLE, check_staging_row

if TYPE_CHECKING:
    from writeback.plugin import ConnectorType, PipelineContext

__all__ = ["NAV_AUTH_RULES", "writeback_connector_types"]

#: docs/connectors.md, "The nav type": NAV speaks SOAP; NavUserPassword is Basic, the
#: Windows credential type answers Negotiate (``windows``) or NTLM (``ntlm``).
NAV_AUTH_RULES = (AuthRule(api_format="soap", methods=("basic", "windows", "ntlm")),)


def _nav(context: PipelineContext) -> ConnectorType:
    from writeback_bc import StagingConnector

    return StagingConnector(context, product="NAV")


@hookimpl
def writeback_connector_types() -> list[ConnectorTypeSpec]:
    return [
        ConnectorTypeSpec(
            name="nav",
            summary="Dynamics NAV: one staging row per change, over the SOAP page",
            formats=("soap",),
            auth_rules=NAV_AUTH_RULES,
            options_model=StagingOptions,
            coalesce_default=True,
            throttle_default=STAGING_THROTTLE,
            check=check_staging_row,
            provided_by={
                "soap": "writeback-soap",
                "basic": "writeback-auth-basic",
                "windows": "writeback-auth-windows",
                "ntlm": "writeback-auth-windows",
            },
            factory=_nav,
        )
    ]
