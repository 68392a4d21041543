"""Declares the ``oauth2`` auth method to writeback.

Loaded for ``writeback plugins`` and row validation: it imports neither authlib
nor a transport library; the mechanism imports them when a connector sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from writeback.plugin import AuthMethodSpec, hookimpl

if TYPE_CHECKING:
    from writeback.plugin import AuthMechanism, PipelineContext

__all__ = ["OAuth2Settings", "writeback_auth_methods"]


class OAuth2Settings(BaseModel):
    """The row's ``auth`` for ``oauth2``: the client credentials grant (RFC 6749 §4.4)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_url: str = Field(
        description="the authorization server's token endpoint (https://…/token)"
    )
    client_id: str = Field(min_length=1, description="the client id registered for writeback")
    client_secret: SecretStr = Field(
        description="the client secret; 'env:NAME' reads it from the environment at send time"
    )
    scope: str | None = Field(
        default=None,
        description="space-delimited scopes to ask for; left out of the request when unset",
    )
    client_auth: Literal["client_secret_basic", "client_secret_post"] = Field(
        default="client_secret_basic",
        description="how the client authenticates to the token endpoint: "
        "'client_secret_basic' (HTTP Basic, RFC 6749 §2.3.1) or 'client_secret_post' "
        "(client_id and client_secret in the form body)",
    )

    @field_validator("token_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "must be an http(s) URL of the token endpoint, like https://host/token"
            )
        return value

    @field_validator("scope")
    @classmethod
    def _scopes(cls, value: str | None) -> str | None:
        # RFC 6749 §3.3: space-delimited; extra whitespace is normalised, none is no scope.
        return " ".join(value.split()) or None if value is not None else None


def _oauth2(context: PipelineContext) -> AuthMechanism:
    from ._mechanism import OAuth2Mechanism

    return OAuth2Mechanism(context)


@hookimpl
def writeback_auth_methods() -> list[AuthMethodSpec]:
    return [
        AuthMethodSpec(
            name="oauth2",
            summary="OAuth2 client credentials (client_secret_basic or client_secret_post)",
            # No transports: the token is a header, which every format sends.
            settings_model=OAuth2Settings,
            factory=_oauth2,
            sends_credentials=True,
        )
    ]
