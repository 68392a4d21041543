"""The base of token-based auth mechanisms, and the bearer auth objects they hand out.

A plugin subclasses :class:`TokenAuthMechanismBase` and implements
:meth:`~TokenAuthMechanismBase.fetch_token` (one blocking token request) and
:meth:`~TokenAuthMechanismBase.token_identity`; the base wires the fetch into a
:class:`~writeback.plugin.TokenSource`, gives each attempt a :class:`BearerAuth`
(``Authorization: Bearer …``, so every transport can send it), which after a 401
invalidates exactly the token it attached, and describes the token for
``connectors test``.

httpx and requests are imported only when an old format asks for their auth
object (:meth:`TokenAuthMechanismBase.for_transport`): the core depends on neither.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._attempt_auth import AttemptAuth
from ._interfaces import AuthMechanismBase, Settings
from ._tokens import Token, TokenSource

if TYPE_CHECKING:
    from ._interfaces import PipelineContext

__all__ = ["BearerAuth", "TokenAuthMechanismBase", "token_key"]


def token_key(context: PipelineContext, identity: Mapping[str, Any]) -> str:
    """The key a connector's token is shared under: its name, auth method and a hash of
    the settings that make a token different (endpoint, client, scope), so that a row
    changed to other credentials never reuses the old token."""
    method = context.connector.auth_method
    digest = hashlib.sha256(
        json.dumps([method, dict(identity)], sort_keys=True, default=str).encode()
    ).hexdigest()[:16]
    return f"{context.connector.name[:150]}|{method}|{digest}"


class BearerAuth(AttemptAuth):
    """One attempt's bearer token; after a 401 it replaces exactly that token, once."""

    def __init__(self, source: TokenSource, token: Token) -> None:
        self.source = source
        #: The token this attempt attaches (after a refresh, the fresh one).
        self.token = token
        self._refreshed = False

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": _header(self.token)}

    async def refresh_after_401(self) -> bool:
        """Invalidate the attached token (compare-and-swap: however many attempts got
        a 401 with it, one new token is fetched) and attach the next one."""
        if self._refreshed:
            return False
        self._refreshed = True
        if not self.source.invalidate(self.token):
            return False
        fresh = await self.source.aget()
        if fresh.access_token == self.token.access_token:
            return False  # the endpoint refused the token the source still hands out
        self.token = fresh
        return True

    def __repr__(self) -> str:
        return f"BearerAuth({self.token!r})"


class TokenAuthMechanismBase(AuthMechanismBase[Settings]):
    """An auth mechanism that sends a bearer token from a single-flight token source."""

    #: Longest a token fetch may take, in seconds: the connector's timeout
    #: (``context.timeout``, the deadline of a whole attempt), since a fetch is part
    #: of the attempt.
    request_timeout: float = 30.0

    def __init__(self, context: PipelineContext) -> None:
        super().__init__(context)
        self.request_timeout = float(context.timeout)
        self.source = TokenSource(
            self.fetch_token,
            key=token_key(context, self.token_identity()),
            store=context.token_store,
            request_timeout=self.request_timeout,
        )

    # -- what a plugin implements ----------------------------------------------------

    def fetch_token(self) -> Token:
        """Make one token request and return the token (blocking; runs in a thread).

        Within :attr:`request_timeout` in all, following no redirect, reading at
        most 1 MiB of an answer: :func:`writeback.tokens.token_adapter` and
        :func:`~writeback.tokens.token_deadline` (requests), or
        :func:`~writeback.tokens.token_event_hooks` and
        :func:`~writeback.tokens.run_with_deadline` (httpx) do it.

        :raises AttemptError: for every failure, built with the helpers of
            :mod:`writeback.token_errors` so that the codes agree across plugins.
        """
        raise NotImplementedError

    def token_identity(self) -> Mapping[str, Any]:
        """The non-secret settings that make a token different (endpoint, client id, scope)."""
        raise NotImplementedError

    def token_endpoint(self) -> str:
        """The token endpoint's URL, for ``connectors test``."""
        raise NotImplementedError

    # -- what the pipeline calls ------------------------------------------------------

    async def attempt_auth(self) -> BearerAuth:
        """The attempt's token, fetched if none is fresh (the fetch runs in a thread)."""
        return BearerAuth(self.source, await self.source.aget())

    def for_transport(self, transport: str) -> Any:
        """Deprecated, for formats written before ``send(message, auth)``: a bearer
        auth object for ``httpx`` or ``requests`` drawing on :attr:`source`.

        :raises ValueError: for another transport.
        """
        if transport == "httpx":
            return _httpx_bearer_class()(self.source)
        if transport == "requests":
            return _requests_bearer_class()(self.source)
        raise ValueError(
            f"the {self.context.connector.auth_method} auth method cannot authenticate "
            f"transport {transport!r}."
        )

    async def describe(self) -> str | None:
        """``token from host:port: Bearer, lifetime 3600 s (3598 s left), scope '…'``."""
        from ._token_errors import endpoint_of

        token = await self.source.aget()
        left = max(0.0, token.expires_at - time.time())
        scope = repr(token.scope) if token.scope else "not stated"
        return (
            f"token from {endpoint_of(self.token_endpoint())}: {token.token_type}, "
            f"lifetime {token.lifetime:.0f} s ({left:.0f} s left), scope {scope}"
        )


def _header(token: Token) -> str:
    return f"Bearer {token.access_token}"


@functools.cache
def _httpx_bearer_class() -> type:
    import httpx

    class HttpxBearer(httpx.Auth):
        """Attaches the source's token; async callers never block the event loop."""

        def __init__(self, source: TokenSource) -> None:
            self.source = source

        def sync_auth_flow(self, request: httpx.Request) -> Any:
            token = self.source.get()
            request.headers["Authorization"] = _header(token)
            yield request

        async def async_auth_flow(self, request: httpx.Request) -> Any:
            token = await self.source.aget()
            request.headers["Authorization"] = _header(token)
            yield request

    return HttpxBearer


@functools.cache
def _requests_bearer_class() -> type:
    from requests.auth import AuthBase

    class RequestsBearer(AuthBase):
        """Attaches the source's token in the calling (worker) thread."""

        def __init__(self, source: TokenSource) -> None:
            self.source = source

        def __call__(self, request: Any) -> Any:
            token = self.source.get()
            request.headers["Authorization"] = _header(token)
            return request

    return RequestsBearer
