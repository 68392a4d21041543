"""Endpoints that misbehave on purpose: redirect, trickle, flood.

A :class:`HostileServer` answers each request by its method's
:data:`Behaviour`; it stands for a compromised or broken back office, token
endpoint or Entra authority in tests that check what writeback refuses to do
(follow a redirect, wait forever for an answer, read an endless body).
:class:`HostileTLSServer` is the same over HTTPS, with a certificate from the
test CA.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from writeback_testing._server import LoopbackHandler, LoopbackServer
from writeback_testing._soap_xml import PAGE_FIELDS, page_wsdl, result_envelope

# The Entra authority's handler wraps each accepted connection in TLS; the
# hostile server needs exactly that.
from writeback_testing.entra import _TLSHandler, openid_configuration

if TYPE_CHECKING:
    import ssl

__all__ = [
    "MIB",
    "Answer",
    "Behaviour",
    "Flood",
    "HostileServer",
    "HostileTLSServer",
    "OpenIdConfiguration",
    "PageWsdl",
    "Redirect",
    "Trickle",
    "soap_create_result",
]

MIB = 1024 * 1024


@dataclass(frozen=True)
class Answer:
    """A plain answer: ``status`` with ``body``."""

    status: int = 200
    body: bytes = b"ok"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Redirect:
    """``status`` with ``Location: location`` (which may be relative)."""

    location: str
    status: int = 307


@dataclass(frozen=True)
class Trickle:
    """``status`` with ``body``, sent one byte every ``interval`` seconds.

    ``head`` trickles the status line and headers too; otherwise they go out at
    once and only the body trickles.  Stops when the client hangs up.
    """

    body: bytes
    status: int = 200
    interval: float = 1.0
    head: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Flood:
    """``status`` declaring a ``declared``-byte body, of which ``sent`` bytes go out.

    When ``sent`` is less than ``declared`` the connection is then held open,
    silent, until the client hangs up (or the server stops): a client that
    wants the whole body waits forever; one that reads a bounded prefix does not.
    """

    status: int = 200
    declared: int = 100 * MIB
    sent: int = 4 * MIB
    content_type: str = "text/xml; charset=utf-8"
    filler: bytes = b"x"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PageWsdl:
    """The WSDL of page ``Appointment`` (all fields), calls addressed to ``address``
    (default: the server's own URL and path)."""

    address: str | None = None


@dataclass(frozen=True)
class OpenIdConfiguration:
    """An Entra authority's OpenID discovery document for the tenant the request's
    path names, its token endpoint on this server: msal, given the server's URL as
    ``authority``, then posts its token request here (to the ``POST`` behaviour)."""


Behaviour: TypeAlias = Answer | Redirect | Trickle | Flood | PageWsdl | OpenIdConfiguration


def soap_create_result(record: Mapping[str, object] | None = None) -> bytes:
    """A page's answer to ``Create``: what a hostile page may trickle back."""
    return result_envelope("Appointment", "Create", {"Appointment": record or {"Key": "1;x;1;"}})


@dataclass(frozen=True)
class HostileRequest:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class HostileServer(LoopbackServer):
    """Answers by ``behaviours[method]``, else ``behaviours["*"]``, else ``404``.

    :param behaviours: a :data:`Behaviour` per HTTP method (``"*"``: any other),
        or a list of them, used one per request, the last one for the rest.
    """

    def __init__(self, behaviours: Mapping[str, Behaviour | Sequence[Behaviour]]) -> None:
        super().__init__()
        self.behaviours = {
            method: [given] if isinstance(given, Behaviour) else list(given)
            for method, given in behaviours.items()
        }
        self._lock = threading.Lock()
        self._requests: list[HostileRequest] = []
        #: Trickled or flooded answers the client hung up on before their end.
        self.abandoned = 0

    @property
    def requests(self) -> list[HostileRequest]:
        with self._lock:
            return list(self._requests)

    def wait_abandoned(self, n: int, timeout: float = 15.0) -> int:
        """Block until the client hung up on ``n`` answers; return how many it did.

        A hang-up shows at the server's next write, up to a trickle's interval later.
        """
        deadline = time.monotonic() + timeout
        while self.abandoned < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.abandoned

    def handle_request(self, handler: LoopbackHandler) -> None:
        with self._lock:
            self._requests.append(
                HostileRequest(handler.command, handler.path, dict(handler.headers), handler.body)
            )
        with self._lock:
            planned = self.behaviours.get(handler.command) or self.behaviours.get("*")
            behaviour = (planned.pop(0) if len(planned) > 1 else planned[0]) if planned else None
        if behaviour is None:
            handler.respond(404, b"no behaviour for this method", {"Content-Type": "text/plain"})
        elif isinstance(behaviour, Answer):
            handler.respond(behaviour.status, behaviour.body, behaviour.headers)
        elif isinstance(behaviour, Redirect):
            headers = {"Location": behaviour.location, "Content-Type": "text/plain"}
            handler.respond(behaviour.status, b"moved", headers)
        elif isinstance(behaviour, PageWsdl):
            address = behaviour.address or self.url + handler.path.split("?", 1)[0]
            wsdl = page_wsdl("Appointment", PAGE_FIELDS, address)
            handler.respond(200, wsdl, {"Content-Type": "text/xml; charset=utf-8"})
        elif isinstance(behaviour, OpenIdConfiguration):
            tenant = handler.path.split("?", 1)[0].strip("/").split("/", 1)[0]
            document = json.dumps(openid_configuration(self.url, tenant)).encode()
            handler.respond(200, document, {"Content-Type": "application/json"})
        elif isinstance(behaviour, Trickle):
            self._trickle(handler, behaviour)
        else:
            self._flood(handler, behaviour)

    def _trickle(self, handler: LoopbackHandler, trickle: Trickle) -> None:
        handler.close_connection = True
        lines = [f"HTTP/1.1 {trickle.status} Trickling", f"Content-Length: {len(trickle.body)}"]
        lines += [f"{name}: {value}" for name, value in trickle.headers.items()]
        head = ("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n").encode("latin-1")
        if not trickle.head:
            if not self._write(handler, head):
                return
            head = b""
        for byte in head + trickle.body:
            if not self._write(handler, bytes([byte])) or self.sleep(trickle.interval):
                return

    def _flood(self, handler: LoopbackHandler, flood: Flood) -> None:
        handler.close_connection = True
        lines = [
            f"HTTP/1.1 {flood.status} Flooding",
            f"Content-Type: {flood.content_type}",
            f"Content-Length: {flood.declared}",
            *(f"{name}: {value}" for name, value in flood.headers.items()),
            "Connection: close",
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if not self._write(handler, head):
            return
        block = (flood.filler * (64 * 1024 // len(flood.filler) + 1))[: 64 * 1024]
        left = flood.sent
        while left > 0:
            if not self._write(handler, block[:left]):
                return
            left -= min(left, len(block))
        if flood.sent >= flood.declared:
            return
        # Silent until the client gives up: a read of the whole body never ends.
        handler.connection.settimeout(0.1)
        while not self.sleep(0.05):
            try:
                if handler.connection.recv(1) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        self._count_abandoned()

    def _write(self, handler: LoopbackHandler, data: bytes) -> bool:
        """False when the client hung up."""
        try:
            handler.wfile.write(data)
            handler.wfile.flush()
        except OSError:
            self._count_abandoned()
            return False
        return True

    def _count_abandoned(self) -> None:
        with self._lock:
            self.abandoned += 1


class HostileTLSServer(HostileServer):
    """:class:`HostileServer` over HTTPS.

    :param tls: the server's TLS context (``writeback_test_ca.server_context()``).
    """

    handler_class = _TLSHandler

    def __init__(
        self, behaviours: Mapping[str, Behaviour | Sequence[Behaviour]], *, tls: ssl.SSLContext
    ) -> None:
        super().__init__(behaviours)
        self.tls = tls

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``."""
        return f"https://127.0.0.1:{self.port}"
