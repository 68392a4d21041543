"""``requests`` auth for ``WWW-Authenticate: Negotiate`` (RFC 4559) on top of pyspnego.

Driven the way requests-ntlm drives NTLM: a request goes out without
credentials; on a 401 that offers Negotiate the response hook reads and
releases the answer, then resends the request with each token on the same
connection (``response.connection.send``) until the server stops
challenging.  Kerberos completes in one leg and the server proves itself with
a mutual-authentication token in the final answer's ``WWW-Authenticate``,
which is verified here; NTLM inside Negotiate takes two or three legs.

The server keeps an authenticated connection authenticated (IIS, Business
Central/NAV and the simulators do), so a connection costs one handshake and
later requests on it are sent with no ``Authorization`` header at all: at most
one handshake per connection, however many requests.  No state is kept per
connection here, which is what makes that safe with a pool: a connection the
server does not know answers 401 and gets its own handshake.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import spnego
from requests.auth import AuthBase
from spnego.exceptions import SpnegoError
from writeback.plugin import AttemptError, secret_safe_logger

from ._handshake import (
    HANDSHAKE_BROKEN,
    HandshakeCounter,
    challenge_token,
    discard,
    login_refused,
    offers,
    remember_sent,
    rewind_body,
)

__all__ = ["HttpNegotiateAuth"]

log: logging.Logger = secret_safe_logger("writeback.auth.windows")

#: A handshake that needs more legs than this is going round in circles.
MAX_LEGS = 5

Credentials = Callable[[], list[spnego.Credential]]


class HttpNegotiateAuth(AuthBase):
    """Answers ``Negotiate`` challenges with tokens from ``spnego.client``.

    ``credentials`` is called at the start of each handshake and returns the
    pyspnego credentials to offer (a Kerberos ticket cache and/or an NT hash);
    it may raise :class:`~writeback.plugin.AttemptError` (the KDC refused, or is
    down). ``username`` is only for messages. ``counter`` counts handshakes.
    ``refused`` makes the error for a 401 after a complete handshake (default:
    :func:`login_refused`), so the mechanism can say why it offered NTLM only.
    """

    scheme = "Negotiate"

    def __init__(
        self,
        username: str,
        credentials: Credentials,
        *,
        counter: HandshakeCounter | None = None,
        service: str = "HTTP",
        refused: Callable[[], AttemptError] | None = None,
    ) -> None:
        self.username = username
        self.refused = refused or (lambda: login_refused("Negotiate", username))
        self.credentials = credentials
        self.counter = counter if counter is not None else HandshakeCounter()
        self.service = service
        #: The protocol the last handshake settled on (``kerberos`` or ``ntlm``).
        self.negotiated_protocol: str | None = None

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        # The handshake authenticates this connection: it must stay open.
        request.headers["Connection"] = "Keep-Alive"
        request.register_hook("response", self._on_response)
        return request

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or not offers(response, self.scheme):
            return response
        if "Authorization" in response.request.headers:
            # Already answered with a token (by the caller): nothing more to try.
            return response
        return self._handshake(response, kwargs)

    def _handshake(
        self, response: requests.Response, send_kwargs: dict[str, Any]
    ) -> requests.Response:
        # The SPN is HTTP/<host as written in the URI>: no DNS canonicalisation here.
        host = urlsplit(response.url).hostname or ""
        credentials = self.credentials()  # may raise AttemptError: no handshake started
        self.counter.start()
        try:
            context = spnego.client(
                credentials, hostname=host, service=self.service, protocol="negotiate"
            )
            token = context.step()
        except SpnegoError as exc:
            self.counter.fail()
            raise _broken(f"could not start the Negotiate handshake with {host} ({exc})") from None
        history = [*response.history]
        answer = response
        in_token: bytes | None = None
        for _ in range(MAX_LEGS):
            history.append(answer)
            answer = self._resend(answer, token, send_kwargs)
            in_token = challenge_token(answer, self.scheme)
            if answer.status_code != 401 or in_token is None or context.complete:
                break
            try:
                token = context.step(in_token)
            except SpnegoError as exc:
                self.counter.fail()
                discard(answer)
                raise _broken(f"the server's Negotiate token did not verify ({exc})") from None
            if token is None:
                break
        else:
            self.counter.fail()
            discard(answer)
            raise _broken(f"the Negotiate handshake with {host} took more than {MAX_LEGS} legs")
        answer.history = history
        if answer.status_code == 401:
            self.counter.fail()
            discard(answer)
            raise self.refused()
        if in_token is not None and not context.complete:
            # The final answer's token: Kerberos mutual authentication (the server
            # proves it holds the service key) or SPNEGO's closing mechListMIC.
            try:
                context.step(in_token)
            except SpnegoError as exc:
                self.counter.fail()
                discard(answer)
                raise _broken(f"the server {host} could not prove its identity ({exc})") from None
        self.negotiated_protocol = context.negotiated_protocol
        self.counter.complete()
        log.debug(
            "Negotiate (%s) handshake with %s as %s done",
            self.negotiated_protocol,
            host,
            self.username,
        )
        return answer

    def _resend(
        self, response: requests.Response, token: bytes | None, send_kwargs: dict[str, Any]
    ) -> requests.Response:
        # Read and release the answer so that the pool hands the same connection back.
        _ = response.content
        response.raw.release_conn()
        request = response.request.copy()
        rewind_body(request)
        if response.headers.get("set-cookie"):
            # Some servers keep handshake state in a cookie (as requests-ntlm does).
            request.headers["Cookie"] = response.headers["set-cookie"]
        request.headers["Authorization"] = (
            f"{self.scheme} {base64.b64encode(token or b'').decode()}"
        )
        remember_sent(request.headers["Authorization"])
        adapter = response.connection  # type: ignore[attr-defined]  # set by HTTPAdapter
        sent: requests.Response = adapter.send(request, **send_kwargs)
        return sent


def _broken(detail: str) -> AttemptError:
    return AttemptError(f"Windows authentication failed: {detail}.", code=HANDSHAKE_BROKEN)
