"""Plugins that ship with the core: the ``none`` auth method.

``none`` sends no credentials; connector types decide where it is allowed
(only ``webhook`` among the shipped ones).
"""

from __future__ import annotations

from typing import Any

from ._descriptors import TRANSPORTS, AuthMethodSpec
from ._interfaces import AuthMechanismBase, PipelineContext
from .hookspecs import hookimpl


class NoAuth(AuthMechanismBase):
    """Sends requests as they are."""

    def for_transport(self, transport: str) -> Any:
        return None


def _no_auth(context: PipelineContext) -> NoAuth:
    return NoAuth(context)


@hookimpl
def writeback_auth_methods() -> list[AuthMethodSpec]:
    return [
        AuthMethodSpec(
            name="none",
            summary="no credentials",
            transports=TRANSPORTS,
            factory=_no_auth,
            sends_credentials=False,
        )
    ]
