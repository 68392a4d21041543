"""Which CAs token requests trust (the standard bundle variables, every path).

The first of ``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE`` that is set wins
(:func:`writeback.plugin.ssl_context`), as in the formats, so one setting covers the token
endpoint and the back office whatever the transport.  A bundle that cannot be
loaded is a token endpoint that cannot be reached (WB-315, retried): fixing the
variable lets the next attempt through.
"""

from __future__ import annotations

import ssl

from writeback.plugin import ca_bundle
from writeback.plugin import ssl_context as named_bundle_context

__all__ = ["requests_verify", "ssl_context"]


def ssl_context() -> ssl.SSLContext | bool:
    """For httpx: a context trusting the named bundle, else ``True`` (httpx's default).

    :raises AttemptError: when the named bundle cannot be loaded.
    """
    context = named_bundle_context(code="WB-315", retryable=True)
    return True if context is None else context


def requests_verify() -> str | bool:
    """For requests, passed per request: the named bundle, else ``True``.

    Per request, because requests lets ``REQUESTS_CA_BUNDLE`` override a
    session's ``verify`` (its environment settings win), which would undo ``SSL_CERT_FILE`` here.

    :raises AttemptError: when the named bundle cannot be loaded.
    """
    return ca_bundle(code="WB-315", retryable=True) or True
