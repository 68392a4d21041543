"""``requests`` auth for ``WWW-Authenticate: NTLM``: requests-ntlm, counted and with clear errors.

requests-ntlm already does what NTLM needs (three legs on one connection,
channel binding over https, the connection kept authenticated afterwards);
this subclass counts handshakes and turns its two dead ends into attempt
errors with a sentence: a 401 after the third leg (a wrong password) and a
server that does not continue the handshake.
"""

from __future__ import annotations

from typing import Any

import requests
from requests_ntlm import HttpNtlmAuth
from spnego.exceptions import SpnegoError
from writeback.plugin import AttemptError

from ._handshake import (
    HANDSHAKE_BROKEN,
    HandshakeCounter,
    discard,
    login_refused,
    remember_sent,
)

__all__ = ["CountingNtlmAuth"]


class CountingNtlmAuth(HttpNtlmAuth):
    """:class:`requests_ntlm.HttpNtlmAuth` that counts handshakes and raises attempt errors."""

    def __init__(
        self, username: str, password: str, *, counter: HandshakeCounter | None = None
    ) -> None:
        super().__init__(username, password)
        self.counter = counter if counter is not None else HandshakeCounter()

    def retry_using_http_NTLM_auth(
        self,
        auth_header_field: str,
        auth_header: str,
        response: requests.Response,
        auth_type: str,
        args: Any,
    ) -> requests.Response:
        if auth_header in response.request.headers:
            return response
        self.counter.start()
        try:
            answer = super().retry_using_http_NTLM_auth(
                auth_header_field, auth_header, response, auth_type, args
            )
        except (PermissionError, KeyError) as exc:
            # requests-ntlm: PermissionError when the second answer has no NTLM
            # challenge, KeyError when it has no WWW-Authenticate at all.
            self.counter.fail()
            raise AttemptError(
                f"NTLM authentication failed: the server did not continue the handshake ({exc}).",
                code=HANDSHAKE_BROKEN,
            ) from None
        except SpnegoError as exc:
            self.counter.fail()
            raise AttemptError(
                f"NTLM authentication failed: the server's challenge did not verify ({exc}).",
                code=HANDSHAKE_BROKEN,
            ) from None
        # The third leg answers the challenge with a value derived from the password.
        remember_sent(answer.request.headers.get(auth_header))
        if answer.status_code == 401:
            self.counter.fail()
            discard(answer)
            raise login_refused("NTLM", str(self.username))
        self.counter.complete()
        return answer
