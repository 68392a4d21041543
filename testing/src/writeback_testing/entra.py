"""An Entra-style authority over HTTPS, signed by a test CA, for msal to talk to.

msal refuses an ``http://`` authority and needs, per tenant, the OpenID
discovery document ``/{tenant}/v2.0/.well-known/openid-configuration`` naming
``token_endpoint``, ``authorization_endpoint`` and ``issuer`` (msal requires the
first two and reads the third); the token endpoint
``/{tenant}/oauth2/v2.0/token`` grants client credentials exactly like
:class:`~writeback_testing.oauth2_server.OAuth2Server`, whose rules, counters
and failure controls it inherits.  Clients register as ``client_secret_post``
by default, which is what msal sends.

:class:`TestCA` makes the CA and the server certificate with trustme and writes
CA bundles for ``SSL_CERT_FILE``/``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

import json
import os
import ssl
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from writeback_testing._server import LoopbackHandler
from writeback_testing.oauth2_server import OAuth2Server

if TYPE_CHECKING:
    import trustme

__all__ = ["EntraAuthority", "TestCA", "openid_configuration"]


class TestCA:
    """A throwaway certificate authority (trustme) and what tests need from it."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self) -> None:
        import trustme

        self.ca: trustme.CA = trustme.CA(organization_name="writeback-testing CA")
        self._server_context: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context for ``127.0.0.1`` and ``localhost`` signed by this CA."""
        with self._lock:
            if self._server_context is None:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
                self._server_context = context
            return self._server_context

    def write_bundle(self, path: Path, *, with_system: bool = False) -> Path:
        """Write this CA's certificate to ``path`` (after the system CAs when asked)."""
        pem = self.ca.cert_pem.bytes()
        if with_system:
            system = (
                ssl.get_default_verify_paths().cafile
                or ssl.get_default_verify_paths().openssl_cafile
            )
            if system and os.path.exists(system):
                pem = Path(system).read_bytes().rstrip(b"\n") + b"\n" + pem
        path.write_bytes(pem)
        return path


class _TLSHandler(LoopbackHandler):
    """Wraps each accepted connection in TLS, in the handler's own thread."""

    tls_failed = False

    def setup(self) -> None:
        context: ssl.SSLContext = self.server.owner.tls  # type: ignore[attr-defined]
        raw = self.request
        try:
            self.request = context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            # The client did not trust us (or hung up): what a TLS test expects, not a bug.
            self.tls_failed = True
            raw.close()
            return
        super().setup()

    def handle(self) -> None:
        if not self.tls_failed:
            super().handle()

    def finish(self) -> None:
        if self.tls_failed:
            return
        try:
            super().finish()
        finally:
            # socketserver closes the raw socket it accepted, which TLS has detached.
            self.request.close()


class EntraAuthority(OAuth2Server):
    """``https://127.0.0.1:PORT/{tenant}/…``: OpenID discovery and the v2.0 token endpoint.

    :param tls: the server's TLS context (:meth:`TestCA.server_context`).
    :param tenant: the one tenant it knows; other tenants get ``invalid_tenant``.
    """

    handler_class = _TLSHandler

    def __init__(
        self,
        tls: ssl.SSLContext,
        *,
        tenant: str = "contoso",
        lifetime: float | None = 3600,
        hold: float = 30.0,
        delay: float = 0.0,
    ) -> None:
        super().__init__(lifetime=lifetime, hold=hold, delay=delay)
        self.tls = tls
        self.tenant = tenant
        self.token_path = f"/{tenant}/oauth2/v2.0/token"
        self.discovery_requests = 0

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``: the ``authority`` setting of an ``entra`` connector."""
        return f"https://127.0.0.1:{self.port}"

    def register(
        self,
        client_id: str,
        client_secret: str,
        *,
        method: str = "client_secret_post",
        scopes: list[str] | None = None,
    ) -> Any:
        return super().register(client_id, client_secret, method=method, scopes=scopes)

    def handle_request(self, handler: LoopbackHandler) -> None:
        path = handler.path.split("?")[0]
        parts = path.strip("/").split("/")
        if parts[0] != self.tenant and path.endswith("/.well-known/openid-configuration"):
            self._discovery_error(handler, parts[0])
            return
        if path == f"/{self.tenant}/v2.0/.well-known/openid-configuration":
            with self._lock:
                self.discovery_requests += 1
            handler.respond(200, json.dumps(self.openid_configuration()).encode(), _JSON_HEADERS)
            return
        super().handle_request(handler)

    def openid_configuration(self) -> dict[str, Any]:
        """The discovery document msal reads (the fields msal needs, as Entra names them)."""
        return openid_configuration(self.url, self.tenant)

    @staticmethod
    def _discovery_error(handler: LoopbackHandler, tenant: str) -> None:
        body = {
            "error": "invalid_tenant",
            "error_description": f"AADSTS90002: Tenant '{tenant}' not found.",
        }
        handler.respond(400, json.dumps(body).encode(), _JSON_HEADERS)


_JSON_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}


def openid_configuration(url: str, tenant: str) -> dict[str, Any]:
    """The OpenID discovery document of ``tenant`` at the authority ``url``, as Entra
    serves it: its token endpoint is ``{url}/{tenant}/oauth2/v2.0/token``."""
    base = f"{url}/{tenant}"
    return {
        "issuer": f"{base}/v2.0",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "tenant_region_scope": "EU",
    }
