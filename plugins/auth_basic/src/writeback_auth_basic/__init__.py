"""writeback's ``basic`` auth method: HTTP Basic authentication (RFC 7617)."""

from __future__ import annotations

from ._mechanism import BasicAuthMechanism
from .plugin import BasicSettings

__all__ = ["BasicAuthMechanism", "BasicSettings"]
