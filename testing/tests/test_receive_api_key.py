"""``writeback receive --api-key``, as a real process: the header checked on every request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from writeback_testing.receive import parse_api_key

KEY = "k-0123456789abcdef"


def test_the_key_header_is_judged_and_a_wrong_or_missing_one_answered_401(receive: Any) -> None:
    receiver = receive("--api-key", f"X-Api-Key:{KEY}", "--fail", "503")
    with httpx.Client(timeout=10) as client:
        # Refused requests consume no planned answer: the 503 goes to the first valid one.
        assert client.post(receiver.url, json={"a": 1}).status_code == 401
        wrong = client.post(receiver.url, json={"a": 1}, headers={"X-Api-Key": "k-wrong"})
        assert wrong.status_code == 401
        right = {"x-api-key": KEY}  # header names are compared without case
        assert client.post(f"{receiver.url}/hooks", json={"a": 1}, headers=right).status_code == 503
        assert client.post(f"{receiver.url}/hooks", json={"a": 1}, headers=right).status_code == 200
    blocks = [receiver.block() for _ in range(4)]
    verdicts = [next(line for line in b if line.startswith("  api key:")) for b in blocks]
    assert verdicts == [
        "  api key: missing: no x-api-key header, answered 401",
        "  api key: wrong: x-api-key does not carry the expected key; answered 401",
        "  api key: valid (header x-api-key)",
        "  api key: valid (header x-api-key)",
    ]
    assert [b[0].rsplit(" -> ", 1)[1] for b in blocks] == ["401", "401", "503", "200"]
    assert "  x-api-key: *** (redacted)" in blocks[2]
    code, rest, stderr = receiver.stop()
    assert code == 0, stderr
    assert "stopped after 4 request(s)" in rest
    everything = "\n".join(receiver.seen) + stderr
    assert KEY not in everything and "k-wrong" not in everything


def test_a_key_in_a_header_of_any_name_is_redacted_and_checked_with_basic(receive: Any) -> None:
    receiver = receive("--api-key", f"Erp-Token:{KEY}", "--basic", "planner:pw-s3cret")
    with httpx.Client(timeout=10) as client:
        only_key = client.post(receiver.url, content=b"x", headers={"Erp-Token": KEY})
        both = client.post(
            receiver.url, content=b"x", headers={"Erp-Token": KEY}, auth=("planner", "pw-s3cret")
        )
    assert (only_key.status_code, both.status_code) == (401, 200)
    first, second = receiver.block(), receiver.block()
    assert "  erp-token: *** (redacted)" in first
    assert "  basic auth: missing: no Authorization header, answered 401" in first
    assert "  api key: valid (header erp-token)" in first
    assert "  api key: valid (header erp-token)" in second
    assert receiver.stop()[0] == 0
    assert KEY not in "\n".join(receiver.seen)


def test_the_key_may_come_from_a_variable(receive: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_RECEIVE_TEST_KEY", KEY)
    receiver = receive("--api-key", "X-Api-Key:env:WB_RECEIVE_TEST_KEY")
    with httpx.Client(timeout=10) as client:
        right = {"X-Api-Key": KEY}
        assert client.post(receiver.url, content=b"x", headers=right).status_code == 200
        literal = {"X-Api-Key": "env:WB_RECEIVE_TEST_KEY"}  # the variable's value, not its name
        assert client.post(receiver.url, content=b"x", headers=literal).status_code == 401
    assert "  api key: valid (header x-api-key)" in receiver.block()
    assert receiver.stop()[0] == 0
    assert KEY not in "\n".join(receiver.seen)


def test_api_key_grammar() -> None:
    assert parse_api_key("X-Api-Key:s3cret") == ("X-Api-Key", "s3cret")
    assert parse_api_key("X-Api-Key:a:b") == ("X-Api-Key", "a:b")  # a key may hold ':'
    for bad in ("", "s3cret", ":s3cret", "X-Api-Key:", "X Api:k", "X-Api-Key:  "):
        with pytest.raises(ValueError, match="--api-key must be HEADER:VALUE") as info:
            parse_api_key(bad)
        assert "s3cret" not in str(info.value)
