"""Who is asking: the API key of a request, and whether its scope allows the call.

A key comes as ``Authorization: Bearer <key>``, or as the password of HTTP
Basic (any user name), which is what the planning application's own Webhook
connector can send.  No key, or one the store does not know (or has revoked):
401.  A known key without the scope: 403.  The key is never echoed: not in an
error, not in a log line.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from ._errors import ApiError

if TYPE_CHECKING:
    from ._keys import ApiKey

__all__ = ["ALLOWED", "check_scope", "key_from_header"]

#: The scopes that may make each kind of call: ``ingest`` only posts events,
#: ``read`` reads everything under ``/v1``, ``admin`` does everything.
ALLOWED = {
    "ingest": frozenset({"ingest", "admin"}),
    "read": frozenset({"read", "admin"}),
    "admin": frozenset({"admin"}),
}

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="writeback", Basic realm="writeback"'}


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "WB-901", message, headers=_CHALLENGE)


def key_from_header(header: str | None) -> str:
    """The key an ``Authorization`` header carries.

    :raises ApiError: 401 when there is none or the header is not Bearer or Basic.
    """
    if not header:
        raise unauthorized(
            "this call needs an API key: send 'Authorization: Bearer <key>' "
            "(or HTTP Basic with the key as the password)."
        )
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise unauthorized(
                "the Authorization header's Basic credentials are not base64 of "
                "'user:key'; send the API key as the password."
            ) from None
        _, colon, password = decoded.partition(":")
        if colon and password:
            return password
        raise unauthorized("the Basic credentials carry no password; send the API key as it.")
    raise unauthorized(
        "the Authorization header is neither 'Bearer <key>' nor HTTP Basic; "
        "send the API key in one of those."
    )


def check_scope(key: ApiKey | None, need: str) -> ApiKey:
    """``key`` when it may make a call that needs ``need``.

    :raises ApiError: 401 for an unknown or revoked key, 403 for a missing scope.
    """
    if key is None:
        raise unauthorized("the API key is not known or was revoked.")
    if key.scope not in ALLOWED[need]:
        raise ApiError(
            403,
            "WB-902",
            f"the API key {key.name!r} has scope {key.scope!r}; this call needs "
            f"{' or '.join(sorted(ALLOWED[need]))}.",
        )
    return key
