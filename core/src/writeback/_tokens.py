"""Access tokens: cached per connector, refreshed ahead of expiry, fetched single-flight.

Every token-based auth method (``oauth2``, ``entra``) plugs a blocking
``fetch() -> Token`` into one :class:`TokenSource` per connector.  The source
makes sure that, however many deliveries run at once, one token request is made
per token lifetime per connector:

- asyncio tasks and threads share one in-process *flight*: the first caller that
  finds no fresh token fetches, everyone else waits for its result;
- worker processes on one database share the token through the store's
  ``tokens`` table: one process holds the fetch lease, the others wait for its
  token and read it (encrypted at rest like every secret).

Neither msal nor authlib's sync client does this (each thread that finds the
token expired makes a token request of its own), and authlib's fixed 60 s leeway
re-fetches a token that lives 60 s or less on every request.  Here the leeway
scales with the lifetime.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ._errors import AttemptError
from ._secrets import REDACTOR, secret_safe_logger

if TYPE_CHECKING:
    from .store._tokens import TokenStore

__all__ = [
    "DEFAULT_LIFETIME",
    "MAX_LEEWAY",
    "Token",
    "TokenSource",
    "leeway_for",
    "remember_for_redaction",
]

log = secret_safe_logger("writeback.tokens")

#: The most a token is refreshed ahead of its expiry, in seconds.
MAX_LEEWAY = 60.0
#: Share of a token's lifetime refreshed ahead when that is less than :data:`MAX_LEEWAY`.
LEEWAY_SHARE = 0.10
#: Lifetime assumed for a token answer without ``expires_in`` (RFC 6749 §5.1 makes it
#: optional).  authlib treats such a token as immortal; an hour is what Entra and most
#: servers issue, and a 401 before then still gets one fresh token.
DEFAULT_LIFETIME = 3600.0
#: How long after its expiry a token is still removed from texts.  An expired token
#: opens nothing, and forgetting it keeps the redactor's list to the live tokens.
REDACT_AFTER_EXPIRY = 3600.0


def remember_for_redaction(token: Token) -> None:
    """Have every error text and log record drop ``token`` (a server may quote it back)."""
    REDACTOR.add(token.access_token, until=token.expires_at + REDACT_AFTER_EXPIRY)


def leeway_for(lifetime: float) -> float:
    """Seconds before expiry at which a token of ``lifetime`` seconds is refreshed.

    ``min(60 s, 10% of the lifetime)``: an hour-long token is refreshed a minute
    early, a 30 s token 3 s early, so that a short-lived token is still reused
    for 90% of its life instead of being fetched again for every request.
    """
    return min(MAX_LEEWAY, LEEWAY_SHARE * max(lifetime, 0.0))


@dataclass(frozen=True)
class Token:
    """An access token and what is known about it; its ``repr`` never shows the token."""

    #: The token itself: sent as ``Authorization: Bearer …``, never logged nor printed.
    access_token: str = field(repr=False)
    #: When it expires, in unix seconds.
    expires_at: float
    #: When it was obtained, in unix seconds.
    obtained_at: float
    #: The scope granted (the server's answer, else what was asked for).
    scope: str | None = None
    #: The token type of the answer; only ``Bearer`` is accepted.
    token_type: str = "Bearer"
    #: Which fetch under this connector's key produced it (compare-and-swap on a 401).
    generation: int = 0

    def __repr__(self) -> str:
        return (
            f"Token(token_type={self.token_type!r}, scope={self.scope!r}, "
            f"lifetime={self.lifetime:.0f}s, generation={self.generation}, access_token='***')"
        )

    @property
    def lifetime(self) -> float:
        return self.expires_at - self.obtained_at

    @property
    def refresh_at(self) -> float:
        """From this time on, the next request fetches a new token."""
        return self.expires_at - leeway_for(self.lifetime)

    @property
    def usable_until(self) -> float:
        """While another request is fetching, this token may still be sent until then."""
        return self.expires_at - leeway_for(self.lifetime) / 2

    @classmethod
    def from_response(
        cls,
        data: Mapping[str, Any],
        *,
        requested_scope: str | None = None,
        now: float | None = None,
    ) -> Token:
        """A token from a token endpoint's JSON answer (RFC 6749 §5.1).

        :raises ValueError: when the answer holds no usable bearer token; the
            message says what is missing and never quotes the token.
        """
        now = time.time() if now is None else now
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("the answer has no access_token")
        token_type = str(data.get("token_type") or "Bearer")
        if token_type.lower() != "bearer":
            raise ValueError(f"token_type {token_type!r} is not supported; only Bearer is")
        raw = data.get("expires_in")
        try:
            lifetime = float(raw) if raw is not None else DEFAULT_LIFETIME
        except (TypeError, ValueError):
            raise ValueError(f"expires_in {raw!r} is not a number of seconds") from None
        scope = data.get("scope")
        if isinstance(scope, list):  # some servers answer a list despite RFC 6749 §3.3
            scope = " ".join(str(s) for s in scope)
        return cls(
            access_token=access,
            token_type="Bearer",
            scope=str(scope) if scope else requested_scope,
            obtained_at=now,
            expires_at=now + max(lifetime, 1.0),
        )


def _owner_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{os.urandom(4).hex()}"


class TokenSource:
    """One connector's token: cached, refreshed ahead of expiry, fetched single-flight.

    :param fetch: makes one token request and returns the token, or raises
        :class:`AttemptError` (see :mod:`writeback._token_errors`).  It blocks; async
        callers run it in a thread of its own.
    :param key: identifies the connector and the credentials the token is for; the
        store shares tokens between processes by it.
    :param store: the database's token store (``PipelineContext.token_store``);
        without one the token is shared only within this process.
    :param request_timeout: the longest one token request may take; another process
        holding the fetch lease is waited for about as long.
    :param failure_hold: seconds a failed request's error is given to callers
        without asking again, so that a burst of deliveries with a wrong secret
        makes one request, not one each.
    """

    def __init__(
        self,
        fetch: Callable[[], Token],
        *,
        key: str,
        store: TokenStore | None = None,
        request_timeout: float = 30.0,
        failure_hold: float = 2.0,
    ) -> None:
        self._fetch = fetch
        self.key = key
        self._store = store
        self.request_timeout = request_timeout
        self.failure_hold = failure_hold
        self._owner = _owner_name()
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._flight: concurrent.futures.Future[Token] | None = None
        self._failure: tuple[float, AttemptError] | None = None
        self._generation = 0
        #: Token requests this source made itself (the store may have served others).
        self.requests = 0

    # -- getting a token ------------------------------------------------------------

    def _plan(self) -> tuple[Token | None, concurrent.futures.Future[Token] | None, bool]:
        """The cached token, or the flight to wait for and whether this caller leads it."""
        now = time.time()
        with self._lock:
            token = self._token
            if token is not None and now < token.refresh_at:
                return token, None, False
            if self._flight is not None:
                if token is not None and now < token.usable_until:
                    return token, None, False
                return None, self._flight, False
            if self._failure is not None and now < self._failure[0]:
                raise _copy(self._failure[1])
            self._flight = concurrent.futures.Future()
            return None, self._flight, True

    def get(self) -> Token:
        """A valid token, fetching one if needed (blocks; for threads)."""
        token, flight, leader = self._plan()
        if token is not None:
            return token
        assert flight is not None
        if leader:
            self._lead(flight)
        try:
            return flight.result()
        except AttemptError as exc:
            raise _copy(exc) from None

    async def aget(self) -> Token:
        """A valid token, fetching one if needed (for asyncio tasks)."""
        token, flight, leader = self._plan()
        if token is not None:
            return token
        assert flight is not None
        if leader:
            # A thread of its own, not the default executor: threads of a requests
            # transport may fill that pool while they wait for this very flight.
            threading.Thread(target=self._lead, args=(flight,), daemon=True).start()
        try:
            return await asyncio.wrap_future(flight)
        except AttemptError as exc:
            raise _copy(exc) from None

    def _lead(self, flight: concurrent.futures.Future[Token]) -> None:
        try:
            token = self._obtain()
        except AttemptError as exc:
            error = exc
        except Exception as exc:  # a plugin bug must reach the attempt record
            log.exception("token source %s: unexpected error", self.key)
            error = AttemptError(
                f"the token could not be obtained: internal error {exc!r}", code="WB-319"
            )
        else:
            # Whether fetched or read from the store: every token handed out.
            remember_for_redaction(token)
            with self._lock:
                self._token, self._failure, self._flight = token, None, None
            flight.set_result(token)
            return
        with self._lock:
            self._failure = (time.time() + self.failure_hold, error)
            self._flight = None
        flight.set_exception(error)

    def _request(self) -> Token:
        self.requests += 1
        token = self._fetch()
        # At once: storing it may fail, with a text of its own.
        remember_for_redaction(token)
        return token

    def _obtain(self) -> Token:
        """Fetch a token, or take the one another process is fetching or has stored."""
        store = self._store
        if store is None:
            token = self._request()
            self._generation += 1
            return replace(token, generation=self._generation)
        from sqlalchemy.exc import SQLAlchemyError

        lease = self.request_timeout + 10.0
        deadline = time.monotonic() + 2 * lease
        delay = 0.01
        try:
            while True:
                shared = store.read(self.key)
                if shared.token is not None and time.time() < shared.token.refresh_at:
                    return shared.token
                if store.acquire(self.key, self._owner, lease):
                    return self._fetch_leased(store)
                if shared.token is not None and time.time() < shared.token.usable_until:
                    return shared.token
                if time.monotonic() > deadline:
                    raise AttemptError(
                        f"another process has held the token request for {self.key!r} "
                        f"for over {2 * lease:g} s; will try again.",
                        code="WB-318",
                        retryable=True,
                    )
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        except SQLAlchemyError as exc:
            raise AttemptError(
                f"the shared token could not be read or stored in the database: {exc}",
                code="WB-318",
                retryable=True,
            ) from None

    def _fetch_leased(self, store: TokenStore) -> Token:
        try:
            # Another process may have stored a token between our read and our lease.
            shared = store.read(self.key)
            if shared.token is not None and time.time() < shared.token.refresh_at:
                store.release(self.key, self._owner)
                return shared.token
            token = self._request()
        except BaseException:
            store.release(self.key, self._owner)
            raise
        generation = store.put(self.key, self._owner, token)
        return replace(token, generation=generation if generation is not None else -1)

    # -- after a 401 -----------------------------------------------------------------

    def invalidate(self, token: Token) -> bool:
        """Forget ``token`` after the endpoint answered 401 to it (compare-and-swap).

        Only the first caller holding that exact token drops it; the next
        :meth:`get` then fetches one new token, however many requests got the
        401.  A token already replaced is left alone.  The caller knows which
        token it sent: the attempt's :class:`~writeback._token_auth.BearerAuth`
        holds it.

        :returns: True when a resend is worthwhile (the token is no longer current).
        """
        with self._lock:
            current = self._token
            if current is not None and current.access_token == token.access_token:
                self._token = None
            elif current is not None:
                return True  # already replaced by a fresh token
        if self._store is not None and token.generation > 0:
            try:
                self._store.invalidate(self.key, token.generation)
            except Exception as exc:  # the resend will tell; never lose the attempt over it
                log.warning("token %s could not be invalidated in the database: %s", self.key, exc)
        return True

    def peek(self) -> Token | None:
        """The cached token without fetching (for tests and ``describe``)."""
        with self._lock:
            return self._token


def _copy(exc: AttemptError) -> AttemptError:
    # Each waiter raises its own instance: one exception object raised in many
    # tasks and threads at once would collect their tracebacks into one another.
    clone = copy.copy(exc)
    clone.__traceback__ = None
    return clone
