"""Server-side authentication for the simulators: one acceptor per scheme.

A simulator reads the request body first (so a connection stays in step when a
challenge is answered), then asks its acceptor who is calling.  The acceptor
either returns the principal, or answers the request itself (401 with the
scheme's challenge) and returns None; the simulator then does nothing more for
that request.  Connection-oriented schemes (NTLM, Negotiate) keep their
progress in ``handler.state``, which lives as long as the TCP connection.

Every acceptor counts what it saw, so tests can assert handshakes per
connection or token uses.

An acceptor that must add a header to the simulator's answer to an
authenticated request (Kerberos returns its mutual-authentication token in the
success response's ``WWW-Authenticate``) appends it to
``handler.next_headers``, which ``LoopbackHandler.respond`` sends with the next
answer, so no simulator needs to know.  For other handlers it may offer
``response_headers(handler) -> list[tuple[str, str]]``, read through
:func:`auth_response_headers` (``[]`` for acceptors without it).
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ._server import LoopbackHandler

__all__ = ["Acceptor", "BasicAcceptor", "BearerAcceptor", "auth_response_headers", "challenge"]


class Acceptor(Protocol):
    """What a simulator's ``auth=`` takes."""

    #: The scheme named in ``WWW-Authenticate`` (``Basic``, ``Bearer``, ``NTLM``, ``Negotiate``).
    scheme: str

    def authenticate(self, handler: LoopbackHandler) -> str | None:
        """The authenticated principal, or None after answering the request with 401."""
        ...


def auth_response_headers(
    acceptor: Acceptor | None, handler: LoopbackHandler
) -> list[tuple[str, str]]:
    """Headers ``acceptor`` wants on the answer to ``handler``'s authenticated request.

    The optional ``response_headers(handler)`` method of an acceptor; ``[]`` when
    there is no acceptor or it has no such method.
    """
    extra = getattr(acceptor, "response_headers", None)
    return list(extra(handler)) if callable(extra) else []


def challenge(handler: LoopbackHandler, *values: str, body: bytes = b"") -> None:
    """Answer 401 with one ``WWW-Authenticate`` header per value."""
    headers = [("WWW-Authenticate", value) for value in values]
    headers.append(("Content-Type", "text/plain"))
    handler.respond(401, body or b"unauthorized", headers)


def _credentials(handler: LoopbackHandler, scheme: str) -> str | None:
    value = handler.headers.get("Authorization", "")
    name, _, rest = value.partition(" ")
    if name.lower() != scheme.lower() or not rest.strip():
        return None
    return rest.strip()


class _Counting:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted = 0
        self.refused = 0

    def _count(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self.accepted += 1
            else:
                self.refused += 1


class BasicAcceptor(_Counting):
    """HTTP Basic (RFC 7617) against a fixed table of users and passwords."""

    scheme = "Basic"

    def __init__(self, users: Mapping[str, str], realm: str = "writeback-testing") -> None:
        super().__init__()
        self.users = dict(users)
        self.realm = realm

    def authenticate(self, handler: LoopbackHandler) -> str | None:
        token = _credentials(handler, "Basic")
        user = None
        if token is not None:
            try:
                name, _, password = base64.b64decode(token, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                name, password = "", None
            if name in self.users and self.users[name] == password:
                user = name
        self._count(user is not None)
        if user is None:
            challenge(handler, f'Basic realm="{self.realm}"')
        return user


class BearerAcceptor(_Counting):
    """``Authorization: Bearer`` checked by a callable (a token server's ``principal``).

    ``validate`` returns the principal a token stands for, or None when the
    token is unknown, expired or revoked.
    """

    scheme = "Bearer"

    def __init__(self, validate: Callable[[str], str | None]) -> None:
        super().__init__()
        self.validate = validate

    def authenticate(self, handler: LoopbackHandler) -> str | None:
        token = _credentials(handler, "Bearer")
        principal = self.validate(token) if token else None
        self._count(principal is not None)
        if principal is None:
            error = ', error="invalid_token"' if token else ""
            challenge(handler, f'Bearer realm="writeback-testing"{error}')
        return principal
