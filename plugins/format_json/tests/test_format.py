"""Encoding and classification by the json format, against httpx.MockTransport."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from writeback import Throttle
from writeback.plugin import NO_AUTH, AuthMechanismBase, OutboundMessage, Outcome, PipelineContext
from writeback_json import JsonFormat
from writeback_json._format import UNTHROTTLED_LANES, pool_size

Handler = Callable[[httpx.Request], httpx.Response]
URL = "https://bc.example.com:7048/api/appointments?company=CRONUS&sig=TOPSECRET"


def exchange(
    context: PipelineContext, handler: Handler, *messages: OutboundMessage
) -> tuple[list[Any], list[httpx.Request]]:
    """Send ``messages`` in turn through ``handler``; the results and the requests it saw."""
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return handler(request)

    async def run() -> list[Any]:
        fmt = JsonFormat(context, transport=httpx.MockTransport(record))
        try:
            results = []
            for message in messages:
                # As the pipeline does: the mechanism's credentials once per attempt.
                mechanism = context.auth
                auth = await mechanism.attempt_auth() if mechanism is not None else NO_AUTH
                results.append(await fmt.send(message, auth))
            return results
        finally:
            await fmt.aclose()

    return asyncio.run(run()), requests


def answer(status: int, **kwargs: Any) -> Handler:
    return lambda request: httpx.Response(status, **kwargs)


@pytest.mark.parametrize("status", [200, 201, 204])
def test_2xx_is_delivered(make_context: Callable[..., PipelineContext], status: int) -> None:
    (result,), _ = exchange(
        make_context(), answer(status, headers={"Location": "/rows(1)"}), OutboundMessage(URL)
    )
    assert result.outcome is Outcome.DELIVERED
    assert result.status_code == status
    assert result.error is None
    assert result.headers["location"] == "/rows(1)"


def test_payload_goes_out_as_compact_utf8_json(
    make_context: Callable[..., PipelineContext],
) -> None:
    message = OutboundMessage(URL, payload={"subject": "Kessel prüfen", "qty": 2})
    _, (request,) = exchange(make_context(), answer(201), message)
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.content == '{"subject":"Kessel prüfen","qty":2}'.encode()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("writeback/")


def test_content_is_sent_as_given_and_its_content_type_kept(
    make_context: Callable[..., PipelineContext],
) -> None:
    message = OutboundMessage(
        URL,
        method="PUT",
        headers={"Content-Type": "application/cloudevents+json", "webhook-id": "d1"},
        payload={"ignored": True},
        content=b'{ "exact" : "bytes" }',
    )
    _, (request,) = exchange(make_context(), answer(200), message)
    assert request.method == "PUT"
    assert request.content == b'{ "exact" : "bytes" }'
    assert request.headers.get_list("content-type") == ["application/cloudevents+json"]
    assert request.headers["webhook-id"] == "d1"


@pytest.mark.parametrize("method", ["HEAD", "DELETE"])
def test_no_body_for_head_or_without_payload(
    make_context: Callable[..., PipelineContext], method: str
) -> None:
    payload = {"x": 1} if method == "HEAD" else None
    (result,), (request,) = exchange(
        make_context(), answer(200), OutboundMessage(URL, method=method, payload=payload)
    )
    assert result.outcome is Outcome.DELIVERED
    assert request.method == method
    assert request.content == b""
    assert "content-type" not in request.headers


@pytest.mark.parametrize(
    ("status", "retry_after", "expected_wait"),
    [
        (408, None, None),
        (429, "120", 120.0),
        (500, None, None),
        (503, "7", 7.0),
        (504, "soon", None),
    ],
)
def test_408_429_5xx_are_retried_honouring_retry_after(
    make_context: Callable[..., PipelineContext],
    status: int,
    retry_after: str | None,
    expected_wait: float | None,
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    (result,), _ = exchange(
        make_context(), answer(status, headers=headers, text="busy"), OutboundMessage(URL)
    )
    assert result.outcome is Outcome.RETRY
    assert result.status_code == status
    assert result.retry_after == expected_wait
    assert result.error == f"HTTP {status}: busy"


def test_retry_after_as_http_date(make_context: Callable[..., PipelineContext]) -> None:
    when = email.utils.formatdate(time.time() + 60, usegmt=True)
    (result,), _ = exchange(
        make_context(), answer(503, headers={"Retry-After": when}), OutboundMessage(URL)
    )
    assert result.retry_after is not None
    assert 55 <= result.retry_after <= 61


@pytest.mark.parametrize(("status", "body"), [(400, "subject is too long"), (410, "gone")])
def test_other_4xx_fail_with_the_answer_text(
    make_context: Callable[..., PipelineContext], status: int, body: str
) -> None:
    (result,), _ = exchange(make_context(), answer(status, text=body), OutboundMessage(URL))
    assert result.outcome is Outcome.FAILED
    assert result.status_code == status
    assert result.error == f"HTTP {status}: {body}"
    assert result.retry_after is None


def test_odata_error_code_and_message_are_kept(
    make_context: Callable[..., PipelineContext],
) -> None:
    odata = {"error": {"code": "BadRequest_NotFound", "message": "Job SO100 does not exist."}}
    (result,), _ = exchange(make_context(), answer(400, json=odata), OutboundMessage(URL))
    assert result.outcome is Outcome.FAILED
    assert result.error == "HTTP 400: BadRequest_NotFound: Job SO100 does not exist."


def test_error_text_is_decoded_with_the_answer_charset(
    make_context: Callable[..., PipelineContext],
) -> None:
    handler = answer(
        422,
        content="Ungültiger Wert".encode("latin-1"),
        headers={"content-type": "text/plain; charset=iso-8859-1"},
    )
    (result,), _ = exchange(make_context(), handler, OutboundMessage(URL))
    assert result.error == "HTTP 422: Ungültiger Wert"


def test_an_undecodable_body_does_not_undo_a_delivery(
    make_context: Callable[..., PipelineContext],
) -> None:
    def broken_gzip(status: int) -> Handler:
        # A stream, as from the network: content= would be decoded right here.
        headers = {"content-encoding": "gzip"}
        return answer(status, stream=httpx.ByteStream(b"not gzip at all"), headers=headers)

    (delivered,), _ = exchange(make_context(), broken_gzip(201), OutboundMessage(URL))
    assert delivered.outcome is Outcome.DELIVERED
    (failed,), _ = exchange(make_context(), broken_gzip(400), OutboundMessage(URL))
    assert (failed.outcome, failed.error) == (Outcome.FAILED, "HTTP 400")


def test_timeout_is_retried_and_names_the_limit_and_endpoint(
    make_context: Callable[..., PipelineContext],
) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("", request=request)

    (result,), _ = exchange(make_context(timeout=2.5), slow, OutboundMessage(URL))
    assert result.outcome is Outcome.RETRY
    assert result.status_code is None
    assert result.error == "timed out: no answer within 2.5 s (bc.example.com:7048)"


def test_refused_connection_names_the_os_error_not_anyio_wrapper(
    make_context: Callable[..., PipelineContext],
) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        # What anyio raises: the OS error hidden behind a generic one.
        cause = OSError("All connection attempts failed")
        cause.__cause__ = ConnectionRefusedError(111, "Connect call failed ('10.0.0.1', 7048)")
        raise httpx.ConnectError("All connection attempts failed") from cause

    (result,), _ = exchange(make_context(), refused, OutboundMessage(URL))
    assert result.outcome is Outcome.RETRY
    assert result.error == "connection failed: [Errno 111] Connection refused (bc.example.com:7048)"


def test_transport_error_text_never_quotes_the_url(
    make_context: Callable[..., PipelineContext],
) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError(f"peer closed talking to {request.url}")

    (result,), _ = exchange(make_context(), broken, OutboundMessage(URL))
    assert result.outcome is Outcome.RETRY
    assert result.error is not None
    assert "TOPSECRET" not in result.error
    assert result.error.startswith("connection failed: peer closed talking to bc.example.com:7048")


class CountingBasic(AuthMechanismBase):
    """Basic with a new password per attempt, counting the attempts."""

    calls = 0

    def headers(self) -> dict[str, str]:
        self.calls += 1
        return {"Authorization": httpx.BasicAuth("WEBUSER", f"pw{self.calls}")._auth_header}


def test_each_send_carries_the_credentials_it_is_given(
    make_context: Callable[..., PipelineContext],
) -> None:
    mechanism = CountingBasic(make_context())
    context = make_context(auth=mechanism)
    _, requests = exchange(context, answer(200), OutboundMessage(URL), OutboundMessage(URL))
    assert mechanism.calls == 2
    assert [r.headers["authorization"] for r in requests] == [
        httpx.BasicAuth("WEBUSER", "pw1")._auth_header,
        httpx.BasicAuth("WEBUSER", "pw2")._auth_header,
    ]


def test_without_auth_no_authorization_header(
    make_context: Callable[..., PipelineContext],
) -> None:
    _, (request,) = exchange(make_context(auth=None), answer(200), OutboundMessage(URL))
    assert "authorization" not in request.headers


@pytest.mark.parametrize(
    ("throttle", "size"),
    [
        (None, UNTHROTTLED_LANES),
        (Throttle(), UNTHROTTLED_LANES),
        (Throttle(max_concurrency=1), 1),
        (Throttle(max_concurrency=4), 4),
        (Throttle(max_concurrency=200), 200),
    ],
)
def test_lanes_follow_the_throttle_and_the_worker_bounds_an_unset_one(
    make_context: Callable[..., PipelineContext], throttle: Throttle | None, size: int
) -> None:
    assert pool_size(throttle) == size
    assert JsonFormat(make_context(throttle=throttle)).size == size


def test_timeout_comes_from_the_context_else_30s(
    make_context: Callable[..., PipelineContext],
) -> None:
    assert JsonFormat(make_context()).timeout == 30.0
    assert JsonFormat(make_context(timeout=4)).timeout == 4.0


def test_a_closed_format_opens_a_new_client(make_context: Callable[..., PipelineContext]) -> None:
    async def run() -> list[Outcome]:
        fmt = JsonFormat(make_context(), transport=httpx.MockTransport(answer(200)))
        first = await fmt.send(OutboundMessage(URL))
        await fmt.aclose()
        second = await fmt.send(OutboundMessage(URL))
        await fmt.aclose()
        return [first.outcome, second.outcome]

    assert asyncio.run(run()) == [Outcome.DELIVERED, Outcome.DELIVERED]


def test_payload_round_trips(make_context: Callable[..., PipelineContext]) -> None:
    payload = {"resources": [{"resourceNo": "R-ANNA"}], "importance": 1, "locked": False}
    _, (request,) = exchange(make_context(), answer(200), OutboundMessage(URL, payload=payload))
    assert json.loads(request.content) == payload
