"""The json format's OData JSON batch (``send_batch``), against httpx.MockTransport:
what it sends, and how each message is settled from the answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from writeback.plugin import (
    NO_AUTH,
    BatchRefused,
    HeaderAuth,
    OutboundBatch,
    OutboundMessage,
    Outcome,
    PipelineContext,
)
from writeback_json import JsonFormat

ROOT = "https://bc.example.com:7048/BC/api/v/1.0/"
ROWS = ROOT + "companies(1)/appointments"


def batch(n: int = 3) -> OutboundBatch:
    messages = [
        OutboundMessage(ROWS, headers={"accept": "application/json"}, payload={"n": k})
        for k in range(n)
    ]
    return OutboundBatch(url=ROOT + "$batch", messages=messages)


def send(
    context: PipelineContext, handler: Callable[[httpx.Request], httpx.Response], **kw: Any
) -> tuple[Any, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    async def run() -> Any:
        fmt = JsonFormat(context, transport=httpx.MockTransport(record))
        try:
            return await fmt.send_batch(kw.get("the_batch", batch()), kw.get("auth", NO_AUTH))
        finally:
            await fmt.aclose()

    return asyncio.run(run()), seen


def responses(*items: dict[str, Any]) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(200, json={"responses": list(items)})


def created(i: str) -> dict[str, Any]:
    return {"id": i, "status": 201, "headers": {"location": f"{ROWS}({i})"}, "body": {}}


def test_the_request_is_the_json_batch_format(make_context) -> None:
    results, (request,) = send(
        make_context(),
        responses(created("1"), created("2"), created("3")),
        auth=HeaderAuth({"authorization": "Bearer t"}),
    )
    assert request.url == ROOT + "$batch" and request.method == "POST"
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer t"
    assert "isolation" not in request.headers
    body = json.loads(request.content)
    assert body["requests"][0] == {
        "id": "1",
        "method": "POST",
        "url": "companies(1)/appointments",
        "headers": {"accept": "application/json", "content-type": "application/json"},
        "body": {"n": 0},
    }
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 3
    assert results[1].headers["location"] == f"{ROWS}(2)"


def test_each_message_is_settled_by_its_own_response_in_any_order(make_context) -> None:
    refused = {"error": {"code": "BadRequest_PropertyNotFound", "message": "No such property."}}
    results, _ = send(
        make_context(),
        responses(
            {"id": "3", "status": 503, "headers": {"retry-after": "7"}},
            {"id": "2", "status": 400, "body": refused},
            created("1"),
            {"id": "1", "status": 500},  # a repeat settles nothing twice
        ),
    )
    assert results[0].outcome is Outcome.DELIVERED
    assert results[1].outcome is Outcome.FAILED
    assert results[1].error == "HTTP 400: BadRequest_PropertyNotFound: No such property."
    assert (results[2].outcome, results[2].retry_after) == (Outcome.RETRY, 7)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>oops</html>", "not the JSON batch format (not valid JSON"),
        (b"", "not the JSON batch format (an empty body)"),
        (b'{"value": []}', "not the JSON batch format (no 'responses')"),
        (b'{"responses": {}}', "not the JSON batch format ('responses' is not a list)"),
    ],
)
def test_an_unreadable_answer_retries_every_message_with_the_reason(
    make_context, body: bytes, reason: str
) -> None:
    results, _ = send(make_context(), lambda request: httpx.Response(200, content=body))
    assert [r.outcome for r in results] == [Outcome.RETRY] * 3
    assert all(reason in (r.error or "") and r.code == "WB-361" for r in results)


def test_a_missing_or_statusless_response_retries_that_message_only(make_context) -> None:
    results, _ = send(make_context(), responses(created("1"), {"id": "2", "status": "ok"}))
    assert results[0].outcome is Outcome.DELIVERED
    assert results[1].outcome is Outcome.RETRY and "no HTTP status" in (results[1].error or "")
    assert results[2].outcome is Outcome.RETRY
    assert "no response for request 3" in (results[2].error or "")


WHOLE = [(429, Outcome.RETRY), (503, Outcome.RETRY), (401, Outcome.FAILED), (403, Outcome.FAILED)]


@pytest.mark.parametrize(("status", "outcome"), WHOLE)
def test_a_batch_answered_as_a_whole_is_one_result(make_context, status, outcome) -> None:
    error = {"error": {"code": "X"}}
    result, _ = send(make_context(), lambda request: httpx.Response(status, json=error))
    assert result.outcome is outcome and result.status_code == status


@pytest.mark.parametrize("status", [400, 415])
def test_a_batch_refused_as_such_raises_batch_refused(make_context, status) -> None:
    error = {"error": {"code": "BadRequest", "message": "The batch request is malformed."}}
    with pytest.raises(BatchRefused, match="The batch request is malformed"):
        send(make_context(), lambda request: httpx.Response(status, json=error))


def test_no_answer_retries_the_whole_batch(make_context) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    result, _ = send(make_context(), refuse)
    assert result.outcome is Outcome.RETRY and result.status_code is None
