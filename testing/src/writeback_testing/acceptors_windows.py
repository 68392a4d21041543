"""Real NTLM and Negotiate/Kerberos acceptors (pyspnego) for the simulators.

Both authenticate a TCP connection: the handshake's progress and, once it is
complete, the principal live in ``handler.state``; later requests on the same
connection are accepted without an ``Authorization`` header, as IIS and
Business Central/NAV do.  Every handshake is counted per connection
(:class:`ConnectionHandshakes`), so tests can assert "no failed handshake, and
no more handshakes than connections".

**NTLM user file.** pyspnego's NTLM acceptor reads the users it accepts from
the file named by the process-wide variable ``NTLM_USER_FILE`` (lines
``DOMAIN:user:password``; ``:user:password`` for a user without a domain, such
as ``user@REALM``), and reads it at each login.  Several acceptors in one
process therefore share one file, kept by this module: each acceptor adds its
users on creation and removes them in :meth:`close`; the variable is set while
any acceptor is open and restored after the last one closes.  Two open
acceptors may not give the same user different passwords (``ValueError``), and
each acceptor accepts only its own users, even though the file holds all.

**Kerberos.** :class:`NegotiateAcceptor` accepts tickets for
``HTTP/<hostname>`` with the keys of the default keytab, which the test KDC's
``krb5.conf`` names (activate it in this process: ``TestKdc.activate()``).
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from writeback_testing.acceptors import challenge

if TYPE_CHECKING:
    from writeback_testing._server import LoopbackHandler

__all__ = ["ConnectionHandshakes", "NegotiateAcceptor", "NtlmAcceptor"]

_NTLM_OID = "1.3.6.1.4.1.311.2.2.10"


@dataclass
class ConnectionHandshakes:
    """What happened on one TCP connection."""

    started: int = 0
    completed: int = 0
    failed: int = 0
    #: Requests accepted on this connection (with or without a handshake).
    requests: int = 0
    protocol: str | None = None


class _UserFile:
    """The one ``NTLM_USER_FILE`` of this process, merged from every open acceptor."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[int, dict[tuple[str, str], str]] = {}
        self._path: str | None = None
        self._saved: str | None = None

    def add(self, owner: int, users: dict[tuple[str, str], str]) -> None:
        with self._lock:
            for other in self._owners.values():
                for key, password in users.items():
                    if key in other and other[key] != password:
                        user = f"{key[0]}\\{key[1]}" if key[0] else key[1]
                        raise ValueError(
                            f"another open NTLM acceptor has user {user} (compared without "
                            "case) with a different password; pyspnego reads one "
                            "NTLM_USER_FILE per process."
                        )
            if not self._owners:
                self._saved = os.environ.get("NTLM_USER_FILE")
                fd, self._path = tempfile.mkstemp(prefix="wb-ntlm-users-")
                os.close(fd)
            self._owners[owner] = users
            self._write()

    def remove(self, owner: int) -> None:
        with self._lock:
            if self._owners.pop(owner, None) is None:
                return
            if self._owners:
                self._write()
                return
            if self._saved is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = self._saved
            if self._path:
                os.unlink(self._path)
            self._path = None

    def _write(self) -> None:
        assert self._path is not None
        lines = {f"{d}:{u}:{p}" for users in self._owners.values() for (d, u), p in users.items()}
        # Written whole and renamed: a login reading it never sees half a file.
        tmp = self._path + ".new"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(sorted(lines)) + "\n")
        os.replace(tmp, self._path)
        os.environ["NTLM_USER_FILE"] = self._path


_USER_FILE = _UserFile()


def _key(username: str) -> tuple[str, str]:
    domain, _, user = username.rpartition("\\")
    return domain.upper(), user.upper()


class _ConnectionAcceptor:
    """A connection-oriented scheme driven by pyspnego; see the module docstring."""

    def __init__(
        self,
        users: Mapping[str, str],
        schemes: Iterable[str],
        *,
        hostname: str = "127.0.0.1",
        service: str = "HTTP",
        kerberos: bool = False,
    ) -> None:
        self.schemes = tuple(schemes)
        if not self.schemes or any(s not in ("NTLM", "Negotiate") for s in self.schemes):
            raise ValueError(f"schemes must be NTLM and/or Negotiate, not {self.schemes}")
        #: The first scheme offered (``Acceptor.scheme``).
        self.scheme = self.schemes[0]
        self.hostname = hostname
        self.service = service
        self.kerberos = kerberos
        self.users = dict(users)
        self._own = {_key(name): pw for name, pw in self.users.items()}
        self._lock = threading.Lock()
        self._connections: dict[tuple[int, int], ConnectionHandshakes] = {}
        #: Principals accepted, one entry per completed handshake.
        self.principals: list[str] = []
        _USER_FILE.add(id(self), dict(self._own))
        self._finalizer = weakref.finalize(self, _USER_FILE.remove, id(self))

    # -- counting -------------------------------------------------------------

    @property
    def connections(self) -> dict[tuple[int, int], ConnectionHandshakes]:
        """Per connection that sent anything: ``(id(server), connection number) -> counts``."""
        with self._lock:
            return dict(self._connections)

    def totals(self) -> ConnectionHandshakes:
        """Handshakes started/completed/failed and requests, summed over all connections."""
        total = ConnectionHandshakes()
        for c in self.connections.values():
            total.started += c.started
            total.completed += c.completed
            total.failed += c.failed
            total.requests += c.requests
        return total

    @property
    def handshakes(self) -> int:
        """Handshakes started."""
        return self.totals().started

    def reset_counts(self) -> None:
        with self._lock:
            self._connections.clear()
            self.principals.clear()

    def _stats(self, handler: LoopbackHandler) -> ConnectionHandshakes:
        key = (id(handler.server), handler.connection_id)
        with self._lock:
            return self._connections.setdefault(key, ConnectionHandshakes())

    # -- the Acceptor protocol ------------------------------------------------

    def authenticate(self, handler: LoopbackHandler) -> str | None:
        state = handler.state.setdefault(("windows-auth", id(self)), {})
        stats = self._stats(handler)
        scheme, token = self._authorization(handler)
        if token is None and state.get("principal"):
            stats.requests += 1
            return str(state["principal"])
        if token is None:
            challenge(handler, *self.schemes)
            return None
        context = state.get("context")
        if context is None:
            context = state["context"] = self._new_context(scheme)
            state.pop("principal", None)
            stats.started += 1
        try:
            out = context.step(self._inbound(scheme, token))
        except Exception:  # any SpnegoError: a token that does not verify, a wrong password
            return self._fail(handler, state, stats)
        if not context.complete:
            challenge(handler, f"{scheme} {base64.b64encode(out or b'').decode()}")
            return None
        principal = str(context.client_principal or "")
        protocol = str(context.negotiated_protocol or scheme.lower())
        if not self._accepts(principal, protocol):
            return self._fail(handler, state, stats)
        del state["context"]
        state["principal"] = principal
        if out:
            final = ("WWW-Authenticate", f"{scheme} {base64.b64encode(out).decode()}")
            if isinstance(getattr(handler, "next_headers", None), list):
                handler.next_headers.append(final)  # every LoopbackServer simulator sends it
            else:
                state["final"] = final
        stats.completed += 1
        stats.requests += 1
        stats.protocol = protocol
        with self._lock:
            self.principals.append(principal)
        return principal

    def response_headers(self, handler: LoopbackHandler) -> list[tuple[str, str]]:
        """The final token (Kerberos mutual authentication, SPNEGO's MIC), once per handshake.

        Only for handlers without ``next_headers``: a :class:`LoopbackHandler`
        already carries the token into the simulator's next answer.
        """
        state = handler.state.get(("windows-auth", id(self)), {})
        final = state.pop("final", None)
        return [final] if final else []

    def close(self) -> None:
        """Remove this acceptor's users from the process's NTLM user file; idempotent."""
        self._finalizer()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ------------------------------------------------------------------

    def _authorization(self, handler: LoopbackHandler) -> tuple[str, bytes | None]:
        name, _, rest = handler.headers.get("Authorization", "").partition(" ")
        for scheme in self.schemes:
            if name.lower() == scheme.lower() and rest.strip():
                try:
                    return scheme, base64.b64decode(rest.strip(), validate=True)
                except binascii.Error:
                    return scheme, b""
        return "", None

    def _new_context(self, scheme: str) -> Any:
        import spnego

        if scheme == "NTLM":
            return spnego.server(hostname=self.hostname, service=self.service, protocol="ntlm")
        # A credential no Kerberos acceptor can use keeps Kerberos out of an
        # NTLM-only Negotiate acceptor (NTLM acceptors ignore credentials).
        credentials = None if self.kerberos else [spnego.NTLMHash("-", nt_hash="0" * 32)]
        return spnego.server(
            hostname=self.hostname,
            service=self.service,
            protocol="negotiate",
            credentials=credentials,
        )

    def _inbound(self, scheme: str, token: bytes) -> bytes:
        if scheme != "Negotiate" or self.kerberos:
            return token
        # RFC 4178 §3.2: an acceptor that does not choose the initiator's first mech
        # ignores its optimistic token and answers with the mech it chose. pyspnego
        # 0.12 hands a Kerberos optimistic token to its NTLM context instead, so it
        # is removed here (only in this NTLM-only acceptor) before pyspnego sees it.
        from spnego._spnego import NegTokenInit, unpack_token

        try:
            init = unpack_token(token)
        except Exception:
            return token
        if isinstance(init, NegTokenInit) and init.mech_types and init.mech_types[0] != _NTLM_OID:
            return NegTokenInit(init.mech_types, mech_token=None).pack()
        return token

    def _accepts(self, principal: str, protocol: str) -> bool:
        if protocol == "kerberos":
            return self.kerberos and bool(principal)
        return _key(principal) in self._own

    def _fail(
        self, handler: LoopbackHandler, state: dict[str, Any], stats: ConnectionHandshakes
    ) -> None:
        state.pop("context", None)
        state.pop("principal", None)
        stats.failed += 1
        challenge(handler, *self.schemes)
        return None


class NtlmAcceptor(_ConnectionAcceptor):
    """NTLM (pyspnego) for ``users``: user name -> password.

    A user name is ``"DOMAIN\\\\user"``, ``"user@REALM"`` or a plain ``"user"``.

    ``schemes``: what the 401 offers: ``("NTLM",)`` (default), ``("Negotiate",)``
    as NAV answers (NTLM inside Negotiate, raw or SPNEGO-wrapped), or both.
    Kerberos is never accepted here. Call :meth:`close` when done (see the
    module docstring on the NTLM user file).
    """

    def __init__(self, users: Mapping[str, str], *, schemes: Iterable[str] = ("NTLM",)) -> None:
        super().__init__(users, schemes, kerberos=False)


class NegotiateAcceptor(_ConnectionAcceptor):
    """Negotiate: Kerberos tickets for ``HTTP/<hostname>``, NTLM inside Negotiate for ``users``.

    The Kerberos keys come from the default keytab of the active Kerberos
    configuration (the test KDC's); any principal of the realm is accepted, for
    any service whose key is in that keytab (``HTTP/127.0.0.1`` and
    ``HTTP/localhost`` for the test KDC: pyspnego's acceptor does not narrow it).
    The answer after a Kerberos login carries the mutual-authentication token
    (through ``handler.next_headers``: any simulator on :class:`LoopbackServer`).
    """

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        hostname: str = "127.0.0.1",
        service: str = "HTTP",
    ) -> None:
        super().__init__(
            users or {}, ("Negotiate",), hostname=hostname, service=service, kerberos=True
        )
