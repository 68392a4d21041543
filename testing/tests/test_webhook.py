"""The webhook receiver: failure plans, auth, signatures, and what it records."""

from __future__ import annotations

import base64
import random
import threading
import time

import httpx
import pytest
from writeback_testing import LoopbackHandler, ReceivedRequest, Step, WebhookReceiver
from writeback_testing.webhook import sign

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def test_plan_steps_are_consumed_in_order_then_200(client: httpx.Client) -> None:
    plan = [Step(500), Step(429, retry_after=7), Step(503, body="busy")]
    with WebhookReceiver(plan) as rx:
        answers = [client.post(rx.url + "/hook", json={"i": i}) for i in range(5)]
    assert [r.status_code for r in answers] == [500, 429, 503, 200, 200]
    assert answers[1].headers["retry-after"] == "7"
    assert "retry-after" not in answers[0].headers
    assert answers[2].text == "busy" and answers[2].headers["content-type"].startswith("text/plain")
    assert answers[3].json() == {"ok": True}
    assert answers[0].json() == {"ok": False}
    assert [r.status for r in rx.requests] == [500, 429, 503, 200, 200]
    assert [r.json for r in rx.deliveries] == [{"i": 3}, {"i": 4}]
    assert rx.count() == 5 and rx.count(200) == 2 and rx.count(429) == 1


def test_recorded_request_fields(client: httpx.Client) -> None:
    with WebhookReceiver() as rx:
        before = time.time()
        client.post(rx.url + "/hooks/a?x=1", content=b'{"a": 1}', headers={"X-Custom": "v"})
        client.post(rx.url + "/raw", content=b"not json")
    first, second = rx.requests
    assert (first.method, first.path, first.body, first.json) == (
        "POST",
        "/hooks/a?x=1",
        b'{"a": 1}',
        {"a": 1},
    )
    assert first.headers["x-custom"] == "v" and all(k == k.lower() for k in first.headers)
    assert before <= first.received_at <= time.time()
    assert first.signature_valid is None and not first.dropped
    assert second.json is None and second.text == "not json"
    with pytest.raises(AttributeError):
        first.status = 500  # type: ignore[misc]


def test_retry_after_accepts_a_string_and_headers_override(client: httpx.Client) -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    plan = [Step(503, retry_after=date, headers={"content-type": "application/problem+json"})]
    with WebhookReceiver(plan) as rx:
        response = client.post(rx.url)
    assert response.headers["retry-after"] == date
    assert response.headers.get_list("content-type") == ["application/problem+json"]


def test_delay_trips_a_client_timeout() -> None:
    with (
        WebhookReceiver([Step(delay=0.5)]) as rx,
        httpx.Client(timeout=0.1, verify=False) as slow_client,
    ):
        with pytest.raises(httpx.ReadTimeout):
            slow_client.post(rx.url)
        # Its own timeout: a plain answer must not race 0.1 s on a busy machine.
        assert slow_client.post(rx.url, timeout=30).status_code == 200
        # The delayed answer is still recorded, in arrival order, once it was given.
        first, second = rx.wait_for(2, timeout=2)
    assert first.received_at < second.received_at
    assert rx.errors == []


def test_default_delay_slows_every_answer(client: httpx.Client) -> None:
    with WebhookReceiver(default_delay=0.2) as rx:
        started = time.perf_counter()
        client.head(rx.url)
        assert time.perf_counter() - started >= 0.2


def test_drop_gives_the_client_a_connection_error(client: httpx.Client) -> None:
    with WebhookReceiver([Step(drop=True)]) as rx:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.post(rx.url, json={})
        assert client.post(rx.url, json={}).status_code == 200
    dropped, delivered = rx.requests
    assert dropped.dropped and dropped.status is None
    assert rx.deliveries == [delivered]
    assert dropped.connection != delivered.connection


def test_basic_auth(client: httpx.Client) -> None:
    with WebhookReceiver([Step(500)], basic_auth=("user", "pa:ss")) as rx:
        missing = client.post(rx.url, json={})
        wrong = client.post(rx.url, json={}, auth=("user", "nope"))
        head = client.head(rx.url, auth=("user", "pa:ss"))
        head_anonymous = client.head(rx.url)
        first = client.post(rx.url, json={}, auth=("user", "pa:ss"))
        second = client.post(rx.url, json={}, auth=("user", "pa:ss"))
    assert missing.status_code == wrong.status_code == head_anonymous.status_code == 401
    assert missing.headers["www-authenticate"] == 'Basic realm="writeback-testing"'
    assert head.status_code == 200 and head.content == b""
    # Refused requests do not use up the plan.
    assert (first.status_code, second.status_code) == (500, 200)
    assert rx.count(401) == 3 and len(rx.deliveries) == 1


def test_signatures_are_checked(client: httpx.Client) -> None:
    body = b'{"type": "appointment.created"}'
    good = {"webhook-id": "msg_1", "webhook-timestamp": "1700000000"}
    good["webhook-signature"] = "v1,bm9wZQ== " + sign(SECRET, "msg_1", 1700000000, body)
    other_secret = "whsec_" + base64.b64encode(b"another key").decode()
    bad = {**good, "webhook-signature": sign(other_secret, "msg_1", 1700000000, body)}
    with WebhookReceiver(signing_secret=SECRET) as rx:
        client.post(rx.url, content=body, headers=good)
        client.post(rx.url, content=body, headers=bad)
        client.post(rx.url, content=body + b" ", headers=good)
        client.post(rx.url, content=body)
    assert [r.signature_valid for r in rx.requests] == [True, False, False, False]


def test_invalid_signing_secret_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        WebhookReceiver(signing_secret="whsec_not base64!")


def test_wait_for_returns_deliveries(client: httpx.Client) -> None:
    with WebhookReceiver([Step(500)]) as rx:
        for _ in range(3):
            client.post(rx.url, json={})
        delivered = rx.wait_for(2, timeout=1)
    assert len(delivered) == 2 and all(r.status == 200 for r in delivered)


def test_wait_for_timeout_says_what_arrived(client: httpx.Client) -> None:
    with WebhookReceiver([Step(503)]) as rx:
        client.post(rx.url + "/hooks/a", json={})
        started = time.perf_counter()
        with pytest.raises(AssertionError) as info:
            rx.wait_for(1, timeout=0.2)
    assert time.perf_counter() - started >= 0.2
    message = str(info.value)
    assert "expected 1 deliveries within 0.2s, got 0" in message
    assert "POST /hooks/a -> 503" in message


def test_wait_for_wakes_up_when_a_delivery_arrives() -> None:
    with WebhookReceiver([Step(delay=0.3)]) as rx:
        sender = threading.Thread(target=httpx.post, args=(rx.url,), kwargs={"verify": False})
        started = time.perf_counter()
        sender.start()
        assert len(rx.wait_for(1, timeout=120)) == 1
        waited = time.perf_counter() - started
        sender.join()
    # Woken by the delivery, long before its own timeout (a sanity bound).
    assert 0.3 <= waited < 60


def test_plan_per_path(client: httpx.Client) -> None:
    plan = {"/hooks/a": [Step(500), Step(502)], "/hooks/b": [Step(410)]}
    with WebhookReceiver(plan) as rx:
        statuses = [
            client.post(rx.url + path, json={}).status_code
            for path in [
                "/hooks/a",
                "/hooks/b",
                "/hooks/a?retry=1",
                "/hooks/b",
                "/other",
                "/hooks/a",
            ]
        ]
    assert statuses == [500, 410, 502, 200, 200, 200]


def test_callable_plan_sees_the_request(client: httpx.Client) -> None:
    seen: list[ReceivedRequest] = []
    rng = random.Random(1234)

    def plan(request: ReceivedRequest) -> Step | None:
        seen.append(request)
        if request.json and request.json.get("fail"):
            return Step(503)
        return Step(500) if rng.random() < 0.3 else None

    with WebhookReceiver(plan) as rx:
        assert client.post(rx.url, json={"fail": True}).status_code == 503
        statuses = [client.post(rx.url, json={}).status_code for _ in range(100)]
    assert seen[0].json == {"fail": True} and seen[0].status is None
    assert set(statuses) == {200, 500} and 10 < statuses.count(500) < 60


def test_callable_plan_returning_garbage_is_a_500_and_recorded(client: httpx.Client) -> None:
    with WebhookReceiver(lambda request: 503) as rx:  # type: ignore[arg-type,return-value]
        assert client.post(rx.url).status_code == 500
    assert "returns a Step or None" in str(rx.errors[0])


def test_head_and_get_do_not_consume_the_plan(client: httpx.Client) -> None:
    with WebhookReceiver([Step(500)]) as rx:
        assert client.head(rx.url).status_code == 200
        assert client.get(rx.url).status_code == 200
        assert client.post(rx.url).status_code == 500
    assert [r.method for r in rx.requests] == ["HEAD", "GET", "POST"]
    assert rx.count(method="POST") == 1 and rx.deliveries == []


def test_set_plan_replaces_the_rest_of_the_plan(client: httpx.Client) -> None:
    with WebhookReceiver([Step(500), Step(500)]) as rx:
        assert client.post(rx.url).status_code == 500
        rx.set_plan([Step(404)])
        assert [client.post(rx.url).status_code for _ in range(2)] == [404, 200]
        with pytest.raises(TypeError, match="Step objects"):
            rx.set_plan([500])  # type: ignore[list-item]


def test_step_validation() -> None:
    with pytest.raises(ValueError, match="status"):
        Step(700)
    with pytest.raises(ValueError, match="delay"):
        Step(delay=-1)


class _CountingHandler(LoopbackHandler):
    """Counts the writes of every answer."""

    writes: list[int] = []

    def setup(self) -> None:
        super().setup()
        write = self.wfile.write

        def counted(data: bytes) -> int:
            _CountingHandler.writes.append(len(data))
            return write(data)

        self.wfile.write = counted  # type: ignore[method-assign]


class _CountingReceiver(WebhookReceiver):
    handler_class = _CountingHandler


def test_keep_alive_serves_many_requests_on_one_connection(client: httpx.Client) -> None:
    """How fast is for the benchmarks; here, that every answer goes out on the one
    connection, whole: head and body in one write (in two, Nagle's algorithm and
    delayed ACKs hold each answer back ~40 ms)."""
    _CountingHandler.writes.clear()
    with _CountingReceiver() as rx:
        answers = [client.post(rx.url + "/hook", json={"i": i}) for i in range(200)]
    assert [a.json() for a in answers] == [{"ok": True}] * 200
    assert rx.connections_accepted == 1
    assert {r.connection for r in rx.requests} == {1}
    assert len(_CountingHandler.writes) == 200


def test_echo_quotes_the_authorization_header_and_body_back(client: httpx.Client) -> None:
    from writeback_testing.webhook import echo

    with WebhookReceiver(plan=echo(401, error="invalid_client")) as rx:
        answer = client.post(
            rx.url + "/token",
            content=b"client_secret=s%2Fx",
            headers={"Authorization": "Basic YTpi"},
        )
        head = client.head(rx.url + "/token")
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "invalid_client",
        "error_description": "you sent Authorization: Basic YTpi with the body client_secret=s%2Fx",
    }
    assert head.status_code == 200  # like every plan, it answers POSTs only
