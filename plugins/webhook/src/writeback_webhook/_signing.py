"""Standard Webhooks signatures: HMAC-SHA256 over ``{id}.{timestamp}.{body}``.

https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
The secret is written ``whsec_<base64>``; the key is the decoded base64 part.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

__all__ = ["SECRET_PREFIX", "TOLERANCE", "decode_secret", "sign", "verify_signature"]

SECRET_PREFIX = "whsec_"
#: Seconds a receiver accepts between ``webhook-timestamp`` and its clock (the spec's 5 min).
TOLERANCE = 300.0


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix may be left out).

    :raises ValueError: with a message that never quotes the secret.
    """
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise ValueError(
            "a signing secret must be 'whsec_' followed by base64 (as receivers following "
            "Standard Webhooks generate it), or 'env:NAME'."
        )
    return key


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """The ``webhook-signature`` value for one message: ``v1,<base64 HMAC-SHA256>``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance: float | None = TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when ``body`` and ``headers`` carry a valid signature made with ``secret``.

    For receivers.  ``headers`` may use any case.  The timestamp must lie within
    ``tolerance`` seconds of ``now`` (``None``: any age), which stops replays of
    old captured requests.  Any one of several space-separated ``v1,`` signatures
    may match (senders list the old and new key while rotating).

    :raises ValueError: when ``secret`` itself is malformed.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    timestamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not msg_id or not timestamp or not signatures or not timestamp.isdigit():
        return False
    if tolerance is not None:
        clock = time.time() if now is None else now
        if abs(clock - int(timestamp)) > tolerance:
            return False
    raw = body.encode() if isinstance(body, str) else body
    expected = sign(secret, msg_id, timestamp, raw)
    return any(
        hmac.compare_digest(candidate.encode(), expected.encode())
        for candidate in signatures.split()
    )
