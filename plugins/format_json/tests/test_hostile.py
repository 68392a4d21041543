"""The json format against endpoints that misbehave: trickles, floods, redirects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from writeback._outcome import ANSWER_LIMIT
from writeback.plugin import AttemptResult, OutboundMessage, Outcome, PipelineContext
from writeback_json import JsonFormat
from writeback_testing.hostile import Answer, Flood, HostileServer, Redirect, Trickle

MakeContext = Callable[..., PipelineContext]
Hostile = Callable[..., HostileServer]


def send_all(context: PipelineContext, *messages: OutboundMessage) -> list[AttemptResult]:
    async def run() -> list[AttemptResult]:
        fmt = JsonFormat(context)
        try:
            return [await fmt.send(message) for message in messages]
        finally:
            await fmt.aclose()

    return asyncio.run(run())


def test_a_trickled_answer_ends_at_the_deadline_whatever_part_trickles(
    make_context: MakeContext, writeback_hostile_factory: Hostile
) -> None:
    server = writeback_hostile_factory(
        {"POST": [Trickle(b" " * 30, head=True), Trickle(b" " * 30), Answer(200, b"{}")]}
    )
    message = OutboundMessage(server.url, payload={"a": 1})
    head, body, after = send_all(make_context(server.url, timeout=1), message, message, message)
    for result in (head, body):
        assert result.outcome is Outcome.RETRY
        assert result.error == f"timed out: no complete answer within 1 s (127.0.0.1:{server.port})"
    assert (after.outcome, after.status_code) == (Outcome.DELIVERED, 200)
    assert server.wait_abandoned(2) == 2


def test_a_long_answer_is_read_only_so_far(
    make_context: MakeContext, writeback_hostile_factory: Hostile
) -> None:
    # Declared longer than sent: reading the whole body would wait until the deadline.
    server = writeback_hostile_factory(
        {"POST": [Flood(200, declared=ANSWER_LIMIT * 8, sent=ANSWER_LIMIT * 2), Flood(503)]}
    )
    message = OutboundMessage(server.url, payload={"a": 1})
    ok, busy = send_all(make_context(server.url, timeout=10), message, message)
    assert (ok.outcome, ok.status_code, ok.error) == (Outcome.DELIVERED, 200, None)
    assert busy.outcome is Outcome.RETRY and busy.error is not None
    assert busy.error.startswith("HTTP 503: xxx") and busy.error.endswith("…")
    assert len(busy.error) < 600
    assert server.wait_abandoned(2) == 2


def test_a_redirect_is_failed_naming_where_it_points_masked(
    make_context: MakeContext, writeback_hostile_factory: Hostile
) -> None:
    server = writeback_hostile_factory(
        {"*": Redirect("http://admin:hunter2@[::1]:8080/a/b?token=t0k#frag", status=301)}
    )
    (result,) = send_all(make_context(server.url), OutboundMessage(server.url, payload={}))
    assert (result.outcome, result.status_code) == (Outcome.FAILED, 301)
    assert result.error == (
        "HTTP 301: redirected to http://[::1]:8080/a/b?… (redirects are not followed)"
    )
