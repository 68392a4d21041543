"""Token endpoint failures as attempt errors with stable codes (WB-310 … WB-319).

Shared by every token-based auth method so that ``oauth2`` and ``entra`` fail
alike (docs/tokens.md): the credentials, the scope or the request refused → the
delivery fails and goes dead (asking again cannot help); 5xx, timeouts and
connection errors → retry; a redirect fails, naming where it pointed (no token
request follows one: the secret would go along).  The sentences name the
endpoint's host and the client id, never the secret (and the pipeline removes
any revealed secret that a server echoes back).
"""

from __future__ import annotations

import os
import ssl

from ._errors import AttemptError
from ._outcome import ANSWER_LIMIT, exception_chain, redirect_target
from ._outcome import endpoint_of as _endpoint_of
from ._redaction import ELLIPSIS, REDACTOR

__all__ = [
    "bad_token_answer",
    "endpoint_of",
    "token_answer_too_long",
    "token_connection_error",
    "token_error_from_cause",
    "token_http_error",
    "token_oauth_error",
    "token_redirected",
    "token_timeout",
    "token_tls_error",
]

#: OAuth2 error codes (RFC 6749 §5.2) that mean the client's credentials are wrong.
CREDENTIAL_ERRORS = frozenset({"invalid_client", "unauthorized_client"})


def endpoint_of(url: str) -> str:
    """``host:port`` of the token endpoint ``url``."""
    return _endpoint_of(url, "the token endpoint")


#: Longest ``error_description`` kept in an attempt error.
DESCRIPTION_LIMIT = 300


def _detail(error: str, description: str | None) -> str:
    description = " ".join((description or "").split())
    # Redacted before it is cut: a cut could leave the start of a quoted secret
    # in the middle of the sentence, where the redactor cannot tell it from text.
    description = REDACTOR.redact(description) or ""
    if len(description) > DESCRIPTION_LIMIT:
        description = description[: DESCRIPTION_LIMIT - 1] + ELLIPSIS
    return f"{error}: {description}" if description else error


def token_oauth_error(
    error: str, description: str | None, *, url: str, client_id: str, status: int | None = None
) -> AttemptError:
    """An OAuth2 error answer (``{"error": …}``): not retryable, the request must change;
    unless its status says the server is busy (5xx, 408, 429: Entra throttles with a 429
    carrying an OAuth2 body), which waiting cures."""
    where = endpoint_of(url)
    detail = _detail(error, description)
    if status is not None and (status >= 500 or status in (408, 429)):
        return token_http_error(status, url=url, detail=detail)
    if error in CREDENTIAL_ERRORS:
        return AttemptError(
            f"the token endpoint {where} refused the credentials of client {client_id!r} "
            f"({detail}); check auth.client_id and auth.client_secret.",
            code="WB-310",
        )
    if error == "invalid_scope":
        return AttemptError(
            f"the token endpoint {where} refused the scope asked for by client {client_id!r} "
            f"({detail}); check auth.scope.",
            code="WB-311",
        )
    return AttemptError(
        f"the token endpoint {where} refused the token request of client {client_id!r} "
        f"({detail}); check the auth settings.",
        code="WB-312",
    )


def token_http_error(status: int, *, url: str, detail: str | None = None) -> AttemptError:
    """An HTTP error without an OAuth2 error body: 5xx (and 408/429) retry, other 4xx fail."""
    where = endpoint_of(url)
    suffix = f": {detail}" if detail else ""
    if status >= 500 or status in (408, 429):
        return AttemptError(
            f"the token endpoint {where} answered HTTP {status}{suffix}; will try again.",
            code="WB-313",
            retryable=True,
        )
    return AttemptError(
        f"the token endpoint {where} answered HTTP {status}{suffix}; check auth.token_url "
        "(or auth.authority and auth.tenant_id).",
        code="WB-312",
    )


def token_redirected(url: str, status: int, location: str | None) -> AttemptError:
    """A redirect from the token endpoint: not followed, failed (a misconfiguration).

    Followed, it would send the client secret again to wherever ``location``
    points: another host, or plain ``http://``.  The sentence names where,
    without user-info or query (:func:`writeback._outcome.redirect_target`).
    """
    return AttemptError(
        f"the token endpoint {endpoint_of(url)} answered HTTP {status}: redirected to "
        f"{redirect_target(location, url)} (redirects are not followed); check "
        "auth.token_url (or auth.authority and auth.tenant_id).",
        code="WB-312",
    )


def token_answer_too_long(url: str, status: int) -> AttemptError:
    """An answer longer than :data:`~writeback._outcome.ANSWER_LIMIT`, left unread
    after it: judged by its status (a 2xx holds no usable token, 5xx retry)."""
    why = f"the answer is longer than {ANSWER_LIMIT // (1024 * 1024)} MiB, not read further"
    if 200 <= status < 300:
        return bad_token_answer(url, why)
    return token_http_error(status, url=url, detail=why)


def token_timeout(url: str, seconds: float) -> AttemptError:
    """No complete answer from the token endpoint within the fetch's deadline: retry."""
    return AttemptError(
        f"the token endpoint {endpoint_of(url)} gave no complete answer within {seconds:g} s; "
        "will try again.",
        code="WB-314",
        retryable=True,
    )


def token_connection_error(url: str, reason: str) -> AttemptError:
    """The token endpoint could not be reached (refused, DNS, TLS): retry.

    An untrusted TLS certificate is retried too, like every connection failure
    (docs/tokens.md): trusting the CA (``SSL_CERT_FILE``/``REQUESTS_CA_BUNDLE``)
    lets the next attempt through.
    """
    return AttemptError(
        f"the token endpoint {endpoint_of(url)} could not be reached: {reason}; will try again.",
        code="WB-315",
        retryable=True,
    )


def token_tls_error(url: str, reason: str) -> AttemptError:
    """The token endpoint's TLS certificate is not trusted: retry, and say how to trust it."""
    return AttemptError(
        f"the token endpoint {endpoint_of(url)} could not be reached: TLS certificate not "
        f"trusted ({reason}); add its CA to the bundle named by SSL_CERT_FILE or "
        "REQUESTS_CA_BUNDLE. Will try again.",
        code="WB-316",
        retryable=True,
    )


def token_error_from_cause(url: str, exc: BaseException) -> AttemptError | None:
    """WB-316 or WB-315 from the root cause of an HTTP library's connection error.

    Looks through ``exc``'s chain (``__cause__``, ``__context__``, and the
    exceptions requests and urllib3 keep in ``args`` and ``reason``) for an
    untrusted certificate (:func:`token_tls_error`) or an OS error
    (:func:`token_connection_error` with ``[Errno N] text``).  ``None`` when
    neither is there: the caller says what it knows (the exception's type).
    """
    for cause in exception_chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return token_tls_error(url, cause.verify_message or str(cause))
        if isinstance(cause, OSError) and cause.errno is not None and cause.strerror:
            # The platform's wording for a positive errno: asyncio's is "Connect call
            # failed ('host', port)"; getaddrinfo's negative codes only have strerror.
            reason = os.strerror(cause.errno) if cause.errno > 0 else cause.strerror
            return token_connection_error(url, f"[Errno {cause.errno}] {reason}")
    return None


def bad_token_answer(url: str, why: str) -> AttemptError:
    """A success answer that holds no usable token (e.g. ``token_url`` is not a token endpoint)."""
    return AttemptError(
        f"the token endpoint {endpoint_of(url)} answered without a usable token ({why}); "
        "check auth.token_url (or auth.authority).",
        code="WB-317",
    )
