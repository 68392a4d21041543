"""Plugins that ship with the core: the ``none`` auth method.

``none`` sends no credentials; connector types decide where it is allowed
(only ``webhook`` among the shipped ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._attempt_auth import NO_AUTH, AttemptAuth
from ._descriptors import AuthMethodSpec
from ._interfaces import AuthMechanismBase, PipelineContext
from .hookspecs import hookimpl


class NoAuth(AuthMechanismBase):
    """Sends requests as they are."""

    def headers(self) -> Mapping[str, str]:
        return {}

    async def attempt_auth(self) -> AttemptAuth:
        return NO_AUTH

    def for_transport(self, transport: str) -> Any:
        """Deprecated (for formats written before ``send(message, auth)``): nothing."""
        return None


def _no_auth(context: PipelineContext) -> NoAuth:
    return NoAuth(context)


@hookimpl
def writeback_auth_methods() -> list[AuthMethodSpec]:
    return [
        AuthMethodSpec(
            name="none",
            summary="no credentials",
            factory=_no_auth,
            sends_credentials=False,
        )
    ]
