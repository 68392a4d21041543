"""writeback's ``entra`` auth method: Microsoft Entra ID client credentials with msal."""

from __future__ import annotations

from .plugin import DEFAULT_AUTHORITY, EntraSettings, is_microsoft_host

__all__ = ["DEFAULT_AUTHORITY", "EntraMechanism", "EntraSettings", "is_microsoft_host"]


def __getattr__(name: str) -> object:
    # The mechanism imports msal; keep ``import writeback_auth_entra`` light.
    if name == "EntraMechanism":
        from ._mechanism import EntraMechanism

        return EntraMechanism
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
