"""entra against a real Entra-style authority over HTTPS signed by a test CA."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests
import writeback_json  # noqa: F401  (deliveries go out over the json format)
from writeback.plugin import AttemptError, Delivery, Outcome, Pipeline
from writeback_auth_entra import EntraMechanism
from writeback_testing.acceptors import BearerAcceptor
from writeback_testing.entra import EntraAuthority
from writeback_testing.webhook import WebhookReceiver

SECRET = "entra+s3cr/et= %~"
TRANSPORTS = ("httpx", "requests")


@pytest.fixture
def authority(writeback_entra_authority: EntraAuthority) -> EntraAuthority:
    writeback_entra_authority.register("app", SECRET)
    return writeback_entra_authority


@pytest.fixture
def receiver(authority: EntraAuthority) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(auth=BearerAcceptor(authority.principal)) as hook:
        yield hook


def settings(authority: EntraAuthority, **auth: Any) -> dict[str, Any]:
    return {
        "tenant_id": authority.tenant,
        "client_id": "app",
        "client_secret": SECRET,
        "scope": "https://api.businesscentral.dynamics.com/.default",
        "authority": authority.url,
        **auth,
    }


def mechanism(
    make_connector: Callable[..., Any],
    authority: EntraAuthority,
    transport: str = "httpx",
    **auth: Any,
) -> EntraMechanism:
    context = make_connector(**settings(authority, **auth)).context()
    return EntraMechanism(replace(context, transport=transport))


def test_an_untrusted_authority_fails_clearly_then_works_once_trusted(
    make_connector, authority, writeback_test_ca_bundle, monkeypatch
):
    for variable in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(variable, raising=False)
    mech = mechanism(make_connector, authority)
    mech.source.failure_hold = 0
    with pytest.raises(AttemptError) as caught:
        mech.source.get()
    assert (caught.value.code, caught.value.retryable) == ("WB-316", True)
    assert "TLS certificate not trusted" in caught.value.message
    assert "SSL_CERT_FILE or REQUESTS_CA_BUNDLE" in caught.value.message
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(writeback_test_ca_bundle))
    assert authority.principal(mech.source.get().access_token) == "app"


def test_ssl_cert_file_is_honoured_even_when_requests_ca_bundle_names_another(
    make_connector, authority, writeback_test_ca_bundle, monkeypatch
):
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # does not hold the test CA
    monkeypatch.setenv("SSL_CERT_FILE", str(writeback_test_ca_bundle))
    assert mechanism(make_connector, authority).source.get().access_token


def test_an_unreadable_ca_bundle_is_one_clear_retryable_sentence(
    make_connector, authority, tmp_path, monkeypatch
):
    missing = tmp_path / "missing.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(missing))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    mech = mechanism(make_connector, authority)
    mech.source.failure_hold = 0
    with pytest.raises(AttemptError) as caught:
        mech.source.get()
    assert (caught.value.code, caught.value.retryable) == ("WB-315", True)
    assert f"the CA bundle {missing} named by REQUESTS_CA_BUNDLE cannot be loaded" in (
        caught.value.message
    )


@pytest.mark.usefixtures("writeback_trust_test_ca")
class TestTrusted:
    def test_one_application_is_built_and_each_request_asks_the_authority(
        self, make_connector, authority
    ):
        mech = mechanism(make_connector, authority)
        first = mech.source.get()
        assert mech.source.invalidate(first)
        second = mech.source.get()
        assert first.access_token != second.access_token  # msal's cache was not used
        assert authority.token_requests == 2
        assert authority.discovery_requests == 1
        assert second.scope == "https://api.businesscentral.dynamics.com/.default"

    @pytest.mark.parametrize("transport", TRANSPORTS)
    def test_threads_at_a_cold_start_make_one_token_request(
        self, make_connector, authority, transport
    ):
        authority.delay = 0.2
        mech = mechanism(make_connector, authority, transport)
        tokens: list[str] = []
        threads = [
            threading.Thread(target=lambda: tokens.append(mech.source.get().access_token))
            for _ in range(50)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(tokens) == 50 and len(set(tokens)) == 1
        assert authority.token_requests == 1

    def test_fifty_concurrent_deliveries_make_one_token_request(
        self, make_connector, authority, receiver
    ):
        authority.delay = 0.2
        connector = make_connector(uri=receiver.url, **settings(authority))

        async def run() -> list[Any]:
            pipeline = Pipeline.build(connector)
            try:
                return await asyncio.gather(
                    *(
                        pipeline.send(Delivery(f"d{i}", f"e{i}", "create", {"n": i}, None))
                        for i in range(50)
                    )
                )
            finally:
                await pipeline.aclose()

        results = asyncio.run(run())
        assert [r.outcome for r in results] == [Outcome.DELIVERED] * 50
        assert authority.token_requests == 1

    def test_requests_transport_sends_the_bearer_token(self, make_connector, authority, receiver):
        mech = mechanism(make_connector, authority, "requests")
        with requests.Session() as session:
            answer = session.post(receiver.url, json={}, auth=mech.for_transport("requests"))
        assert answer.status_code == 200
        assert receiver.requests[-1].principal == "app"

    def test_a_wrong_secret_is_dead_and_never_quoted(self, make_connector, authority):
        mech = mechanism(make_connector, authority, client_secret="wrong-secret-123")
        with pytest.raises(AttemptError) as caught:
            mech.source.get()
        assert (caught.value.code, caught.value.retryable) == ("WB-310", False)
        assert "wrong-secret-123" not in str(caught.value)

    def test_a_server_error_is_retried_and_msal_does_not_replay_it(self, make_connector, authority):
        mech = mechanism(make_connector, authority)
        mech.source.get()  # the application is built
        mech.source.invalidate(mech.source.peek())
        mech.source.failure_hold = 0
        authority.fail_next(1, status=503)
        with pytest.raises(AttemptError) as caught:
            mech.source.get()
        assert (caught.value.code, caught.value.retryable) == ("WB-313", True)
        assert mech.source.get().access_token  # at once: msal's 5 s throttle is bypassed
        assert authority.token_requests == 3

    def test_an_unknown_tenant_is_dead(self, make_connector, authority):
        mech = mechanism(make_connector, authority, tenant_id="fabrikam")
        with pytest.raises(AttemptError) as caught:
            mech.source.get()
        assert caught.value.code == "WB-312" and not caught.value.retryable
        assert "tenant 'fabrikam'" in caught.value.message

    def test_a_silent_authority_times_out_retryably(self, make_connector, authority):
        mech = mechanism(make_connector, authority)
        mech.source.get()
        mech.source.invalidate(mech.source.peek())
        authority.hang_next(1)
        mech.request_timeout = 0.3
        with pytest.raises(AttemptError) as caught:
            mech.source.get()
        assert (caught.value.code, caught.value.retryable) == ("WB-314", True)

    def test_describe_reports_lifetime_and_scope_never_the_token(self, make_connector, authority):
        mech = mechanism(make_connector, authority)
        line = asyncio.run(mech.describe())
        token = mech.source.peek()
        assert token is not None and token.access_token not in line
        assert line == (
            f"token from 127.0.0.1:{authority.port}: Bearer, lifetime 3600 s (3600 s left), "
            "scope 'https://api.businesscentral.dynamics.com/.default'"
        )
