"""BC over the JSON API page with token auth (oauth2, entra), end to end through the CLI.

The BC simulator accepts only bearer tokens its authorization server issued;
the worker gets them with the client credentials grant.
"""

from __future__ import annotations

import json
from typing import Any

from writeback_testing.acceptors import BearerAcceptor

from .conftest import appointment_event

SECRET = "client-Secret+/=%-0815"
BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"


def bc_row(name: str, uri: str, auth: dict[str, Any], source_app: str = "CRONUSUS"):
    return {
        "name": name,
        "type": "bc",
        "api_type": "json",
        "uri": uri,
        "source_app": source_app,
        "auth": auth,
        "retry": {"schedule": [0.2]},
        "coalesce": False,
    }


def test_oauth2_token_reused_and_refreshed_once_after_401(
    cli, writeback_bc_api_factory, writeback_oauth2_server
):
    server = writeback_oauth2_server
    server.register("wb", SECRET, method="client_secret_basic")
    served: list[str] = []

    def validate(token: str) -> str | None:
        principal = server.principal(token)
        if principal is not None:
            served.append(token)
            if len(served) == 2:
                server.revoke()  # from now on the first token is refused: 401, refresh, resend
        return principal

    api = writeback_bc_api_factory(auth=BearerAcceptor(validate))
    auth = {
        "method": "oauth2",
        "token_url": server.token_url,
        "client_id": "wb",
        "client_secret": SECRET,
        "scope": "api://bc/.default",
    }
    # One request per row ($batch off): the third request is the one refused.
    row = {**bc_row("bc", api.endpoint, auth), "options": {"batch_size": 1}}
    cli("connectors", "add", cli.file(row))
    events = [appointment_event("create", f"G{n}") for n in range(3)]
    made = cli("dispatch", cli.file("\n".join(json.dumps(e) for e in events)), "--json").json()
    cli("worker", "--until-idle", "--concurrency", "1")
    assert len(api.wait_for(3)) == 3
    assert all(row.principal == "wb" for row in api.rows)
    assert server.token_requests == 2  # one token for two rows, one fresh after the 401
    statuses = [r.status for r in api.requests]
    assert statuses.count(401) == 1 and statuses.count(201) == 3
    for m in made:
        shown = cli("deliveries", "show", m["deliveries"][0]["id"], "--json").json()
        assert shown["status"] == "delivered" and shown["attempts"] == 1
    assert SECRET not in "".join(cli.outputs)


def test_oauth2_wrong_secret_goes_dead(cli, writeback_bc_api_factory, writeback_oauth2_server):
    server = writeback_oauth2_server
    server.register("wb", SECRET)
    api = writeback_bc_api_factory(auth=BearerAcceptor(server.principal))
    auth = {
        "method": "oauth2",
        "token_url": server.token_url,
        "client_id": "wb",
        "client_secret": "Wrong-Secret-42",
    }
    cli("connectors", "add", cli.file(bc_row("bc", api.endpoint, auth)))
    cli("dispatch", cli.file(appointment_event("create", "G1")), "--wait", check=1)
    [dead] = cli("deliveries", "list", "--status", "dead", "--json").json()
    assert dead["attempts"] == 1 and "invalid_client" in dead["last_error"]
    assert api.rows == [] and api.requests == []
    assert "Wrong-Secret-42" not in "".join(cli.outputs)


def test_entra_with_the_bc_scope_by_default(
    cli, writeback_bc_api_factory, writeback_entra_authority, writeback_test_ca_bundle
):
    authority = writeback_entra_authority
    # Only BC's scope is granted: the row names none, so the default must be sent.
    authority.register("wb-app", SECRET, scopes=[BC_SCOPE])
    api = writeback_bc_api_factory(auth=BearerAcceptor(authority.principal))
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        cli.env[name] = str(writeback_test_ca_bundle)
    cli.env.pop("CURL_CA_BUNDLE", None)
    cli.env["WB_ENTRA_SECRET"] = SECRET
    auth = {
        "method": "entra",
        "tenant_id": authority.tenant,
        "client_id": "wb-app",
        "client_secret": "env:WB_ENTRA_SECRET",
        "authority": authority.url,
    }
    cli("connectors", "add", cli.file(bc_row("bc", api.endpoint, auth)))
    assert "ok: bc" in cli("connectors", "test", "bc").stdout
    events = [appointment_event("create", "G1"), appointment_event("update", "G1")]
    cli("dispatch", cli.file(events), "--wait")
    rows = api.wait_for(2)
    assert [r.fields["databaseAction"] for r in rows] == ["I", "U"]
    assert all(r.principal == "wb-app" for r in rows)
    assert SECRET not in "".join(cli.outputs)
