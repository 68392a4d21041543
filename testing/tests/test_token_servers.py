"""The OAuth2 server and the Entra-style authority, spoken to with plain HTTP clients."""

from __future__ import annotations

import base64
import ssl
from urllib.parse import quote_plus

import httpx
import pytest
from writeback_testing import WebhookReceiver
from writeback_testing.acceptors import BearerAcceptor
from writeback_testing.entra import EntraAuthority, TestCA
from writeback_testing.oauth2_server import OAuth2Server

SECRET = "p+a/s=s%w~o rd"
FORM = {"grant_type": "client_credentials"}


def basic(client_id: str, secret: str, *, encode: bool = True) -> dict[str, str]:
    if encode:
        client_id, secret = quote_plus(client_id), quote_plus(secret)
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.fixture
def server(writeback_oauth2_server: OAuth2Server) -> OAuth2Server:
    writeback_oauth2_server.register("b", SECRET, method="client_secret_basic")
    writeback_oauth2_server.register("p", SECRET, method="client_secret_post", scopes=["read"])
    return writeback_oauth2_server


def test_basic_client_gets_an_opaque_token(server: OAuth2Server, client: httpx.Client) -> None:
    answer = client.post(
        server.token_url, data={**FORM, "scope": "x y"}, headers=basic("b", SECRET)
    )
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "x y"
    assert server.principal(body["access_token"]) == "b"
    assert server.token_requests == 1 and server.issued("b") == 1


def test_basic_credentials_must_be_form_url_encoded(server: OAuth2Server, client) -> None:
    answer = client.post(server.token_url, data=FORM, headers=basic("b", SECRET, encode=False))
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    assert answer.headers["www-authenticate"].startswith("Basic")


def test_one_method_per_client(server: OAuth2Server, client: httpx.Client) -> None:
    in_body = {**FORM, "client_id": "b", "client_secret": SECRET}
    assert client.post(server.token_url, data=in_body).json()["error"] == "invalid_client"
    header = client.post(server.token_url, data=FORM, headers=basic("p", SECRET))
    assert header.json()["error"] == "invalid_client"
    both = client.post(server.token_url, data=in_body, headers=basic("b", SECRET))
    assert both.status_code == 401
    post = client.post(server.token_url, data={**FORM, "client_id": "p", "client_secret": SECRET})
    assert post.status_code == 200
    assert server.token_requests == 4 and server.issued() == 1


def test_grant_type_and_scope_are_checked(server: OAuth2Server, client: httpx.Client) -> None:
    creds = {"client_id": "p", "client_secret": SECRET}
    grant = client.post(server.token_url, data={"grant_type": "password", **creds})
    assert grant.json()["error"] == "unsupported_grant_type"
    scope = client.post(server.token_url, data={**FORM, **creds, "scope": "write"})
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"


def test_revoked_and_expired_tokens_stand_for_no_one(server, client: httpx.Client) -> None:
    def token() -> str:
        return client.post(server.token_url, data=FORM, headers=basic("b", SECRET)).json()[
            "access_token"
        ]

    first, second = token(), token()
    assert server.revoke(first) == 1
    assert server.principal(first) is None and server.principal(second) == "b"
    server.expire()
    assert server.principal(second) is None


def test_failures_on_demand(server: OAuth2Server) -> None:
    server.fail_next(1, status=503)
    server.hang_next(1)
    with httpx.Client(timeout=30) as client:
        assert (
            client.post(server.token_url, data=FORM, headers=basic("b", SECRET)).status_code == 503
        )
        with pytest.raises(httpx.ReadTimeout):
            client.post(server.token_url, data=FORM, headers=basic("b", SECRET), timeout=0.3)
    assert server.token_requests == 2


def test_no_lifetime_leaves_expires_in_out(client: httpx.Client) -> None:
    with OAuth2Server(lifetime=None) as server:
        server.register("b", "pw")
        body = client.post(server.token_url, data=FORM, headers=basic("b", "pw")).json()
    assert "expires_in" not in body


def test_a_webhook_accepts_only_live_tokens(server: OAuth2Server, client: httpx.Client) -> None:
    token = client.post(server.token_url, data=FORM, headers=basic("b", SECRET)).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    with WebhookReceiver(auth=BearerAcceptor(server.principal)) as hook:
        assert client.post(hook.url, json={}, headers=bearer).status_code == 200
        server.revoke()
        refused = client.post(hook.url, json={}, headers=bearer)
        assert refused.status_code == 401 and "invalid_token" in refused.headers["www-authenticate"]
        assert client.post(hook.url, json={}).status_code == 401
    assert [r.status for r in hook.requests] == [200, 401, 401]
    assert hook.requests[0].principal == "b" and len(hook.deliveries) == 1


def test_basic_auth_and_auth_are_exclusive() -> None:
    with pytest.raises(ValueError, match="not both"):
        WebhookReceiver(basic_auth=("u", "p"), auth=BearerAcceptor(lambda t: None))


def test_entra_authority_serves_discovery_and_tokens_over_tls(
    writeback_entra_authority: EntraAuthority, writeback_test_ca: TestCA
) -> None:
    authority = writeback_entra_authority
    authority.register("app", "pw")
    trust = ssl.create_default_context()
    writeback_test_ca.ca.configure_trust(trust)
    with httpx.Client(verify=trust, timeout=5) as client:
        config = client.get(f"{authority.url}/contoso/v2.0/.well-known/openid-configuration")
        assert config.json()["token_endpoint"] == f"{authority.url}/contoso/oauth2/v2.0/token"
        assert {"issuer", "authorization_endpoint"} <= set(config.json())
        answer = client.post(
            config.json()["token_endpoint"],
            data={**FORM, "client_id": "app", "client_secret": "pw", "scope": "s/.default"},
        )
        assert authority.principal(answer.json()["access_token"]) == "app"
        unknown = client.get(f"{authority.url}/fabrikam/v2.0/.well-known/openid-configuration")
        assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_tenant"
    assert authority.discovery_requests == 1 and authority.token_requests == 1


def test_entra_authority_is_not_trusted_without_the_ca(
    writeback_entra_authority: EntraAuthority,
) -> None:
    url = writeback_entra_authority.url + "/contoso/v2.0/.well-known/openid-configuration"
    with (
        httpx.Client(verify=ssl.create_default_context(), timeout=5) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.get(url)
    assert writeback_entra_authority.errors == []
