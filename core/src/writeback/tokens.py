"""The token toolkit for auth plugins: ``from writeback.tokens import …``.

:class:`Token`, :class:`TokenSource` and :class:`TokenAuthMechanismBase` (also
exported by ``writeback``), the helpers that turn token endpoint failures
into attempt errors with the stable codes WB-310 … WB-319, and the pieces that
keep a token request to the formats' rules: no redirect followed, at most 1 MiB
of an answer read, one deadline for the whole fetch (docs/tokens.md).
"""

from __future__ import annotations

from ._token_auth import BearerAuth, TokenAuthMechanismBase, token_key
from ._token_errors import (
    bad_token_answer,
    endpoint_of,
    token_answer_too_long,
    token_connection_error,
    token_error_from_cause,
    token_http_error,
    token_oauth_error,
    token_redirected,
    token_timeout,
    token_tls_error,
)
from ._token_http import (
    TokenDeadline,
    is_redirect,
    run_with_deadline,
    token_adapter,
    token_deadline,
    token_event_hooks,
)
from ._tokens import (
    DEFAULT_LIFETIME,
    MAX_LEEWAY,
    Token,
    TokenSource,
    leeway_for,
)

__all__ = [
    "DEFAULT_LIFETIME",
    "MAX_LEEWAY",
    "BearerAuth",
    "Token",
    "TokenAuthMechanismBase",
    "TokenDeadline",
    "TokenSource",
    "bad_token_answer",
    "endpoint_of",
    "is_redirect",
    "leeway_for",
    "run_with_deadline",
    "token_adapter",
    "token_answer_too_long",
    "token_connection_error",
    "token_deadline",
    "token_error_from_cause",
    "token_event_hooks",
    "token_http_error",
    "token_key",
    "token_oauth_error",
    "token_redirected",
    "token_timeout",
    "token_tls_error",
]
