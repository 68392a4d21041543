"""Which CAs the json format trusts.

TLS is verified, and the standard CA bundle variables are honoured by every
HTTP path.  httpx 0.28 reads ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` but
not ``REQUESTS_CA_BUNDLE``, which the requests-based formats honour; asking
:func:`writeback.plugin.ssl_context` makes one setting work for every format.  httpx 0.28
deprecates a path string for ``verify``, so a bundle becomes an
:class:`ssl.SSLContext`.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

from writeback.plugin import CA_BUNDLE_VARIABLES, ssl_context

__all__ = ["CA_BUNDLE_VARIABLES", "verify_setting"]


def verify_setting(environ: Mapping[str, str] | None = None) -> ssl.SSLContext | bool:
    """An SSL context trusting the bundle named by the environment, else ``True``.

    ``True`` leaves the choice to httpx (``SSL_CERT_DIR``, then certifi).

    :raises AttemptError: when the named bundle cannot be read; the delivery
        fails rather than silently trusting some other set of CAs.
    """
    context = ssl_context(environ)
    return True if context is None else context
