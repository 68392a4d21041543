"""Declares the ``ntlm`` and ``windows`` auth methods to writeback.

Loaded for ``writeback plugins`` and row validation: it imports neither
requests, requests-ntlm nor pyspnego; the mechanisms import them when a format
asks for a transport's auth object.

Both methods authenticate the TCP connection, not the request, which only the
``requests`` transport lets an auth object drive (a response hook resending on
the same connection); that is why they declare ``requests`` alone and why the
connector types allow them for SOAP only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from writeback.plugin import AuthMethodSpec, hookimpl

if TYPE_CHECKING:
    from writeback.plugin import AuthMechanism, PipelineContext

__all__ = [
    "INSTALL_KERBEROS",
    "WindowsSettings",
    "kerberos_warnings",
    "split_user",
    "writeback_auth_methods",
]

#: How Kerberos support is added (the ``kerberos`` extra builds gssapi and krb5).
INSTALL_KERBEROS = (
    "pip install 'writeback-auth-windows[kerberos]' (gssapi and krb5 build against the MIT "
    "Kerberos headers: apt-get install libkrb5-dev on Debian/Ubuntu, krb5-devel on Fedora)"
)

# Characters Windows does not allow in account names (plus '@' and '\', which
# separate the realm and the domain here).
_PART = r"[^\\/@\[\]:;|=,+*?<>\"\x00-\x1f]+"
_USER = re.compile(rf"^(?:(?P<domain>{_PART})\\)?(?P<user>{_PART})(?:@(?P<realm>{_PART}))?$")


def split_user(username: str) -> tuple[str | None, str, str | None]:
    """Domain, user and realm of a Windows user name.

    ``DOMAIN\\user`` -> ``("DOMAIN", "user", None)``; ``user@REALM`` ->
    ``(None, "user", "REALM")``; ``user`` -> ``(None, "user", None)``.

    :raises ValueError: for anything else but a plain user name.
    """
    found = _USER.match(username)
    if (
        found is None
        or (found["domain"] and found["realm"])
        or username != username.strip()
        or any(part != part.strip() for part in found.groups() if part)
    ):
        raise ValueError(
            f"'{username}' is not a Windows user name; give DOMAIN\\user or user@REALM "
            "(or a plain user name for an account local to the server)."
        )
    return found["domain"], found["user"], found["realm"]


class WindowsSettings(BaseModel):
    """The row's ``auth`` for ``ntlm`` and ``windows``: a Windows account and its password."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(
        min_length=1,
        description="the Windows account: DOMAIN\\user (NTLM), user@REALM (Kerberos realm "
        "or user principal name) or a plain user name for an account local to the server",
    )
    password: SecretStr = Field(
        description="the account's password; 'env:NAME' reads it from the environment at "
        "send time. It never crosses the wire: NTLM sends a challenge response, Kerberos a "
        "ticket"
    )

    @field_validator("username")
    @classmethod
    def _windows_user(cls, value: str) -> str:
        split_user(value)
        return value


def kerberos_warnings(settings: BaseModel) -> list[str]:
    """``windows`` with ``user@REALM`` where Kerberos support is not installed: only NTLM
    would be offered, which a server that accepts only Kerberos refuses."""
    username = getattr(settings, "username", "")
    _, _, realm = split_user(username)
    if not realm:
        return []
    from ._kerberos import kerberos_installed

    if kerberos_installed():
        return []
    return [
        f"auth.username '{username}' is a Kerberos name, but Kerberos support is not "
        "installed, so 'windows' will offer NTLM only (a server that accepts only Kerberos "
        f"refuses it); to add Kerberos run {INSTALL_KERBEROS}."
    ]


def _ntlm(context: PipelineContext) -> AuthMechanism:
    from ._mechanism import NtlmMechanism

    return NtlmMechanism(context)


def _windows(context: PipelineContext) -> AuthMechanism:
    from ._mechanism import WindowsMechanism

    return WindowsMechanism(context)


@hookimpl
def writeback_auth_methods() -> list[AuthMethodSpec]:
    # sends_credentials=False: the password never crosses the wire (NTLM answers
    # a challenge with a keyed hash, Kerberos presents a ticket), so a SOAP
    # connector may use these over plain http:// on a trusted network.
    return [
        AuthMethodSpec(
            name="ntlm",
            summary="NTLM challenge-response with a Windows account (requests-ntlm)",
            transports=("requests",),
            settings_model=WindowsSettings,
            factory=_ntlm,
            sends_credentials=False,
        ),
        AuthMethodSpec(
            name="windows",
            summary="Windows Negotiate: Kerberos from user@REALM and password, NTLM fallback",
            transports=("requests",),
            settings_model=WindowsSettings,
            factory=_windows,
            sends_credentials=False,
            warn=kerberos_warnings,
        ),
    ]
