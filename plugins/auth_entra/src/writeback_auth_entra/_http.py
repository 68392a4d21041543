"""The requests session msal sends with, and its failures as attempt errors.

TLS is verified against the bundle named by ``SSL_CERT_FILE`` or
``REQUESTS_CA_BUNDLE`` (the first set, :func:`writeback.plugin.ca_bundle`).  requests lets
``REQUESTS_CA_BUNDLE`` override a session's ``verify`` (its environment
settings are merged over the session's), so the choice is passed with every
request instead.  The session also applies the timeout and remembers the last
status, which msal does not expose when it raises on a 5xx.

requests follows redirects, a 307 with the form (and the client secret in it)
to wherever ``Location`` points; the session's transport adapter
(:func:`writeback.plugin.token_adapter`) refuses every redirect before that,
reads at most 1 MiB of an answer, and has its connections cut when the fetch's
:func:`~writeback.plugin.token_deadline` passes.
"""

from __future__ import annotations

from typing import Any

import requests
from writeback.plugin import (
    CA_BUNDLE_VARIABLES,
    AttemptError,
    ca_bundle,
    token_adapter,
    token_connection_error,
    token_error_from_cause,
    token_timeout,
    token_tls_error,
)

__all__ = ["CA_BUNDLE_VARIABLES", "MsalSession", "transport_error", "verify_setting"]


def verify_setting() -> str | bool:
    """The CA bundle named by the environment, else ``True`` (requests' default).

    :raises AttemptError: WB-315 (retried) when the named bundle cannot be
        loaded, as for the oauth2 method's token requests.
    """
    return ca_bundle(code="WB-315", retryable=True) or True


class MsalSession(requests.Session):
    """What msal gets as ``http_client``: verify and timeout on every request, no
    redirect followed, bounded answers."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.last_status: int | None = None
        # The adapter refuses a redirect before requests sees it; were it to, it stops here.
        self.max_redirects = 0
        adapter = token_adapter()
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        kwargs["verify"] = verify_setting()
        self.last_status = None
        response = super().request(method, url, *args, **kwargs)
        self.last_status = response.status_code
        return response


def transport_error(url: str, exc: requests.RequestException, timeout: float) -> AttemptError:
    """A requests failure reaching ``url``: timeout, untrusted certificate, or unreachable."""
    if isinstance(exc, requests.Timeout):
        return token_timeout(url, timeout)
    if found := token_error_from_cause(url, exc):
        return found
    if isinstance(exc, requests.exceptions.SSLError):
        return token_tls_error(url, "certificate verification failed")
    return token_connection_error(url, type(exc).__name__)
