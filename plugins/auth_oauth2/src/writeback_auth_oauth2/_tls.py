"""Which CAs token requests trust (contract §2: the standard bundle variables, every path).

The first of ``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE`` that is set wins, as
in the json format, so one setting covers the token endpoint and the back office
whatever the transport.
"""

from __future__ import annotations

import os
import ssl

from writeback import AttemptError

__all__ = ["CA_BUNDLE_VARIABLES", "ca_bundle", "ssl_context"]

CA_BUNDLE_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def ca_bundle() -> tuple[str, str] | None:
    """``(variable, path)`` of the CA bundle the environment names, if any."""
    for variable in CA_BUNDLE_VARIABLES:
        path = os.environ.get(variable)
        if path:
            return variable, path
    return None


def ssl_context() -> ssl.SSLContext | bool:
    """For httpx: a context trusting the named bundle, else ``True`` (httpx's default).

    :raises AttemptError: when the named bundle cannot be loaded.
    """
    named = ca_bundle()
    if named is None:
        return True
    variable, path = named
    try:
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)
    except OSError as exc:
        raise AttemptError(
            f"the CA bundle {path} named by {variable} cannot be loaded ({exc}); "
            f"point {variable} at a readable PEM bundle or unset it.",
            code="WB-315",
            retryable=True,
        ) from None


def requests_verify() -> str | bool:
    """For requests, passed per request: the named bundle, else ``True``.

    Per request, because requests lets ``REQUESTS_CA_BUNDLE`` override a
    session's ``verify`` (lab notes), which would undo ``SSL_CERT_FILE`` here.
    """
    named = ca_bundle()
    return named[1] if named is not None else True
