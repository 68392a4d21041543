"""writeback's ``oauth2`` auth method: OAuth2 client credentials with authlib."""

from __future__ import annotations

from .plugin import OAuth2Settings

__all__ = ["OAuth2Mechanism", "OAuth2Settings", "encode_client_secret_basic"]


def __getattr__(name: str) -> object:
    # The mechanism imports authlib; keep ``import writeback_auth_oauth2`` light.
    if name in ("OAuth2Mechanism", "encode_client_secret_basic"):
        from . import _client, _mechanism

        return getattr(_mechanism if name == "OAuth2Mechanism" else _client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
