"""oauth2 against a real, strict OAuth2 server on 127.0.0.1, over httpx and requests."""

from __future__ import annotations

import asyncio
import base64
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import writeback_json  # noqa: F401  (deliveries go out over the json format)
from writeback._secrets import REDACTOR
from writeback.plugin import AttemptError, Delivery, EnvSecretMissingError, Outcome, Pipeline
from writeback_auth_oauth2 import OAuth2Mechanism, encode_client_secret_basic
from writeback_testing.acceptors import BearerAcceptor
from writeback_testing.oauth2_server import OAuth2Server
from writeback_testing.webhook import WebhookReceiver

TRANSPORTS = ("httpx", "requests")
#: A secret with every character RFC 6749 §2.3.1 encoding changes.
AWKWARD_SECRET = "s3c+r/e=t%2B~ x"


@pytest.fixture
def server(writeback_oauth2_server: OAuth2Server) -> OAuth2Server:
    writeback_oauth2_server.register("basic-client", AWKWARD_SECRET, method="client_secret_basic")
    writeback_oauth2_server.register("post-client", AWKWARD_SECRET, method="client_secret_post")
    return writeback_oauth2_server


@pytest.fixture
def receiver(server: OAuth2Server) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(auth=BearerAcceptor(server.principal)) as hook:
        yield hook


def mechanism(
    make_connector: Callable[..., Any], server: Any, transport: str = "httpx", **auth: Any
) -> OAuth2Mechanism:
    settings = {
        "token_url": auth.pop("token_url", None) or server.token_url,
        "client_id": "basic-client",
        "client_secret": AWKWARD_SECRET,
        **auth,
    }
    context = make_connector(**settings).context()
    from dataclasses import replace

    return OAuth2Mechanism(replace(context, transport=transport))


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("client_id", "client_auth"),
    [("basic-client", "client_secret_basic"), ("post-client", "client_secret_post")],
)
def test_each_client_auth_method_works_where_the_server_expects_it(
    make_connector, server, transport, client_id, client_auth
):
    mech = mechanism(
        make_connector, server, transport, client_id=client_id, client_auth=client_auth, scope="a b"
    )
    token = mech.source.get()
    assert server.principal(token.access_token) == client_id
    assert token.scope == "a b" and token.lifetime == pytest.approx(3600)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("client_id", "client_auth"),
    [("basic-client", "client_secret_post"), ("post-client", "client_secret_basic")],
)
def test_the_other_method_is_refused_as_wrong_credentials(
    make_connector, server, transport, client_id, client_auth
):
    mech = mechanism(
        make_connector, server, transport, client_id=client_id, client_auth=client_auth
    )
    with pytest.raises(AttemptError) as caught:
        mech.source.get()
    assert caught.value.code == "WB-310" and not caught.value.retryable
    assert f"client {client_id!r}" in caught.value.message
    assert AWKWARD_SECRET not in str(caught.value)


def test_basic_credentials_are_form_url_encoded_before_base64():
    class Client:
        client_id = "id:with space"
        client_secret = AWKWARD_SECRET

    _, headers, body = encode_client_secret_basic(Client(), "POST", "https://h/t", {}, "a=b")
    decoded = base64.b64decode(headers["Authorization"].removeprefix("Basic ")).decode()
    assert decoded == "id%3Awith+space:s3c%2Br%2Fe%3Dt%252B~+x"
    assert body == "a=b"  # and nothing in the body


def test_authlibs_own_basic_encoding_fails_on_the_strict_server(server):
    """Why encode_client_secret_basic exists: authlib sends the secret raw."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from authlib.integrations.requests_client import OAuth2Session
    from authlib.integrations.base_client import OAuthError

    with OAuth2Session("basic-client", AWKWARD_SECRET) as naive, pytest.raises(OAuthError):
        naive.fetch_token(server.token_url, grant_type="client_credentials")


def deliver_many(connector, n: int) -> list[Any]:
    async def run() -> list[Any]:
        pipeline = Pipeline.build(connector)
        try:
            deliveries = [
                Delivery(f"dlv_{i}", f"evt_{i}", "create", {"appointmentNo": f"A-{i}"}, None)
                for i in range(n)
            ]
            return await asyncio.gather(*(pipeline.send(d) for d in deliveries))
        finally:
            await pipeline.aclose()

    return asyncio.run(run())


def test_fifty_concurrent_deliveries_make_one_token_request(make_connector, server, receiver):
    server.delay = 0.2  # every delivery arrives while the one token request is out
    connector = make_connector(
        uri=receiver.url + "/hook",
        token_url=server.token_url,
        client_id="basic-client",
        client_secret=AWKWARD_SECRET,
    )
    results = deliver_many(connector, 50)
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 50
    assert server.token_requests == 1
    assert {r.principal for r in receiver.requests} == {"basic-client"}


def test_a_revoked_token_gets_one_refresh_and_the_delivery_succeeds(
    make_connector, server, receiver
):
    connector = make_connector(
        uri=receiver.url + "/hook",
        token_url=server.token_url,
        client_id="post-client",
        client_secret=AWKWARD_SECRET,
        client_auth="client_secret_post",
    )
    assert deliver_many(connector, 1)[0].outcome is Outcome.DELIVERED
    server.revoke()
    results = deliver_many(connector, 20)  # a new pipeline, so a new in-process source
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 20
    assert server.token_requests == 2


def test_a_401_after_a_fresh_token_fails_without_a_third_try(make_connector, server):
    with WebhookReceiver(auth=BearerAcceptor(lambda token: None)) as hook:
        connector = make_connector(
            uri=hook.url,
            token_url=server.token_url,
            client_id="basic-client",
            client_secret=AWKWARD_SECRET,
        )
        (result,) = deliver_many(connector, 1)
        assert result.outcome is Outcome.FAILED and result.status_code == 401
        assert hook.count(401) == 2 and server.token_requests == 2


def test_requests_transport_threads_share_one_token(make_connector, server, receiver):
    server.delay = 0.2
    mech = mechanism(make_connector, server, "requests")
    statuses: list[int] = []

    def send() -> None:
        with requests.Session() as session:
            statuses.append(
                session.post(receiver.url, json={}, auth=mech.for_transport("requests")).status_code
            )

    # Eight threads, as a SOAP connector's pool has; more would overrun the receiver's backlog.
    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert statuses == [200] * 8 and server.token_requests == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_server_error_is_retryable(make_connector, server, transport):
    server.fail_next(1, status=503)
    with pytest.raises(AttemptError) as caught:
        mechanism(make_connector, server, transport).source.get()
    assert (caught.value.code, caught.value.retryable) == ("WB-313", True)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_silent_token_endpoint_times_out_retryably(make_connector, server, transport):
    server.hang_next(1)
    mech = mechanism(make_connector, server, transport)
    mech.request_timeout = 0.3
    with pytest.raises(AttemptError) as caught:
        mech.source.get()
    assert (caught.value.code, caught.value.retryable) == ("WB-314", True)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_unreachable_token_endpoint_is_retryable(make_connector, server, transport, refused_url):
    mech = mechanism(make_connector, server, transport, token_url=refused_url)
    with pytest.raises(AttemptError) as caught:
        mech.source.get()
    assert caught.value.code == "WB-315" and caught.value.retryable
    assert "Connection refused" in caught.value.message


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_unreadable_ca_bundle_is_one_clear_retryable_sentence(
    make_connector, server, transport, tmp_path, monkeypatch
):
    missing = tmp_path / "missing.pem"
    monkeypatch.setenv("SSL_CERT_FILE", str(missing))
    with pytest.raises(AttemptError) as caught:
        mechanism(make_connector, server, transport).source.get()
    assert (caught.value.code, caught.value.retryable) == ("WB-315", True)
    assert f"the CA bundle {missing} named by SSL_CERT_FILE cannot be loaded" in (
        caught.value.message
    )
    assert server.token_requests == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_non_token_answer_is_refused(make_connector, transport, http_server):
    http_server.reply(200, b"<html>login page</html>", content_type="text/html")
    mech = mechanism(make_connector, http_server, transport, token_url=http_server.url + "/x")
    with pytest.raises(AttemptError) as caught:
        mech.source.get()
    assert caught.value.code == "WB-317" and not caught.value.retryable


def test_invalid_scope_is_its_own_code(make_connector, server):
    server.register("scoped", "pw", method="client_secret_basic", scopes=["read"])
    mech = mechanism(make_connector, server, client_id="scoped", client_secret="pw", scope="write")
    with pytest.raises(AttemptError, match="WB-311"):
        mech.source.get()


def test_describe_reports_lifetime_and_scope_never_the_token(make_connector, server):
    mech = mechanism(make_connector, server, scope="api://bc/.default")
    line = asyncio.run(mech.describe())
    token = mech.source.peek()
    assert token is not None and token.access_token not in line
    assert line.startswith(f"token from 127.0.0.1:{server.port}: Bearer, lifetime 3600 s")
    assert line.endswith("scope 'api://bc/.default'")


def test_an_env_secret_is_read_at_request_time(make_connector, server, monkeypatch):
    mech = mechanism(make_connector, server, client_secret="env:WB_TEST_OAUTH2_SECRET")
    mech.source.failure_hold = 0
    with pytest.raises(EnvSecretMissingError, match="WB_TEST_OAUTH2_SECRET"):
        mech.source.get()
    monkeypatch.setenv("WB_TEST_OAUTH2_SECRET", AWKWARD_SECRET)
    assert server.principal(mech.source.get().access_token) == "basic-client"
    assert REDACTOR.redact(f"echo {AWKWARD_SECRET}") == "echo ***"
