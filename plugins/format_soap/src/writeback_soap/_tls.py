"""Which CAs the soap format trusts, and making requests obey that choice.

Contract §2: TLS is verified, and ``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE``
are honoured, the first one set winning (the same order as the json format, so
one setting works for every format).  requests on its own reads only
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, and lets them override
``Session.verify`` (lab notes), so :class:`VerifyingSession` puts our choice
back after requests merged the environment.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Any

import requests
from writeback import AttemptError

__all__ = ["CA_BUNDLE_VARIABLES", "VerifyingSession", "verify_setting"]

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


class VerifyingSession(requests.Session):
    """A Session whose ``verify`` is not overridden by ``REQUESTS_CA_BUNDLE``.

    Proxies and the rest of the environment still apply (``trust_env`` stays on).
    """

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings["verify"] = self.verify
        return settings
