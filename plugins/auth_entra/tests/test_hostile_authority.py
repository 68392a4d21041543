"""entra against authorities that redirect, trickle or flood (msal's requests session):
no redirect followed, discovery and token request ended at one deadline, at most
1 MiB of an answer read."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from writeback.plugin import AttemptError
from writeback_auth_entra import EntraMechanism
from writeback_testing.hostile import Answer, Flood, OpenIdConfiguration, Redirect, Trickle

SECRET = "hostile+entra/s3cret"
TOKEN = json.dumps({"access_token": "t", "token_type": "Bearer"}).encode()


def mechanism(make_connector: Callable[..., Any], authority: str) -> Any:
    connector = make_connector(
        tenant_id="contoso",
        client_id="app",
        client_secret=SECRET,
        scope="api://x/.default",
        authority=authority,
    )
    return EntraMechanism(connector.context())


def fetch_error(mech: Any) -> AttemptError:
    with pytest.raises(AttemptError) as caught:
        mech.source.get()
    return caught.value


@pytest.fixture
def sink(writeback_hostile_factory: Any) -> Any:
    """Where a followed redirect would take the request: plain http, answering a token."""
    return writeback_hostile_factory(
        {"*": Answer(200, TOKEN, {"Content-Type": "application/json"})}
    )


@pytest.mark.usefixtures("writeback_trust_test_ca")
@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_redirected_token_request_is_not_followed(
    make_connector, writeback_hostile_factory, sink, status
):
    authority = writeback_hostile_factory(
        {
            "GET": OpenIdConfiguration(),
            "POST": Redirect(f"http://x:pw@127.0.0.1:{sink.port}/steal?c=1", status),
        },
        tls=True,
    )
    error = fetch_error(mechanism(make_connector, authority.url))
    assert (error.code, error.retryable) == ("WB-312", False)
    assert error.message.startswith(
        f"the token endpoint 127.0.0.1:{authority.port} answered HTTP {status}: redirected to "
        f"http://127.0.0.1:{sink.port}/steal?… (redirects are not followed)"
    )
    assert sink.requests == []
    assert [r.method for r in authority.requests] == ["GET", "POST"]


@pytest.mark.usefixtures("writeback_trust_test_ca")
def test_a_redirected_discovery_is_not_followed(make_connector, writeback_hostile_factory, sink):
    authority = writeback_hostile_factory(
        {"GET": Redirect(f"http://127.0.0.1:{sink.port}/openid", 302)}, tls=True
    )
    error = fetch_error(mechanism(make_connector, authority.url))
    assert (error.code, error.retryable) == ("WB-312", False)
    assert f"redirected to http://127.0.0.1:{sink.port}/openid (" in error.message
    assert sink.requests == []


@pytest.mark.usefixtures("writeback_trust_test_ca")
@pytest.mark.parametrize("leg", ["GET", "POST"])
def test_a_trickling_authority_is_cut_at_the_deadline(
    make_connector, writeback_hostile_factory, leg
):
    # Every byte well within a read timeout; the whole would take 9 s.
    behaviours: dict[str, Any] = {"GET": OpenIdConfiguration()}
    behaviours[leg] = Trickle(b" " * 30, interval=0.3)
    authority = writeback_hostile_factory(behaviours, tls=True)
    mech = mechanism(make_connector, authority.url)
    mech.request_timeout = 1.5
    error = fetch_error(mech)
    assert (error.code, error.retryable) == ("WB-314", True)
    assert "gave no complete answer within 1.5 s" in error.message
    assert authority.wait_abandoned(1) == 1


@pytest.mark.usefixtures("writeback_trust_test_ca")
@pytest.mark.parametrize(("status", "code"), [(200, "WB-317"), (503, "WB-313")])
def test_at_most_a_mebibyte_of_a_token_answer_is_read(
    make_connector, writeback_hostile_factory, status, code
):
    authority = writeback_hostile_factory(
        {"GET": OpenIdConfiguration(), "POST": Flood(status, content_type="application/json")},
        tls=True,
    )
    error = fetch_error(mechanism(make_connector, authority.url))
    assert error.code == code
    assert "the answer is longer than 1 MiB, not read further" in error.message
    assert authority.wait_abandoned(1) == 1
