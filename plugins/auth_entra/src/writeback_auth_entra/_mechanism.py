"""The working ``entra`` mechanism: one msal application per connector, driven by the
core token source so that single-flight holds (msal takes no lock)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from writeback.plugin import (
    AttemptError,
    Token,
    TokenAuthMechanismBase,
    bad_token_answer,
    redact,
    token_deadline,
    token_http_error,
    token_oauth_error,
)

from ._http import MsalSession, transport_error
from .plugin import EntraSettings, is_microsoft_host

__all__ = ["EntraMechanism"]


class EntraMechanism(TokenAuthMechanismBase[EntraSettings]):
    """Client credentials from ``{authority}/{tenant_id}`` through msal.

    The msal application is built on the first token request (its constructor
    does HTTP: OpenID discovery), then kept for the connector; it is rebuilt only
    when an ``env:`` secret changes value.  Every token request goes to the
    authority: the core token source caches, and msal's own caches are emptied
    first, so that after a 401 a new token really is fetched.  Discovery and
    token request together end within :attr:`request_timeout` (the connector's
    ``timeout``), follow no redirect and read at most 1 MiB of each answer
    (:mod:`._http`).
    """

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._app: Any = None
        self._built_for: str | None = None
        # msal's throttle replays a 5xx for 5 s and a 400 for 60 s without asking;
        # writeback's retry schedule decides when to ask again, so it is emptied.
        self._http_cache: dict[str, Any] = {}
        self._session: MsalSession | None = None

    @property
    def authority_url(self) -> str:
        s = self.settings
        return f"{s.authority}/{s.tenant_id}"

    def token_identity(self) -> Mapping[str, Any]:
        s = self.settings
        return {"authority": self.authority_url, "client_id": s.client_id, "scope": s.scope}

    def token_endpoint(self) -> str:
        return f"{self.authority_url}/oauth2/v2.0/token"

    def _application(self, secret: str) -> Any:
        fingerprint = hashlib.sha256(secret.encode()).hexdigest()
        if self._app is not None and self._built_for == fingerprint:
            return self._app
        import msal

        s = self.settings
        host = urlsplit(s.authority).hostname or ""
        self._session = MsalSession(self.request_timeout)
        self._http_cache.clear()
        try:
            app = msal.ConfidentialClientApplication(
                s.client_id,
                client_credential=secret,
                authority=self.authority_url,
                # Instance discovery asks login.microsoftonline.com about the host:
                # right for Microsoft's hosts, wrong for a local or sovereign one.
                instance_discovery=None if is_microsoft_host(host) else False,
                http_client=self._session,
                http_cache=self._http_cache,
                token_cache=msal.TokenCache(),
            )
        except requests.RequestException as exc:
            raise transport_error(self.authority_url, exc, self.request_timeout) from None
        except ValueError as exc:
            status = self._session.last_status
            if status is not None and status >= 500:
                raise token_http_error(status, url=self.authority_url) from None
            raise AttemptError(
                f"the authority {s.authority} does not know tenant {s.tenant_id!r} or is not an "
                f"Entra authority ({_first_line(exc)}); check auth.tenant_id and auth.authority.",
                code="WB-312",
            ) from None
        except msal.exceptions.MsalServiceError:
            raise token_http_error(
                self._session.last_status or 500, url=self.authority_url
            ) from None
        finally:
            # A token is asked for once an hour or so: keeping the connection open gains nothing.
            self._session.close()
        self._app, self._built_for = app, fingerprint
        return app

    def fetch_token(self) -> Token:
        # One deadline for the discovery (on the first request) and the token request.
        with token_deadline(self.request_timeout):
            return self._fetch_token()

    def _fetch_token(self) -> Token:
        import msal

        s = self.settings
        app = self._application(self.context.reveal(s.client_secret) or "")
        url = app.authority.token_endpoint
        # Our token source decides when a token is needed; msal must not answer
        # from its own cache (it would return the token a 401 just refused).
        app.remove_tokens_for_client()
        self._http_cache.clear()
        session = self._session
        assert session is not None
        session.timeout = self.request_timeout
        try:
            result = app.acquire_token_for_client(scopes=s.scope.split())
        except requests.RequestException as exc:
            raise transport_error(url, exc, self.request_timeout) from None
        except msal.exceptions.MsalServiceError:
            raise token_http_error(session.last_status or 500, url=url) from None
        except ValueError as exc:
            raise bad_token_answer(url, _first_line(exc)) from None
        finally:
            session.close()
        if not isinstance(result, Mapping):
            raise bad_token_answer(url, "msal returned nothing")
        if "error" in result:
            raise token_oauth_error(
                str(result["error"]),
                result.get("error_description"),
                url=url,
                client_id=s.client_id,
                status=session.last_status,
            )
        try:
            return Token.from_response(result, requested_scope=s.scope)
        except ValueError as exc:
            raise bad_token_answer(url, str(exc)) from None


def _first_line(exc: BaseException) -> str:
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    # Redacted before it is cut: a secret cut in two inside a sentence would
    # keep its start, which the redactor can no longer tell from text.
    line = redact(line)
    return line if len(line) <= 200 else line[:199] + "…"


# msal logs a non-JSON token answer with its full text at ERROR; the attempt
# record already says it (WB-317), once and without the body.
logging.getLogger("msal.oauth2cli.oauth2").addFilter(
    lambda record: "not in json format" not in record.getMessage()
)
