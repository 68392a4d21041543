"""oauth2 against token endpoints that redirect, trickle or flood, over both transports:
no redirect followed, the fetch ended at its deadline, at most 1 MiB of an answer read."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from writeback.plugin import AttemptError
from writeback_auth_oauth2 import OAuth2Mechanism
from writeback_testing.hostile import Answer, Flood, Redirect, Trickle

TRANSPORTS = ("httpx", "requests")
SECRET = "hostile+s3cret"
TOKEN = json.dumps({"access_token": "t", "token_type": "Bearer"}).encode()


def mechanism(make_connector: Callable[..., Any], token_url: str, transport: str) -> Any:
    connector = make_connector(token_url=token_url, client_id="wb", client_secret=SECRET)
    return OAuth2Mechanism(replace(connector.context(), transport=transport))


def fetch_error(mech: Any) -> AttemptError:
    with pytest.raises(AttemptError) as caught:
        mech.source.get()
    return caught.value


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_named(
    make_connector, writeback_hostile_factory, transport, status
):
    sink = writeback_hostile_factory(
        {"*": Answer(200, TOKEN, {"Content-Type": "application/json"})}
    )
    endpoint = writeback_hostile_factory(
        {"POST": Redirect(f"http://u:pw@127.0.0.1:{sink.port}/token?k=v", status)}
    )
    error = fetch_error(mechanism(make_connector, endpoint.url + "/token", transport))
    assert (error.code, error.retryable) == ("WB-312", False)
    assert f"answered HTTP {status}: redirected to http://127.0.0.1:{sink.port}/token?… (" in (
        error.message
    )
    assert "pw" not in error.message and "k=v" not in error.message
    assert sink.requests == [] and len(endpoint.requests) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_trickling_answer_ends_at_the_deadline(
    make_connector, writeback_hostile_factory, transport
):
    # Every byte comes well within a read timeout; the whole would take 9 s.
    endpoint = writeback_hostile_factory({"POST": Trickle(b" " * 30, interval=0.3)})
    mech = mechanism(make_connector, endpoint.url + "/token", transport)
    mech.request_timeout = 1.5
    error = fetch_error(mech)
    assert (error.code, error.retryable) == ("WB-314", True)
    assert "gave no complete answer within 1.5 s" in error.message
    assert endpoint.wait_abandoned(1) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [(200, "WB-317", False), (401, "WB-312", False), (502, "WB-313", True)],
)
def test_at_most_a_mebibyte_of_an_answer_is_read(
    make_connector, writeback_hostile_factory, transport, status, code, retryable
):
    endpoint = writeback_hostile_factory(
        {"POST": Flood(status, content_type="application/json", filler=b" ")}
    )
    error = fetch_error(mechanism(make_connector, endpoint.url + "/token", transport))
    assert (error.code, error.retryable) == (code, retryable)
    assert "the answer is longer than 1 MiB, not read further" in error.message
    assert endpoint.wait_abandoned(1) == 1
