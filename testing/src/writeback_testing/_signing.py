"""Standard Webhooks signatures (https://www.standardwebhooks.com), both sides.

Kept independent of writeback's own signer so that a test comparing the two
catches a mistake in either.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional)."""
    raw = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a signing secret must be 'whsec_' followed by base64") from None
    if not key:
        raise ValueError("a signing secret must not be empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes | str) -> str:
    """The ``webhook-signature`` value ``v1,<base64 HMAC-SHA256>`` for one message.

    The signed content is ``"{msg_id}.{timestamp}.{body}"`` with the body as sent.
    """
    payload = body.encode() if isinstance(body, str) else body
    content = f"{msg_id}.{timestamp}.".encode() + payload
    digest = hmac.new(decode_secret(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(
    secret: str, headers: Mapping[str, str], body: bytes | str, *, tolerance: float | None = None
) -> bool:
    """Whether any ``v1`` signature in ``webhook-signature`` matches the message.

    ``headers`` may use any case. The header may hold several space-separated
    signatures (key rotation). With ``tolerance`` (seconds), a
    ``webhook-timestamp`` further than that from now fails too; by default the
    timestamp is not checked, so tests with frozen or replayed clocks still pass.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id")
    timestamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        return False
    if tolerance is not None:
        try:
            sent = int(timestamp)
        except ValueError:
            return False
        if abs(time.time() - sent) > tolerance:
            return False
    expected = sign(secret, msg_id, timestamp, body).partition(",")[2].encode()
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return True
    return False
