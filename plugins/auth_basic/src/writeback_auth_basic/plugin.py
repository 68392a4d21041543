"""Declares the ``basic`` auth method to writeback.

Loaded for ``writeback plugins`` and row validation.  Its credentials are a
header, so it names no transport: every format can send it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from writeback.plugin import AuthMethodSpec, hookimpl

if TYPE_CHECKING:
    from writeback.plugin import AuthMechanism, PipelineContext

__all__ = ["BasicSettings", "writeback_auth_methods"]


class BasicSettings(BaseModel):
    """The row's ``auth`` for ``basic``: a user name and a password."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(min_length=1, description="user name sent in the Authorization header")
    password: SecretStr = Field(
        description="the user's password (or web service access key); 'env:NAME' reads it "
        "from the environment at send time"
    )

    @field_validator("username")
    @classmethod
    def _no_colon(cls, value: str) -> str:
        # RFC 7617 §2: the user-id cannot contain a colon, the server would split there.
        if ":" in value:
            raise ValueError("a Basic user name cannot contain ':'; check the user name.")
        return value


def _basic(context: PipelineContext) -> AuthMechanism:
    from ._mechanism import BasicAuthMechanism

    return BasicAuthMechanism(context)


@hookimpl
def writeback_auth_methods() -> list[AuthMethodSpec]:
    return [
        AuthMethodSpec(
            name="basic",
            summary="HTTP Basic: user name and password",
            settings_model=BasicSettings,
            factory=_basic,
            sends_credentials=True,
        )
    ]
