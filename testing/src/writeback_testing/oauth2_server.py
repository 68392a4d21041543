"""An OAuth2 authorization server for tests: the client credentials grant, strictly.

It is strict where real servers differ, so that a client which works here works
everywhere:

- each registered client has exactly one authentication method
  (``client_secret_basic`` or ``client_secret_post``); credentials arriving the
  other way are refused with ``invalid_client``, as are credentials sent both
  ways at once (RFC 6749 §2.3: a client MUST NOT use more than one method);
- Basic credentials are form-url-decoded after base64 (RFC 6749 §2.3.1), so a
  client that does not encode them first fails on a secret with ``+`` or ``%``.

Tokens are opaque random strings; :meth:`OAuth2Server.principal` tells a
resource server (``acceptors.BearerAcceptor``) whom a token stands for.  Every
token request is counted, and the server can be told to fail (HTTP status or no
answer) for the next requests.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_plus

from writeback_testing._server import LoopbackHandler, LoopbackServer

__all__ = ["CLIENT_AUTH_METHODS", "IssuedToken", "OAuth2Server", "RegisteredClient"]

CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str
    method: str
    #: Scopes it may ask for; ``None``: any.
    scopes: frozenset[str] | None = None


@dataclass
class IssuedToken:
    client_id: str
    scope: str | None
    expires_at: float
    revoked: bool = False


@dataclass
class _Failure:
    status: int | None  # None: hold the request without answering
    body: dict[str, str] = field(default_factory=dict)


class OAuth2Server(LoopbackServer):
    """``POST {url}/token``: the client credentials grant (RFC 6749 §4.4).

    :param lifetime: ``expires_in`` of issued tokens in seconds; ``None`` leaves
        it out of the answer.
    :param hold: seconds a request told to hang waits before its connection is dropped.
    :param delay: seconds every token request takes (makes concurrent requests overlap).
    """

    token_path = "/token"

    def __init__(
        self, *, lifetime: float | None = 3600, hold: float = 30.0, delay: float = 0.0
    ) -> None:
        super().__init__()
        self.lifetime = lifetime
        self.hold = hold
        self.delay = delay
        self._lock = threading.Lock()
        self._clients: dict[str, RegisteredClient] = {}
        self._tokens: dict[str, IssuedToken] = {}
        self._failures: list[_Failure] = []
        self._requests: list[str | None] = []

    # -- set-up ------------------------------------------------------------------------

    def register(
        self,
        client_id: str,
        client_secret: str,
        *,
        method: str = "client_secret_basic",
        scopes: list[str] | None = None,
    ) -> RegisteredClient:
        """Register a client that authenticates with ``method`` and nothing else."""
        if method not in CLIENT_AUTH_METHODS:
            raise ValueError(f"method must be one of {CLIENT_AUTH_METHODS}, not {method!r}")
        client = RegisteredClient(
            client_id, client_secret, method, frozenset(scopes) if scopes is not None else None
        )
        with self._lock:
            self._clients[client_id] = client
        return client

    def fail_next(self, count: int = 1, *, status: int = 500, error: str | None = None) -> None:
        """Answer the next ``count`` token requests with ``status`` (and an OAuth2 ``error``)."""
        body = {"error": error} if error else {}
        with self._lock:
            self._failures += [_Failure(status, body) for _ in range(count)]

    def hang_next(self, count: int = 1) -> None:
        """Leave the next ``count`` token requests unanswered (the client times out)."""
        with self._lock:
            self._failures += [_Failure(None) for _ in range(count)]

    @property
    def token_url(self) -> str:
        return self.url + self.token_path

    # -- what tests look at -----------------------------------------------------------

    @property
    def token_requests(self) -> int:
        """Token requests received (answered or not), whatever their outcome."""
        with self._lock:
            return len(self._requests)

    def issued(self, client_id: str | None = None) -> int:
        """Tokens issued (to ``client_id`` when given)."""
        with self._lock:
            return sum(1 for t in self._tokens.values() if client_id in (None, t.client_id))

    def principal(self, token: str) -> str | None:
        """The client id a valid token was issued to; None if unknown, expired or revoked."""
        with self._lock:
            issued = self._tokens.get(token)
            if issued is None or issued.revoked or issued.expires_at <= time.time():
                return None
            return issued.client_id

    def revoke(self, token: str | None = None) -> int:
        """Revoke ``token``, or every token issued so far; returns how many."""
        with self._lock:
            chosen = [self._tokens[token]] if token in self._tokens else []
            if token is None:
                chosen = list(self._tokens.values())
            for issued in chosen:
                issued.revoked = True
            return len(chosen)

    def expire(self) -> None:
        """Make every token issued so far expired (as if its lifetime had passed)."""
        with self._lock:
            for issued in self._tokens.values():
                issued.expires_at = min(issued.expires_at, time.time() - 1)

    # -- the endpoint ------------------------------------------------------------------

    def handle_request(self, handler: LoopbackHandler) -> None:
        if handler.path.split("?")[0] != self.token_path:
            handler.respond(404, b"not found", {"Content-Type": "text/plain"})
            return
        if handler.command != "POST":
            handler.respond(405, b"use POST", {"Allow": "POST", "Content-Type": "text/plain"})
            return
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if self.delay and self.sleep(self.delay):
            handler.drop()
            return
        if failure is not None:
            with self._lock:
                self._requests.append(None)
            if failure.status is None:
                self.sleep(self.hold)
                handler.drop()
                return
            self._answer(handler, failure.status, failure.body or {"error": "server_error"})
            return
        status, body = self._grant(handler)
        self._answer(handler, status, body, basic=status == 401)

    def _grant(self, handler: LoopbackHandler) -> tuple[int, dict[str, object]]:
        content_type = handler.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            self._count(None)
            return 400, _error("invalid_request", "the body must be form-url-encoded")
        form = dict(parse_qsl(handler.body.decode("utf-8", "replace"), keep_blank_values=True))
        header = handler.headers.get("Authorization")
        in_body = "client_id" in form or "client_secret" in form
        if header is not None and in_body:
            self._count(None)
            return 401, _error("invalid_client", "credentials sent by more than one method")
        if header is not None:
            method, client_id, secret = "client_secret_basic", *_basic(header)
        else:
            method, client_id, secret = (
                "client_secret_post",
                form.get("client_id"),
                form.get("client_secret"),
            )
        self._count(client_id)
        client = self._clients.get(client_id or "")
        if (
            client is None
            or secret is None
            or client.method != method
            or not secrets.compare_digest(client.client_secret.encode(), secret.encode())
        ):
            return 401, _error("invalid_client", "client authentication failed")
        if form.get("grant_type") != "client_credentials":
            return 400, _error("unsupported_grant_type", "only client_credentials is supported")
        scope = form.get("scope") or None
        if scope and client.scopes is not None and not set(scope.split()) <= client.scopes:
            return 400, _error("invalid_scope", "the requested scope is not granted to the client")
        return 200, self._issue(client.client_id, scope)

    def _issue(self, client_id: str, scope: str | None) -> dict[str, object]:
        token = secrets.token_urlsafe(24)
        lifetime = self.lifetime if self.lifetime is not None else 86400.0
        with self._lock:
            self._tokens[token] = IssuedToken(client_id, scope, time.time() + lifetime)
        body: dict[str, object] = {"access_token": token, "token_type": "Bearer"}
        if self.lifetime is not None:
            body["expires_in"] = int(self.lifetime)
        if scope:
            body["scope"] = scope
        return body

    def _count(self, client_id: str | None) -> None:
        with self._lock:
            self._requests.append(client_id)

    @staticmethod
    def _answer(
        handler: LoopbackHandler, status: int, body: dict[str, object], *, basic: bool = False
    ) -> None:
        headers = {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            "Pragma": "no-cache",
        }
        if basic and "Authorization" in handler.headers:
            headers["WWW-Authenticate"] = 'Basic realm="writeback-testing"'
        handler.respond(status, json.dumps(body).encode(), headers)


def _error(code: str, description: str) -> dict[str, object]:
    return {"error": code, "error_description": description}


def _basic(header: str) -> tuple[str | None, str | None]:
    """Client id and secret from ``Authorization: Basic``, form-url-decoded (RFC 6749 §2.3.1)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None, None
    return unquote_plus(client_id), unquote_plus(secret)
