"""BC over the SOAP page with token auth (oauth2, entra), end to end through the CLI.

The SOAP format sends through requests in worker threads; the tokens come from
the same core token source as on httpx. The page accepts only bearer tokens its
authorization server issued.
"""

from __future__ import annotations

from typing import Any

from writeback_testing.acceptors import BearerAcceptor

from .conftest import appointment_event
from .test_delivery_engine import events_file

SECRET = "soap-Secret+/=%~ 0815"
BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"


def soap_row(uri: str, auth: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "bc-soap",
        "type": "bc",
        "api_type": "soap",
        "uri": uri,
        "source_app": "CRONUSUS",
        "auth": auth,
        "retry": {"schedule": [0.2]},
        "coalesce": False,
        # Tokens over plain http are refused unless the row says so (loopback here).
        "options": {"allow_insecure_http": True},
    }


def test_oauth2_over_soap_one_token_then_one_refresh_after_a_401(
    cli, writeback_soap_page_factory, writeback_oauth2_server
):
    server = writeback_oauth2_server
    server.register("wb", SECRET, method="client_secret_basic")
    seen: list[str] = []

    def validate(token: str) -> str | None:
        principal = server.principal(token)
        if principal is not None:
            seen.append(token)
            if len(seen) == 3:  # the WSDL and two calls with the first token, then revoked
                server.revoke()
        return principal

    page = writeback_soap_page_factory(auth=BearerAcceptor(validate))
    auth = {
        "method": "oauth2",
        "token_url": server.token_url,
        "client_id": "wb",
        "client_secret": SECRET,
        "scope": "api://bc/.default",
    }
    cli("connectors", "add", cli.file(soap_row(page.page_url, auth)))
    events = [appointment_event("create" if n == 0 else "update", "G1", seq=n) for n in range(4)]
    cli("dispatch", events_file(cli, events), "--wait")
    calls = page.wait_for(4)
    assert [r["Database_Action"] for r in page.records] == ["I", "U", "U", "U"]
    assert all(c.principal == "wb" for c in calls)
    assert server.token_requests == 2  # one token, one more after the 401
    assert SECRET not in "".join(cli.outputs)


def test_oauth2_over_plain_http_soap_is_refused_without_the_option(cli, writeback_oauth2_server):
    row = soap_row("http://bc.example.test:7047/BC/WS/CRONUS/Page/Appointment", {
        "method": "oauth2", "token_url": writeback_oauth2_server.token_url,
        "client_id": "wb", "client_secret": SECRET,
    })  # fmt: skip
    row["options"] = {}
    refused = cli("connectors", "validate", cli.file(row), check=2)
    assert "allow_insecure_http" in refused.stderr and SECRET not in refused.stderr


def test_entra_over_soap_with_the_bc_scope(
    cli, writeback_soap_page_factory, writeback_entra_authority, writeback_test_ca_bundle
):
    authority = writeback_entra_authority
    authority.register("wb-app", SECRET, scopes=[BC_SCOPE])
    page = writeback_soap_page_factory(auth=BearerAcceptor(authority.principal))
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        cli.env[name] = str(writeback_test_ca_bundle)
    cli.env.pop("CURL_CA_BUNDLE", None)
    auth = {
        "method": "entra",
        "tenant_id": authority.tenant,
        "client_id": "wb-app",
        "client_secret": SECRET,
        "authority": authority.url,
    }
    cli("connectors", "add", cli.file(soap_row(page.page_url, auth)))
    assert "ok: bc-soap" in cli("connectors", "test", "bc-soap").stdout
    cli("dispatch", cli.file(appointment_event("create", "G9")), "--wait")
    [call] = page.wait_for(1)
    assert call.principal == "wb-app" and page.records[0]["Appointment_Guid"] == "G9"
    assert SECRET not in "".join(cli.outputs)
