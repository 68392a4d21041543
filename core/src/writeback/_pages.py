"""Pages of the delivery listing: keyset pagination by submission order.

A page ends at a delivery's ``seq``; the next starts after it, so a page never
skips or repeats a delivery however many are submitted meanwhile (a page by
offset would).  The cursor handed out is opaque: the position and the filters it
was made for, with a checksum, so that one altered, cut short or reused with
other filters is refused with a sentence instead of quietly listing something
else (docs/host-api.md, "Pages").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._errors import UserError
from ._views import STATUSES, DeliveryView

if TYPE_CHECKING:
    from .store import Outbox

__all__ = ["DeliveryPage", "decode_cursor", "encode_cursor", "read_page"]

# Not a secret: a cursor grants nothing its holder could not list anyway.  The
# checksum tells a cursor this code made from one that was changed by hand.
_CHECK_KEY = b"writeback delivery cursor v1"


@dataclass(frozen=True)
class DeliveryPage:
    """One page of a delivery listing, oldest first."""

    items: tuple[DeliveryView, ...]
    #: The cursor of the next page; ``None`` on the last one.
    next: str | None

    def to_dict(self) -> dict[str, Any]:
        """``{"items": [...], "next": CURSOR | null}``."""
        return {"items": [d.to_dict() for d in self.items], "next": self.next}


def _filters(status: str | None, connector: str | None) -> str:
    text = json.dumps([status or None, connector or None], ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()


def _check(body: str) -> str:
    return hmac.new(_CHECK_KEY, body.encode(), "blake2b").hexdigest()[:12]


def encode_cursor(seq: int, *, status: str | None = None, connector: str | None = None) -> str:
    """The cursor of the page after the delivery at ``seq``, for these filters."""
    body = f"{seq}.{_filters(status, connector)}"
    raw = f"{body}.{_check(body)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    cursor: str,
    *,
    status: str | None = None,
    connector: str | None = None,
    field: str = "after",
) -> int:
    """The ``seq`` a cursor from :func:`encode_cursor` stands for; ``field`` names
    where it was given, in the error.

    :raises UserError: for a cursor that was altered or cut short, or was made
        for other filters.
    """
    # Pasted from a terminal, a cursor may come with the line's end.
    cursor = cursor.strip()
    shown = cursor if len(cursor) <= 60 else cursor[:59] + "…"
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
        seq_text, filters, check = raw.split(".")
        body = f"{seq_text}.{filters}"
        if not hmac.compare_digest(check, _check(body)):
            raise ValueError("checksum")
        seq = int(seq_text)
    except (ValueError, binascii.Error, UnicodeError):
        raise UserError(
            f"{field} {shown!r} is not a cursor a listing gave (altered or cut short); "
            "give the 'next' of the previous page, or none to start at the first."
        ) from None
    if filters != _filters(status, connector):
        raise UserError(
            f"{field} {shown!r} was given by a listing with other filters (status, "
            "connector); keep the filters of the first page, or start again without it."
        )
    return seq


def read_page(
    outbox: Outbox,
    *,
    status: str | None = None,
    connector: str | None = None,
    limit: int | None = None,
    after: str | None = None,
    field: str = "after",
) -> DeliveryPage:
    """Up to ``limit`` deliveries (``None`` or 0: all) after the cursor ``after``.

    :raises UserError: for an unknown status, a negative limit, or a bad cursor.
    """
    if status is not None and status not in STATUSES:
        raise UserError(f"status {status!r} is not a status; allowed: {', '.join(STATUSES)}.")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise UserError(f"limit {limit!r} is not a count; give 0 (all) or more.")
    start = None
    if after:
        start = decode_cursor(after, status=status, connector=connector, field=field)
    # One more than asked for: whether there is a next page, without counting.
    rows = outbox.list(
        status=status, connector=connector, limit=limit + 1 if limit else None, after=start
    )
    more = bool(limit) and len(rows) > limit
    items = tuple(DeliveryView.of(r) for r in (rows[:limit] if more else rows))
    cursor = encode_cursor(items[-1].seq, status=status, connector=connector) if more else None
    return DeliveryPage(items, cursor)
