"""The working ``ntlm`` and ``windows`` mechanisms: one auth object per requests Session.

A format asks ``for_transport("requests")`` once per Session (the SOAP format
keeps one Session per worker thread per connector, because these schemes
authenticate connections and a Session's pool must not be shared between
threads mid-handshake).  What outlives a Session lives on the mechanism: the
handshake counter and, for ``windows``, the Kerberos ticket.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from writeback.plugin import AttemptAuth, AuthMechanismBase, TransportAuth, add_secret

from ._handshake import HandshakeCounter
from .plugin import INSTALL_KERBEROS, WindowsSettings, split_user

__all__ = ["NtlmMechanism", "WindowsMechanism"]


class _WindowsMechanismBase(AuthMechanismBase[WindowsSettings]):
    method = ""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        #: Handshakes made by every auth object this mechanism handed out.
        self.handshakes = HandshakeCounter()

    def _password(self) -> str:
        # Revealed per auth object: an env: secret is read now and redacted from texts.
        return self.context.reveal(self.settings.password) or ""

    async def attempt_auth(self) -> AttemptAuth:
        """Connection-bound: the format builds the transport's object per Session."""
        return TransportAuth(self.for_transport)

    def for_transport(self, transport: str) -> Any:
        """A ``requests.auth.AuthBase`` for a new Session.

        :raises ValueError: for any transport but ``requests``.
        """
        if transport != "requests":
            raise ValueError(
                f"the {self.method} auth method cannot authenticate transport {transport!r}; "
                "it authenticates connections, which only the requests transport supports."
            )
        return self._requests_auth()

    def _requests_auth(self) -> Any:
        raise NotImplementedError


class NtlmMechanism(_WindowsMechanismBase):
    """``ntlm``: answers ``WWW-Authenticate: NTLM`` with requests-ntlm."""

    method = "ntlm"

    def _requests_auth(self) -> Any:
        from ._ntlm import CountingNtlmAuth

        return CountingNtlmAuth(self.settings.username, self._password(), counter=self.handshakes)

    async def describe(self) -> str | None:
        return f"NTLM as {self.settings.username}"


class WindowsMechanism(_WindowsMechanismBase):
    """``windows``: Negotiate with Kerberos for ``user@REALM``, NTLM inside Negotiate otherwise.

    Kerberos is tried when the user name carries a realm and the ``kerberos``
    extra is installed; the ticket is fetched once and shared by every Session.
    Without a realm (``DOMAIN\\user``), without the extra, or when the realm
    has no KDC configured, only NTLM is offered inside Negotiate.  For
    ``user@REALM`` without the extra that is rarely what was meant, so it is
    logged, and a 401 says Kerberos is missing (WB-346) rather than blaming the
    password.
    """

    method = "windows"

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        from ._kerberos import KerberosLogin, kerberos_installed, log

        _, _, realm = split_user(self.settings.username)
        self.kerberos: KerberosLogin | None = None
        #: ``user@REALM`` without Kerberos support here: NTLM only, and a 401 says why.
        self.kerberos_missing = bool(realm) and not kerberos_installed()
        if realm and not self.kerberos_missing:
            self.kerberos = KerberosLogin(self.settings.username)
        elif self.kerberos_missing:
            log.warning(
                "windows auth for %s: Kerberos support is not installed, offering NTLM only; "
                "to add it run %s",
                self.settings.username,
                INSTALL_KERBEROS,
            )

    def _requests_auth(self) -> Any:
        from ._negotiate import HttpNegotiateAuth

        password = self._password()
        username = self.settings.username

        def credentials() -> list[Any]:
            return self._credentials(username, password)

        refused = None
        if self.kerberos_missing:
            from ._handshake import kerberos_missing

            refused = partial(kerberos_missing, username, INSTALL_KERBEROS)
        return HttpNegotiateAuth(username, credentials, counter=self.handshakes, refused=refused)

    def _credentials(self, username: str, password: str) -> list[Any]:
        import spnego

        found: list[Any] = []
        if self.kerberos is not None:
            ccache = self.kerberos.ccache(password)  # AttemptError: refused or KDC down
            if ccache is not None:
                found.append(spnego.KerberosCCache(ccache=ccache))
        # An NT hash rather than the password: with a Password credential pyspnego
        # would also ask the KDC for a ticket itself (for DOMAIN\user too, under the
        # default realm), so a hash is how NTLM is offered without a second login.
        found.append(spnego.NTLMHash(username=username, nt_hash=_nt_hash(password)))
        return found

    async def describe(self) -> str | None:
        how = "Kerberos, NTLM fallback" if self.kerberos is not None else "NTLM"
        if self.kerberos_missing:
            how = "NTLM; Kerberos support is not installed"
        return f"Windows Negotiate ({how}) as {self.settings.username}"


def _nt_hash(password: str) -> str:
    # MD4 of the UTF-16LE password; OpenSSL 3 has no MD4 by default, pyspnego carries one.
    from spnego._ntlm_raw.crypto import ntowfv1

    value = ntowfv1(password).hex()
    add_secret(value)  # a password equivalent for NTLM: never in a text either
    return value
