"""Turning SOAP answers into attempt results (docs/connectors.md, "The soap format").

A SOAP fault is ``failed``, or ``retry`` when its faultstring says the server
is busy, timed out, or has too many requests; HTTP statuses follow the shared
rules of :func:`writeback.plugin.classify_status`.  The fault's faultcode and
faultstring are kept in the error text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from writeback.plugin import AttemptResult, Outcome, parse_retry_after

__all__ = [
    "CODE_FAULT",
    "CODE_FAULT_RETRY",
    "CODE_NOT_SOAP",
    "CODE_NO_OPERATION",
    "CODE_RECORD",
    "CODE_WSDL_FETCH",
    "CODE_WSDL_INVALID",
    "TRANSIENT_FAULT",
    "fault_result",
    "short",
]

#: A SOAP fault the page answered: the attempt failed.
CODE_FAULT = "WB-320"
#: A SOAP fault saying the server is busy, timed out or throttled: retried.
CODE_FAULT_RETRY = "WB-321"
#: The WSDL could not be fetched (its HTTP status or connection error decides).
CODE_WSDL_FETCH = "WB-322"
#: The URI answered something that is not a usable WSDL.
CODE_WSDL_INVALID = "WB-323"
#: The page has no such operation (or the message names none it can call).
CODE_NO_OPERATION = "WB-324"
#: The record cannot be encoded for the page (a value the type refuses).
CODE_RECORD = "WB-325"
#: A 2xx answer that is not a SOAP envelope the operation can read.
CODE_NOT_SOAP = "WB-326"

#: Faultstrings that mean "try again later".  NAV/BC say "Server Busy", "The
#: operation has timed out", "too many requests" (the online throttle).
TRANSIENT_FAULT = re.compile(
    r"\b(?:busy|timed?[ -]?out|too many requests|throttl\w*)\b", re.IGNORECASE
)

#: Longest fault or body text kept in an attempt record.
TEXT_LIMIT = 500


def short(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text`` on one line, cut at ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fault_result(
    code: str | None, string: str | None, status: int, headers: Mapping[str, str]
) -> AttemptResult:
    """The attempt result for a SOAP fault with ``faultcode``/``faultstring``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    faultstring = short(string or "no faultstring")
    transient = bool(TRANSIENT_FAULT.search(faultstring))
    where = f"{code}: " if code else ""
    text = f"SOAP fault {where}{faultstring}"
    if transient:
        return AttemptResult(
            Outcome.RETRY,
            status_code=status,
            error=f"{CODE_FAULT_RETRY}: {text}",
            retry_after=parse_retry_after(lowered.get("retry-after")),
            headers=lowered,
            code=CODE_FAULT_RETRY,
        )
    return AttemptResult(
        Outcome.FAILED,
        status_code=status,
        error=f"{CODE_FAULT}: {text}",
        headers=lowered,
        code=CODE_FAULT,
    )
