"""The working ``basic`` mechanism: one auth object per transport, built on request."""

from __future__ import annotations

from typing import Any

from writeback.plugin import AuthMechanismBase, add_basic_secret

from .plugin import BasicSettings

__all__ = ["BasicAuthMechanism"]


class BasicAuthMechanism(AuthMechanismBase[BasicSettings]):
    """Gives each transport its own Basic auth object.

    The password is revealed on every call, so that an ``env:`` secret is read
    at send time and remembered for redaction from error texts, together with
    the Basic header it is sent in.
    """

    def for_transport(self, transport: str) -> Any:
        """``httpx.BasicAuth`` or ``requests.auth.HTTPBasicAuth`` for ``transport``.

        :raises ValueError: for a transport this method does not support.
        """
        if transport == "httpx":
            import httpx

            return httpx.BasicAuth(*self._credentials())
        if transport == "requests":
            from requests.auth import HTTPBasicAuth

            return HTTPBasicAuth(*self._credentials())
        raise ValueError(f"the basic auth method cannot authenticate transport {transport!r}.")

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
