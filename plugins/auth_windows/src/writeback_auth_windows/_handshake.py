"""What NTLM and Negotiate share: handshake counting, challenge parsing, stable error codes.

Both authenticate a TCP connection: a handshake runs once on a connection
after the server's 401, and later requests on that keep-alive connection go
without one.  :class:`HandshakeCounter` makes that observable (tests and
``bench/bench_ntlm.py`` compare it with the connections a server accepted).
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from writeback.plugin import AttemptError, add_secret

if TYPE_CHECKING:
    import requests

__all__ = [
    "HANDSHAKE_BROKEN",
    "KDC_REFUSED_PASSWORD",
    "KDC_REFUSED_USER",
    "KDC_UNREACHABLE",
    "KERBEROS_ERROR",
    "KERBEROS_MISSING",
    "LOGIN_REFUSED",
    "HandshakeCounter",
    "challenge_token",
    "discard",
    "kerberos_missing",
    "login_refused",
    "offers",
    "remember_sent",
    "rewind_body",
]

#: The KDC refused the password (pre-authentication failed).
KDC_REFUSED_PASSWORD = "WB-340"
#: The KDC does not know the user, or the account is disabled, locked or expired.
KDC_REFUSED_USER = "WB-341"
#: No KDC of the user's realm answered: retried.
KDC_UNREACHABLE = "WB-342"
#: The server answered 401 to the last leg of a complete handshake.
LOGIN_REFUSED = "WB-343"
#: The server broke off the handshake, sent a token that does not verify, or
#: could not prove its identity (Kerberos mutual authentication).
HANDSHAKE_BROKEN = "WB-344"
#: Any other Kerberos error while getting a ticket (clock skew, bad configuration).
KERBEROS_ERROR = "WB-345"
#: A 401 for ``user@REALM`` that got NTLM only because Kerberos support is not installed.
KERBEROS_MISSING = "WB-346"


#: How long a handshake token sent is removed from texts: it is good for one
#: connection, but an NTLM answer lets whoever holds it try passwords offline.
REDACT_SENT_FOR = 24 * 3600.0


def remember_sent(header: str | None) -> None:
    """Remove the credentials of an ``Authorization`` header sent in a handshake from every
    text: a server may quote the request it answers."""
    _, _, credentials = (header or "").partition(" ")
    add_secret(credentials.strip(), until=time.time() + REDACT_SENT_FOR)


@dataclass
class HandshakeCounter:
    """Handshakes started, completed and failed, shared by every session of a connector."""

    started: int = 0
    completed: int = 0
    failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def start(self) -> None:
        with self._lock:
            self.started += 1

    def complete(self) -> None:
        with self._lock:
            self.completed += 1

    def fail(self) -> None:
        with self._lock:
            self.failed += 1

    def snapshot(self) -> tuple[int, int, int]:
        """``(started, completed, failed)`` read together."""
        with self._lock:
            return self.started, self.completed, self.failed


def _challenges(response: requests.Response) -> list[str]:
    # requests joins repeated WWW-Authenticate headers with ", "; a token is
    # base64, so a comma always separates two challenges.
    header = response.headers.get("www-authenticate", "")
    return [part.strip() for part in header.split(",") if part.strip()]


def offers(response: requests.Response, scheme: str) -> bool:
    """Whether the 401 offers ``scheme`` (case-insensitive), with or without a token."""
    wanted = scheme.lower()
    return any(c.split(" ", 1)[0].lower() == wanted for c in _challenges(response))


def challenge_token(response: requests.Response, scheme: str) -> bytes | None:
    """The decoded token of ``WWW-Authenticate: <scheme> <token>``, or None.

    :raises AttemptError: (WB-344) when the token is not base64.
    """
    wanted = scheme.lower()
    for challenge in _challenges(response):
        name, _, token = challenge.partition(" ")
        if name.lower() == wanted and token.strip():
            try:
                return base64.b64decode(token.strip(), validate=True)
            except binascii.Error:
                raise AttemptError(
                    f"the server sent a {scheme} token that is not base64; "
                    "it does not speak the protocol correctly.",
                    code=HANDSHAKE_BROKEN,
                ) from None
    return None


def login_refused(scheme: str, username: str) -> AttemptError:
    """The sentence for a 401 after a complete handshake: wrong password, most likely."""
    return AttemptError(
        f"HTTP 401: the server refused the {scheme} login of {username} after a complete "
        "handshake; check the user name, its domain and the password.",
        code=LOGIN_REFUSED,
    )


def kerberos_missing(username: str, install: str) -> AttemptError:
    """The sentence for a 401 to ``user@REALM`` when only NTLM could be offered: the
    likely cause is not the password but the missing Kerberos support."""
    return AttemptError(
        f"HTTP 401: the server refused the Negotiate login of {username}, which got NTLM "
        "only because Kerberos support is not installed here; the server probably accepts "
        f"Kerberos only: run {install}, then retry (if it does take NTLM, check the user "
        "name, its domain and the password).",
        code=KERBEROS_MISSING,
    )


def discard(response: requests.Response) -> None:
    """Read and release an answer that will not be returned, so its connection goes back
    to the pool instead of leaking (it was sent with ``HTTPAdapter.send``, which reads nothing)."""
    try:
        _ = response.content
        response.raw.release_conn()
    except Exception:  # the connection is broken anyway: close it
        response.close()


def rewind_body(request: requests.PreparedRequest) -> None:
    """Put a file-like body back at its start before it is sent again (as requests-ntlm)."""
    body = request.body
    if body is not None and hasattr(body, "seek"):
        length = int(request.headers.get("Content-Length", "0") or 0)
        if length > 0:
            body.seek(-length, 1)
        else:
            body.seek(0, 0)
