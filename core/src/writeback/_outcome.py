"""Classifying answers: shared by every format so that all agree (contract §4).

2xx delivered; connection errors, timeouts, 408, 429 and 5xx retry (with
``Retry-After`` honoured); every other status failed with the answer's error
text kept.  Formats call these; connector types may refine the verdict.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from ._interfaces import AttemptResult, Outcome

__all__ = [
    "ERROR_TEXT_LIMIT",
    "RETRY_STATUSES",
    "classify_status",
    "connection_failure",
    "endpoint_of",
    "error_text",
    "parse_retry_after",
]


def endpoint_of(url: str, unknown: str = "the endpoint") -> str:
    """``host:port`` of ``url`` (default port filled in): enough to say where an error
    happened, never a path or query that may hold a company name or a secret."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return unknown
    host = parts.hostname or "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


RETRY_STATUSES = frozenset({408, 429})
#: Longest error text kept from an answer body.
ERROR_TEXT_LIMIT = 500


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_text(body: str | None) -> str | None:
    """The useful part of an error body: an OData/JSON error's code and message, or a prefix."""
    if not body:
        return None
    body = body.strip()
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        code, message = err.get("code"), err.get("message")
        if code or message:
            return ": ".join(str(part) for part in (code, message) if part)
    if len(body) > ERROR_TEXT_LIMIT:
        return body[:ERROR_TEXT_LIMIT] + "…"
    return body


def classify_status(
    status: int, headers: Mapping[str, str] | None = None, body: str | None = None
) -> AttemptResult:
    """Classify an HTTP answer by its status code (contract §4)."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    if 200 <= status < 300:
        return AttemptResult(Outcome.DELIVERED, status_code=status, headers=lowered)
    detail = error_text(body)
    error = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status in RETRY_STATUSES or status >= 500:
        return AttemptResult(
            Outcome.RETRY,
            status_code=status,
            error=error,
            retry_after=parse_retry_after(lowered.get("retry-after")),
            headers=lowered,
        )
    return AttemptResult(Outcome.FAILED, status_code=status, error=error, headers=lowered)


def connection_failure(description: str, *, timeout: bool = False) -> AttemptResult:
    """A connection error or timeout: always worth a retry."""
    kind = "timed out" if timeout else "connection failed"
    return AttemptResult(Outcome.RETRY, error=f"{kind}: {description}")
