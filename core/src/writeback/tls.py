"""Which CAs an HTTP path trusts: ``from writeback.tls import …``.

TLS is always verified, and the standard CA bundle variables are honoured by
every HTTP path, ``SSL_CERT_FILE`` then ``REQUESTS_CA_BUNDLE``, the first one
set winning.  httpx reads only the first and requests only the second (which it
also lets override a session's ``verify``), so a plugin asks here and hands its
library the answer; one setting then covers every format, token endpoint and
back office whatever the transport.  Plugin authors read about it in
docs/plugin-authoring.md, "TLS: honouring the CA bundle variables".

A named bundle is loaded once before it is used: a missing or unreadable bundle
becomes one clear sentence (an :class:`~writeback.plugin.AttemptError`) instead of an
SSL error on every request, and the delivery fails rather than silently
trusting some other set of CAs.  Standard library only, so importing this costs
a plugin nothing.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping

from ._errors import AttemptError

__all__ = ["CA_BUNDLE_VARIABLES", "ca_bundle", "named_ca_bundle", "ssl_context"]

#: Variables naming a CA bundle (a PEM file, or a directory of hashed certificates),
#: the first one set wins.
CA_BUNDLE_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def named_ca_bundle(environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """``(variable, path)`` of the CA bundle the environment names, unchecked; else ``None``.

    An empty variable counts as unset.  ``environ`` defaults to :data:`os.environ`.
    """
    environ = os.environ if environ is None else environ
    for variable in CA_BUNDLE_VARIABLES:
        path = environ.get(variable)
        if path:
            return variable, path
    return None


def ssl_context(
    environ: Mapping[str, str] | None = None,
    *,
    code: str | None = None,
    retryable: bool | None = None,
) -> ssl.SSLContext | None:
    """A context trusting the named bundle, else ``None`` (the library's own default).

    For httpx, which deprecates a path string for ``verify``.

    :param code: the :class:`~writeback.plugin.AttemptError` code of a bad bundle
        (``WB-300`` when not given; token endpoints use ``WB-315``).
    :param retryable: whether that error is retried (not, when not given).
    :raises AttemptError: when the named bundle cannot be loaded.
    """
    named = named_ca_bundle(environ)
    if named is None:
        return None
    return _load(*named, code=code, retryable=retryable)


def ca_bundle(
    environ: Mapping[str, str] | None = None,
    *,
    code: str | None = None,
    retryable: bool | None = None,
) -> str | None:
    """The path of the named bundle, checked by loading it once; else ``None``.

    For requests, which takes a path for ``verify``.  ``code`` and
    ``retryable`` as for :func:`ssl_context`.

    :raises AttemptError: when the named bundle cannot be loaded.
    """
    named = named_ca_bundle(environ)
    if named is None:
        return None
    _load(*named, code=code, retryable=retryable)
    return named[1]


def _load(variable: str, path: str, *, code: str | None, retryable: bool | None) -> ssl.SSLContext:
    try:
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)
    except OSError as exc:  # ssl.SSLError included
        raise AttemptError(
            f"the CA bundle {path} named by {variable} cannot be loaded ({exc}); "
            f"point {variable} at a readable PEM bundle or unset it.",
            code=code,
            retryable=retryable,
        ) from None
