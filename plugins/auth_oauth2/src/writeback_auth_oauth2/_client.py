"""One client credentials token request with authlib, over httpx or requests.

Either way the request follows no redirect (one fails it, WB-312, naming where
it pointed: followed, it would send the secret along), reads at most 1 MiB of
the answer, and ends at its deadline, the connector's ``timeout``: over httpx
authlib's async client runs under ``asyncio.timeout``
(:func:`writeback.plugin.run_with_deadline`), as the json format runs an
attempt; over requests the session's connections are cut at the deadline
(:func:`writeback.plugin.token_deadline`), as the soap format's are.

authlib's ``client_secret_basic`` puts ``id:secret`` in the Basic header as
they are; RFC 6749 §2.3.1 says to form-url-encode each first, and a strict
server then fails a secret holding ``+``, ``/``, ``=``, ``%`` or a space.
:func:`encode_client_secret_basic` does it right and is registered on the
authlib client in place of authlib's own.
"""

from __future__ import annotations

import base64
import threading
import warnings
from typing import Any
from urllib.parse import quote_plus

from writeback.plugin import (
    AttemptError,
    Token,
    add_basic_secret,
    bad_token_answer,
    run_with_deadline,
    token_adapter,
    token_connection_error,
    token_deadline,
    token_error_from_cause,
    token_event_hooks,
    token_http_error,
    token_oauth_error,
    token_timeout,
)

from ._tls import requests_verify, ssl_context

__all__ = ["encode_client_secret_basic", "fetch_with_httpx", "fetch_with_requests"]

_import_lock = threading.Lock()


def encode_client_secret_basic(
    client: Any, method: str, uri: str, headers: dict[str, str], body: str
) -> tuple[str, dict[str, str], str]:
    """authlib client auth method: RFC 6749 §2.3.1 Basic, each part form-url-encoded first."""
    user = quote_plus(client.client_id, safe="")
    password = quote_plus(client.client_secret or "", safe="")
    # A token endpoint may quote the header back in its error_description.
    add_basic_secret(user, password)
    headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return uri, headers, body


def _authlib_httpx_client() -> type:
    """authlib's async httpx client class, its httpx deprecation warning handled.

    authlib 1.9 warns once, on import, that plain httpx is deprecated in favour of
    its fork ``httpx2`` (and uses httpx2 instead when installed).  writeback sends
    with httpx on purpose (the formats' transport), so that one warning is expected and
    silenced here, precisely, and nowhere else.
    """
    with _import_lock, warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"The httpx module is deprecated", category=DeprecationWarning
        )
        from authlib.integrations.httpx_client import AsyncOAuth2Client

    return AsyncOAuth2Client


def fetch_with_httpx(
    *,
    token_url: str,
    client_id: str,
    client_secret: str,
    scope: str | None,
    client_auth: str,
    timeout: float,
) -> Token:
    """Ask ``token_url`` for a token with authlib's httpx client, within ``timeout`` in all."""
    import httpx
    from authlib.integrations.base_client import OAuthError

    client_class = _authlib_httpx_client()
    statuses: list[int] = []
    verify = ssl_context()

    async def fetch() -> Any:
        async with client_class(
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method=client_auth,
            scope=scope,
            timeout=timeout,
            verify=verify,
            follow_redirects=False,
            headers={"Accept-Encoding": "identity"},
            event_hooks=token_event_hooks(),
        ) as client:
            client.register_client_auth_method(("client_secret_basic", encode_client_secret_basic))
            client.register_compliance_hook("access_token_response", _noting(statuses))
            return await client.fetch_token(token_url, grant_type="client_credentials")

    try:
        answer = run_with_deadline(fetch, timeout, token_url)
    except OAuthError as exc:
        raise _refused(exc, token_url, client_id, statuses) from None
    except httpx.HTTPStatusError as exc:
        raise token_http_error(exc.response.status_code, url=token_url) from None
    except httpx.TimeoutException:
        raise token_timeout(token_url, timeout) from None
    except httpx.TransportError as exc:
        raise _connection_error(token_url, exc) from None
    except ValueError as exc:
        raise bad_token_answer(token_url, str(exc).rstrip(".")) from None
    return _token(answer, token_url, scope)


def fetch_with_requests(
    *,
    token_url: str,
    client_id: str,
    client_secret: str,
    scope: str | None,
    client_auth: str,
    timeout: float,
) -> Token:
    """Ask ``token_url`` for a token with authlib's requests session, within ``timeout`` in all."""
    try:
        import requests
    except ImportError:  # pragma: no cover - the requests transport's format brings it
        raise AttemptError(
            "the oauth2 auth method needs requests for this connector's transport; "
            "run 'pip install \"writeback-auth-oauth2[requests]\"'.",
            code="WB-319",
        ) from None
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.requests_client import OAuth2Session

    statuses: list[int] = []
    try:
        with (
            token_deadline(timeout),
            OAuth2Session(
                client_id=client_id,
                client_secret=client_secret,
                token_endpoint_auth_method=client_auth,
                scope=scope,
            ) as session,
        ):
            adapter = token_adapter()
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.register_client_auth_method(("client_secret_basic", encode_client_secret_basic))
            session.register_compliance_hook("access_token_response", _noting(statuses))
            answer = session.fetch_token(
                token_url,
                grant_type="client_credentials",
                timeout=timeout,
                verify=requests_verify(),
                allow_redirects=False,
            )
    except OAuthError as exc:
        raise _refused(exc, token_url, client_id, statuses) from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        raise token_http_error(status, url=token_url) from None
    except requests.Timeout:
        raise token_timeout(token_url, timeout) from None
    except requests.ConnectionError as exc:
        raise _connection_error(token_url, exc) from None
    except ValueError as exc:
        raise bad_token_answer(token_url, str(exc).rstrip(".")) from None
    return _token(answer, token_url, scope)


def _refused(exc: Any, token_url: str, client_id: str, statuses: list[int]) -> AttemptError:
    """An authlib ``OAuthError`` (the endpoint's RFC 6749 error answer), either transport."""
    return token_oauth_error(
        exc.error or "error",
        exc.description,
        url=token_url,
        client_id=client_id,
        status=statuses[-1] if statuses else None,
    )


def _noting(statuses: list[int]) -> Any:
    def hook(response: Any) -> Any:
        statuses.append(response.status_code)
        return response

    return hook


def _token(answer: Any, token_url: str, scope: str | None) -> Token:
    try:
        return Token.from_response(dict(answer), requested_scope=scope)
    except ValueError as exc:
        raise bad_token_answer(token_url, str(exc)) from None


def _connection_error(token_url: str, exc: BaseException) -> AttemptError:
    """The root cause in a few words: an untrusted certificate, or the OS error."""
    found = token_error_from_cause(token_url, exc)
    return found or token_connection_error(token_url, type(exc).__name__)
