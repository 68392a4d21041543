"""Declares the ``entra`` auth method to writeback.

Loaded for ``writeback plugins`` and row validation: it imports neither msal nor
a transport library; the mechanism imports them when a connector sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from writeback.plugin import AuthMethodSpec, hookimpl

if TYPE_CHECKING:
    from writeback.plugin import AuthMechanism, PipelineContext

__all__ = ["DEFAULT_AUTHORITY", "EntraSettings", "is_microsoft_host", "writeback_auth_methods"]

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"

#: Domains of Microsoft's own login hosts (public and sovereign clouds).  Only for
#: these may msal ask Microsoft's instance discovery about the authority; anything
#: else (a local or test authority, a proxy) is used as given.
MICROSOFT_AUTHORITY_DOMAINS = (
    "microsoftonline.com",
    "microsoftonline.us",
    "microsoftonline.de",
    "microsoftonline.cn",
    "microsoft.com",
    "windows.net",
    "chinacloudapi.cn",
    "usgovcloudapi.net",
    "sovcloud-identity.fr",
    "sovcloud-identity.de",
    "sovcloud-identity.sg",
)


def is_microsoft_host(host: str) -> bool:
    """True for a Microsoft login host (``login.microsoftonline.com``, ``…microsoftonline.us``)."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in MICROSOFT_AUTHORITY_DOMAINS)


class EntraSettings(BaseModel):
    """The row's ``auth`` for ``entra``: an app registration's client credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str = Field(
        min_length=1,
        description="the directory (tenant) id: a GUID or a domain like contoso.onmicrosoft.com",
    )
    client_id: str = Field(min_length=1, description="the application (client) id")
    client_secret: SecretStr = Field(
        description="a client secret of the app registration; 'env:NAME' reads it from the "
        "environment at send time"
    )
    scope: str = Field(
        min_length=1,
        description="space-delimited scopes, normally one '<resource>/.default'; the bc "
        "connector type supplies https://api.businesscentral.dynamics.com/.default",
    )
    authority: str = Field(
        default=DEFAULT_AUTHORITY,
        description="the login host, without the tenant (a sovereign cloud's, or a local one)",
    )

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, value: str) -> str:
        if any(c in value for c in "/?#") or value != value.strip() or " " in value:
            raise ValueError("must be a tenant id or domain, without '/', '?', '#' or spaces")
        return value

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        scopes = " ".join(value.split())
        if not scopes:
            raise ValueError("must name at least one scope, like https://host/.default")
        return scopes

    @field_validator("authority")
    @classmethod
    def _authority(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("must be an https URL of the login host, like " + DEFAULT_AUTHORITY)
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError(
                "must be the login host alone, like "
                + DEFAULT_AUTHORITY
                + "; the tenant goes in auth.tenant_id"
            )
        return value.rstrip("/")


def _entra(context: PipelineContext) -> AuthMechanism:
    from ._mechanism import EntraMechanism

    return EntraMechanism(context)


@hookimpl
def writeback_auth_methods() -> list[AuthMethodSpec]:
    return [
        AuthMethodSpec(
            name="entra",
            summary="Microsoft Entra ID client credentials (msal)",
            # No transports: the token is a header, which every format sends.
            settings_model=EntraSettings,
            factory=_entra,
            sends_credentials=True,
        )
    ]
