"""Several messages in one OData JSON batch request (``$batch``), and its answer.

The request is OData v4.01's JSON batch format: ``{"requests": [{"id", "method",
"url", "headers", "body"}, …]}``, each ``url`` relative to the service root (the
batch URL without ``$batch``), sent with ``Accept: application/json`` and no
``Isolation`` header, so that each request stands alone.  The answer
``{"responses": [{"id", "status", "headers", "body"}, …]}`` settles each message
by its own response, classified as a single request's answer would be
(``classify_status``).

The batch answered as a whole is one result for every message (429/5xx retry,
401 for the pipeline to refresh, another 4xx failed); a ``400`` or ``415`` says
the server refused the batch itself, and :class:`BatchRefused` has the pipeline
send each message on its own.  An answer that is not the JSON batch format, or
that lacks a response for a request, retries every message it does not settle,
the reason recorded: nothing is lost, and nothing is settled twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from writeback.plugin import (
    AttemptResult,
    BatchRefused,
    OutboundBatch,
    OutboundMessage,
    Outcome,
    classify_status,
    error_text,
)

__all__ = ["REFUSED_STATUSES", "batch_body", "read_answer", "whole_answer"]

#: Whole-batch answers that refuse the batch as such (malformed, or not a format
#: the server takes): the messages go one by one instead.
REFUSED_STATUSES = frozenset({400, 415})
#: The code of a message its batch answer did not settle (retried).
CODE_BATCH_ANSWER = "WB-361"


def _relative(url: str, root: str) -> str:
    """``url`` relative to the service root when it lies under it, else as it is."""
    return url[len(root) :] if root and url.startswith(root) else url


def batch_body(batch: OutboundBatch) -> bytes:
    """The JSON batch request for ``batch``: request ids ``"1"``, ``"2"``, … in order."""
    root = batch.url.removesuffix("$batch")
    requests = []
    for index, message in enumerate(batch.messages, start=1):
        request: dict[str, Any] = {
            "id": str(index),
            "method": message.method.upper(),
            "url": _relative(message.url, root),
        }
        headers = dict(message.headers)
        body = _body_of(message)
        if body is not None:
            headers.setdefault("content-type", "application/json")
            request["body"] = body
        request["headers"] = headers
        requests.append(request)
    return json.dumps({"requests": requests}, separators=(",", ":"), ensure_ascii=False).encode()


def _body_of(message: OutboundMessage) -> Any:
    if message.content is not None:
        return json.loads(message.content)  # a JSON batch carries JSON bodies as values
    return message.payload


def whole_answer(
    status: int, headers: Mapping[str, str], text: str | None, url: str
) -> AttemptResult:
    """A batch answered as a whole (not 2xx): one result for every message.

    :raises BatchRefused: the server refused the batch as such (``REFUSED_STATUSES``).
    """
    if status in REFUSED_STATUSES:
        detail = error_text(text)
        raise BatchRefused(f"HTTP {status}" + (f": {detail}" if detail else ""))
    return classify_status(status, headers, text, url=url)


def read_answer(raw: bytes, messages: list[OutboundMessage]) -> list[AttemptResult]:
    """Each message's result from a 2xx batch answer's body, in order."""
    try:
        answer = json.loads(raw)
        responses = answer["responses"]
        if not isinstance(responses, list):
            raise TypeError("'responses' is not a list")
    except (ValueError, TypeError, KeyError) as exc:
        reason = _unreadable(raw, exc)
        return [_unsettled(f"the batch answer is not the JSON batch format ({reason})")] * len(
            messages
        )
    by_id: dict[str, Mapping[str, Any]] = {}
    for response in responses:
        if isinstance(response, Mapping):
            # The first response given for an id settles it; a repeat is ignored.
            by_id.setdefault(str(response.get("id")), response)
    results = []
    for index, message in enumerate(messages, start=1):
        response = by_id.get(str(index))
        if response is None:
            results.append(_unsettled(f"the batch answer has no response for request {index}"))
            continue
        results.append(_one(response, index, message))
    return results


def _one(response: Mapping[str, Any], index: int, message: OutboundMessage) -> AttemptResult:
    status = response.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return _unsettled(f"the batch answer's response {index} has no HTTP status ({status!r})")
    headers = response.get("headers")
    headers = {str(k): str(v) for k, v in headers.items()} if isinstance(headers, Mapping) else {}
    body = response.get("body")
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    return classify_status(status, headers, text, url=message.url)


def _unsettled(reason: str) -> AttemptResult:
    """A message the batch answer did not settle: sent again later."""
    return AttemptResult(
        Outcome.RETRY, error=f"{CODE_BATCH_ANSWER}: {reason}; sent again", code=CODE_BATCH_ANSWER
    )


def _unreadable(raw: bytes, exc: Exception) -> str:
    if not raw.strip():
        return "an empty body"
    if isinstance(exc, ValueError):
        return f"not valid JSON: {exc}"
    if isinstance(exc, KeyError):
        return "no 'responses'"
    return str(exc)
