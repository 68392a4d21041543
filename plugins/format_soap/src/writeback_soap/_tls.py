"""Which CAs the soap format trusts, and making requests obey that choice.

Contract §2: TLS is verified, and ``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE``
are honoured, the first one set winning (the same order as the json format, so
one setting works for every format).  requests on its own reads only
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, and lets them override
``Session.verify`` (lab notes); and it re-reads the whole environment for
proxies on every request (a third of a call's client time in a profile).  So
the format's Sessions run with ``trust_env`` off and get what the environment
says from here, read once per connector.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping

from writeback import AttemptError

__all__ = ["CA_BUNDLE_VARIABLES", "environment_proxies", "verify_setting"]

#: Variables naming a CA bundle, the first one set wins.
CA_BUNDLE_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def verify_setting(environ: Mapping[str, str] | None = None) -> str | bool:
    """The CA bundle (file or directory) named by the environment, else ``True``.

    ``True`` leaves the choice to requests (certifi's bundle).

    :raises AttemptError: when the named bundle cannot be read; the delivery
        fails rather than silently trusting some other set of CAs.
    """
    environ = os.environ if environ is None else environ
    for variable in CA_BUNDLE_VARIABLES:
        path = environ.get(variable)
        if not path:
            continue
        try:
            # Loading it once here turns a bad bundle into one clear sentence
            # instead of an SSLError on every request.
            if os.path.isdir(path):
                ssl.create_default_context(capath=path)
            else:
                ssl.create_default_context(cafile=path)
        except OSError as exc:  # ssl.SSLError included
            raise AttemptError(
                f"the CA bundle {path} named by {variable} cannot be loaded ({exc}); "
                f"point {variable} at a readable PEM bundle or unset it."
            ) from None
        return path
    return True


def environment_proxies(url: str) -> dict[str, str]:
    """The proxies the environment (``HTTPS_PROXY``, ``NO_PROXY``, …) sets for ``url``."""
    from requests.utils import get_environ_proxies

    return dict(get_environ_proxies(url))
