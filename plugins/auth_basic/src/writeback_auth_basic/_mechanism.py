"""The working ``basic`` mechanism: an ``Authorization: Basic …`` header per attempt."""

from __future__ import annotations

import base64

from writeback.plugin import AuthMechanismBase, add_basic_secret

from .plugin import BasicSettings

__all__ = ["BasicAuthMechanism"]


class BasicAuthMechanism(AuthMechanismBase[BasicSettings]):
    """Basic credentials as a header, which every transport can send.

    The password is revealed for every attempt, so that an ``env:`` secret is read
    at send time and remembered for redaction from error texts, together with
    the Basic header it is sent in.
    """

    def headers(self) -> dict[str, str]:
        """``Authorization: Basic base64(user:password)`` (RFC 7617, UTF-8)."""
        username, password = self._credentials()
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {encoded}"}

    def _credentials(self) -> tuple[str, str]:
        settings = self.settings
        password = self.context.reveal(settings.password) or ""
        # A server may quote the header back: base64 of user:password hides the
        # password from a redactor that knows only the password itself.
        add_basic_secret(settings.username, password)
        return settings.username, password

    async def describe(self) -> str | None:
        """``basic auth as WEBUSER``: the user name only, never the password."""
        return f"basic auth as {self.settings.username}"
