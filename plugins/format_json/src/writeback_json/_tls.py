"""Which CAs the json format trusts.

Contract §2: TLS is verified, and the standard CA bundle variables are honoured
by every HTTP path.  httpx 0.28 reads ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` but
not ``REQUESTS_CA_BUNDLE``, which the requests-based formats honour; reading
both here makes one setting work for every format.  httpx 0.28 deprecates a
path string for ``verify``, so a bundle becomes an :class:`ssl.SSLContext`.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping

from writeback import AttemptError

__all__ = ["CA_BUNDLE_VARIABLES", "verify_setting"]

#: Variables naming a CA bundle, the first one set wins.
CA_BUNDLE_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def verify_setting(environ: Mapping[str, str] | None = None) -> ssl.SSLContext | bool:
    """An SSL context trusting the bundle named by the environment, else ``True``.

    ``True`` leaves the choice to httpx (``SSL_CERT_DIR``, then certifi).

    :raises AttemptError: when the named bundle cannot be read; the delivery
        fails rather than silently trusting some other set of CAs.
    """
    environ = os.environ if environ is None else environ
    for variable in CA_BUNDLE_VARIABLES:
        path = environ.get(variable)
        if not path:
            continue
        try:
            if os.path.isdir(path):
                return ssl.create_default_context(capath=path)
            return ssl.create_default_context(cafile=path)
        except OSError as exc:  # ssl.SSLError included
            raise AttemptError(
                f"the CA bundle {path} named by {variable} cannot be loaded ({exc}); "
                f"point {variable} at a readable PEM bundle or unset it."
            ) from None
    return True
