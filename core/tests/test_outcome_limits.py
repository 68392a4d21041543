"""What an endpoint cannot make writeback do: follow a redirect, wait a year, pass a probe
with a redirect or a 5xx."""

from __future__ import annotations

import email.utils
import logging

import pytest
from writeback._models import Throttle
from writeback._outcome import deadline_passed, parse_retry_after, redirect_target
from writeback._schedule import MAX_RETRY_AFTER
from writeback._throttle import ConnectorGate
from writeback.plugin import AttemptResult, ConnectorTypeBase, Outcome, classify_status

YEAR = 365 * 86400


@pytest.mark.parametrize(
    ("location", "base", "shown"),
    [
        ("https://u:p@h.example:8443/a?sig=1#f", None, "https://h.example:8443/a?…"),
        ("http://h.example/a/b", None, "http://h.example/a/b"),
        ("/moved?x=1", "http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/moved?…"),
        ("next", "http://127.0.0.1:8080/a/b", "http://127.0.0.1:8080/a/next"),
        ("/moved", None, "/moved"),
        ("http://[::1]:9/x", None, "http://[::1]:9/x"),
        ("http://h:99999/x", None, "an invalid location"),
        (None, None, "nowhere (no Location header)"),
        ("  ", None, "nowhere (no Location header)"),
    ],
)
def test_a_redirect_target_is_named_without_credentials_or_query(
    location: str | None, base: str | None, shown: str
) -> None:
    assert redirect_target(location, base) == shown


def test_a_long_redirect_target_is_cut() -> None:
    shown = redirect_target("http://h.example/" + "a" * 500)
    assert len(shown) == 200 and shown.endswith("…")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_failed_naming_it(status: int) -> None:
    result = classify_status(status, {"Location": "/x?t=1"}, "moved", url="https://h.example/a")
    assert result.outcome is Outcome.FAILED and result.status_code == status
    assert result.error == (
        f"HTTP {status}: redirected to https://h.example/x?… (redirects are not followed)"
    )


def test_304_is_no_redirect() -> None:
    assert classify_status(304, {}, None).error == "HTTP 304"


def test_retry_after_is_capped_at_a_day() -> None:
    assert parse_retry_after(str(YEAR)) == MAX_RETRY_AFTER
    assert parse_retry_after(str(YEAR), limit=None) == YEAR
    assert parse_retry_after("9" * 400) == MAX_RETRY_AFTER
    later = email.utils.formatdate(1_000_000 + YEAR, usegmt=True)
    assert parse_retry_after(later, now=1_000_000) == MAX_RETRY_AFTER
    assert parse_retry_after("120") == 120.0


def test_a_capped_retry_after_says_so() -> None:
    result = classify_status(429, {"Retry-After": str(YEAR)}, "slow down")
    assert result.retry_after == MAX_RETRY_AFTER
    assert result.error == f"HTTP 429: slow down (Retry-After {YEAR} s, honoured as 86400 s)"
    assert classify_status(503, {"Retry-After": "30"}).error == "HTTP 503"


def test_the_connector_pause_is_capped_at_a_day_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [1000.0]
    gate = ConnectorGate(Throttle(), clock=lambda: now[0], name="hook")
    gate.acquire()
    with caplog.at_level(logging.WARNING, logger="writeback.throttle"):
        # A format may build its result without the shared parser's cap.
        gate.release(AttemptResult(Outcome.RETRY, 429, "HTTP 429", retry_after=float(YEAR)))
    assert gate.free_slots() == 0
    assert gate.ready_in() == pytest.approx(MAX_RETRY_AFTER)
    assert "connector hook paused for 86400 s" in caplog.text
    now[0] += MAX_RETRY_AFTER
    assert gate.free_slots() > 0


def test_the_deadline_result_is_a_retry_naming_the_endpoint() -> None:
    result = deadline_passed(2, "https://u:p@h.example/x?k=1")
    assert result.outcome is Outcome.RETRY
    assert result.error == "timed out: no complete answer within 2 s (h.example:443)"


class _Type(ConnectorTypeBase):
    def __init__(self) -> None:
        pass


@pytest.mark.parametrize(
    ("status", "ok", "says"),
    [
        (200, True, "reached and accepted (HTTP 200)"),
        (204, True, "reached and accepted (HTTP 204)"),
        (404, True, "reached and accepted (HTTP 404)"),
        (405, True, "reached and accepted (HTTP 405)"),
        (401, False, "credentials were refused (HTTP 401)"),
        (403, False, "credentials were refused (HTTP 403)"),
        (307, False, "redirected to https://h.example/x"),
        (500, False, "the endpoint is failing (HTTP 500"),
        (503, False, "the endpoint is failing (HTTP 503"),
    ],
)
def test_the_default_probe_verdict(status: int, ok: bool, says: str) -> None:
    answer = classify_status(status, {"Location": "https://h.example/x"}, "no")
    report = _Type().judge_probe(answer)
    assert report.ok is ok
    assert says in report.detail


def test_an_unreachable_probe_is_not_ok() -> None:
    report = _Type().judge_probe(AttemptResult(Outcome.RETRY, error="connection failed: refused"))
    assert not report.ok and report.detail == "not reachable: connection failed: refused"
