"""The working ``oauth2`` mechanism: a token source fed by authlib; the token travels
as an ``Authorization: Bearer`` header, which every format sends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from writeback.plugin import Token, TokenAuthMechanismBase

from ._client import fetch_with_httpx, fetch_with_requests
from .plugin import OAuth2Settings

__all__ = ["OAuth2Mechanism"]


class OAuth2Mechanism(TokenAuthMechanismBase[OAuth2Settings]):
    """Client credentials from ``token_url``; the token request uses requests for a
    ``requests`` connector (soap), else httpx.

    The secret is revealed for every token request, so that an ``env:`` secret is
    read then and removed from every error text.
    """

    def token_identity(self) -> Mapping[str, Any]:
        s = self.settings
        return {
            "token_url": s.token_url,
            "client_id": s.client_id,
            "scope": s.scope,
            "client_auth": s.client_auth,
        }

    def token_endpoint(self) -> str:
        return self.settings.token_url

    def fetch_token(self) -> Token:
        s = self.settings
        fetch = fetch_with_requests if self.context.transport == "requests" else fetch_with_httpx
        return fetch(
            token_url=s.token_url,
            client_id=s.client_id,
            client_secret=self.context.reveal(s.client_secret) or "",
            scope=s.scope,
            client_auth=s.client_auth,
            timeout=self.request_timeout,
        )
