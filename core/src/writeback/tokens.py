"""The token toolkit for auth plugins: ``from writeback.tokens import …``.

:class:`Token`, :class:`TokenSource` and :class:`TokenAuthMechanismBase` (also
exported by ``writeback``), and the helpers that turn token endpoint failures
into attempt errors with the stable codes WB-310 … WB-319 (docs/tokens.md).
"""

from __future__ import annotations

from ._token_auth import TokenAuthMechanismBase, token_key
from ._token_errors import (
    bad_token_answer,
    endpoint_of,
    token_connection_error,
    token_error_from_cause,
    token_http_error,
    token_oauth_error,
    token_timeout,
    token_tls_error,
)
from ._tokens import (
    DEFAULT_LIFETIME,
    MAX_LEEWAY,
    Token,
    TokenSource,
    leeway_for,
    note_token_used,
    token_used,
)

__all__ = [
    "DEFAULT_LIFETIME",
    "MAX_LEEWAY",
    "Token",
    "TokenAuthMechanismBase",
    "TokenSource",
    "bad_token_answer",
    "endpoint_of",
    "leeway_for",
    "note_token_used",
    "token_connection_error",
    "token_error_from_cause",
    "token_http_error",
    "token_key",
    "token_oauth_error",
    "token_timeout",
    "token_tls_error",
    "token_used",
]
