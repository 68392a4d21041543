"""Which CAs the soap format trusts, and making requests obey that choice.

TLS is verified, and ``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE`` are
honoured, the first one set winning (:func:`writeback.plugin.ca_bundle`, so one setting
works for every format).  requests on its own reads only
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, and with ``trust_env`` on lets them
override ``Session.verify`` (a request that passes no ``verify`` of its own
gets the variable's bundle, not the Session's); and it re-reads the whole
environment for proxies on every request, a large share of a call's client
time (docs/benchmarks.md, "The soap format").  So
the format's Sessions run with ``trust_env`` off and get what the environment
says from here, read once per connector.
"""

from __future__ import annotations

from collections.abc import Mapping

from writeback.plugin import CA_BUNDLE_VARIABLES, ca_bundle

__all__ = ["CA_BUNDLE_VARIABLES", "environment_proxies", "verify_setting"]


def verify_setting(environ: Mapping[str, str] | None = None) -> str | bool:
    """The CA bundle (file or directory) named by the environment, else ``True``.

    ``True`` leaves the choice to requests (certifi's bundle).  The bundle is
    loaded once here, so a bad one is one clear sentence instead of an
    SSLError on every request.

    :raises AttemptError: when the named bundle cannot be read; the delivery
        fails rather than silently trusting some other set of CAs.
    """
    return ca_bundle(environ) or True


def environment_proxies(url: str) -> dict[str, str]:
    """The proxies the environment (``HTTPS_PROXY``, ``NO_PROXY``, …) sets for ``url``."""
    from requests.utils import get_environ_proxies

    return dict(get_environ_proxies(url))
