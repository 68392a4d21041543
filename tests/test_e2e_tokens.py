"""Done-when of the token auth issue, through the real CLI against the real simulators."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from writeback_testing.acceptors import BearerAcceptor
from writeback_testing.entra import EntraAuthority
from writeback_testing.oauth2_server import OAuth2Server

from .conftest import appointment_event, webhook_row

SECRET = "e2e+s3cr/et=%~ 42"
WRONG = "wrong-Secret-4242"


def oauth2_row(name: str, uri: str, server: OAuth2Server, **auth: Any) -> dict[str, Any]:
    settings = {"token_url": server.token_url, "client_id": "basic-client", "client_secret": SECRET}
    return webhook_row(name, uri, auth={"method": "oauth2", **settings, **auth})


def entra_row(name: str, uri: str, authority: EntraAuthority, **auth: Any) -> dict[str, Any]:
    settings = {
        "tenant_id": authority.tenant,
        "client_id": "app",
        "client_secret": SECRET,
        "scope": "api://hook/.default",
        "authority": authority.url,
    }
    return webhook_row(name, uri, auth={"method": "entra", **settings, **auth})


def events(n: int, prefix: str = "G") -> str:
    import json

    return "\n".join(json.dumps(appointment_event("create", f"{prefix}{i}")) for i in range(n))


def statuses(cli: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for d in cli("deliveries", "list", "--json").json():
        found.setdefault(d["connector"], []).append(d["status"])
    return found


@pytest.fixture
def server(writeback_oauth2_server: OAuth2Server) -> OAuth2Server:
    writeback_oauth2_server.register("basic-client", SECRET, method="client_secret_basic")
    writeback_oauth2_server.register("post-client", SECRET, method="client_secret_post")
    return writeback_oauth2_server


@pytest.fixture
def hook(server: OAuth2Server, writeback_receiver_factory: Any) -> Any:
    return writeback_receiver_factory(auth=BearerAcceptor(server.principal))


def test_each_client_auth_method_succeeds_only_where_the_server_expects_it(cli, server, hook):
    rows = [
        oauth2_row("basic-ok", hook.url, server),
        oauth2_row(
            "post-ok", hook.url, server, client_id="post-client", client_auth="client_secret_post"
        ),
        oauth2_row("basic-wrong", hook.url, server, client_id="post-client"),
        oauth2_row("post-wrong", hook.url, server, client_auth="client_secret_post"),
    ]
    cli("connectors", "add", cli.file(rows))
    cli("dispatch", cli.file(events(1)))
    cli("worker", "--until-idle")
    assert statuses(cli) == {
        "basic-ok": ["delivered"],
        "post-ok": ["delivered"],
        "basic-wrong": ["dead"],
        "post-wrong": ["dead"],
    }
    dead = [d for d in cli("deliveries", "list", "--json").json() if d["status"] == "dead"]
    assert all(d["last_error"].startswith("WB-310: the token endpoint") for d in dead)
    assert all(d["attempts"] == 1 for d in dead)  # dead at once, not retried
    assert sorted(r.principal for r in hook.deliveries) == ["basic-client", "post-client"]


def test_fifty_concurrent_deliveries_make_one_token_request(cli, server, hook):
    server.delay = 0.3  # every delivery is waiting while the one request is out
    cli(
        "connectors",
        "add",
        cli.file(
            oauth2_row(
                "hook",
                hook.url,
                server,
            )
            | {"throttle": {"max_concurrency": 50}}
        ),
    )
    cli("dispatch", cli.file(events(50)))
    cli("worker", "--until-idle", "--concurrency", "50")
    assert statuses(cli) == {"hook": ["delivered"] * 50}
    assert server.token_requests == 1
    assert len(hook.deliveries) == 50


def test_after_expiry_exactly_one_refresh(cli, server, hook):
    server.lifetime = 2  # refreshed 0.2 s before it expires
    cli("connectors", "add", cli.file(oauth2_row("hook", hook.url, server)))
    cli("dispatch", cli.file(events(10, "A")))
    cli("worker", "--until-idle", "--concurrency", "10")
    assert server.token_requests == 1
    # The next token lasts: however slowly a busy machine sends the 30, one is enough.
    server.lifetime = 3600
    time.sleep(2.1)  # the token's lifetime passing, not synchronisation
    cli("dispatch", cli.file(events(30, "B")))
    cli("worker", "--until-idle", "--concurrency", "30")
    assert statuses(cli) == {"hook": ["delivered"] * 40}
    assert server.token_requests == 2
    assert hook.count(401) == 0  # refreshed ahead, never sent expired


def test_a_401_leads_to_one_refresh_and_success(cli, server, hook):
    cli("connectors", "add", cli.file(oauth2_row("hook", hook.url, server)))
    cli("dispatch", cli.file(events(1, "A")))
    cli("worker", "--until-idle")
    server.revoke()  # the stored token is still fresh by its expiry: only a 401 tells
    cli("dispatch", cli.file(events(10, "B")))
    cli("worker", "--until-idle", "--concurrency", "10")
    assert statuses(cli) == {"hook": ["delivered"] * 11}
    assert server.token_requests == 2
    assert 1 <= hook.count(401) <= 10
    listed = cli("deliveries", "list", "--json").json()
    assert [d["attempts"] for d in listed] == [1] * 11  # the resend is inside the attempt


def test_a_wrong_secret_goes_dead_with_a_clear_message_and_the_secret_nowhere(
    cli, server, hook, tmp_path: Path
):
    cli("connectors", "add", cli.file(oauth2_row("hook", hook.url, server, client_secret=WRONG)))
    cli("dispatch", cli.file(events(3)))
    cli("worker", "--until-idle")
    listed = cli("deliveries", "list", "--json").json()
    assert [d["status"] for d in listed] == ["dead"] * 3
    assert listed[0]["last_error"] == (
        f"WB-310: the token endpoint 127.0.0.1:{server.port} refused the credentials of client "
        "'basic-client' (invalid_client: client authentication failed); check auth.client_id "
        "and auth.client_secret."
    )
    cli("deliveries", "show", listed[0]["id"], "--json")
    cli("connectors", "show", "hook", "--json")
    cli("connectors", "test", "hook", check=1)
    assert server.token_requests <= 2  # a burst of failures does not hammer the server
    for text in cli.outputs:
        assert WRONG not in text
    for path in tmp_path.glob("writeback.db*"):
        assert WRONG.encode() not in path.read_bytes(), path


def test_connectors_test_reports_the_token_and_never_prints_it(cli, server, hook):
    cli(
        "connectors",
        "add",
        cli.file(oauth2_row("hook", hook.url, server, scope="api://x/.default")),
    )
    run = cli("connectors", "test", "hook")
    assert "lifetime 3600 s" in run.stdout + run.stderr
    assert "scope 'api://x/.default'" in run.stdout + run.stderr
    (issued,) = server._tokens  # the simulator's record of what it issued
    assert all(issued not in text for text in cli.outputs)


def test_an_untrusted_tls_authority_fails_clearly_then_succeeds_once_trusted(
    cli, writeback_entra_authority, writeback_receiver_factory, writeback_test_ca_bundle
):
    import certifi

    authority = writeback_entra_authority
    authority.register("app", SECRET)
    hook = writeback_receiver_factory(auth=BearerAcceptor(authority.principal))
    for variable in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        cli.env[variable] = certifi.where()  # a real bundle, without the test CA
    # Two attempts: more failures in a row would open the connector's circuit and wait it out.
    row = entra_row("entra-hook", hook.url, authority) | {"retry": {"schedule": [0.2]}}
    cli("connectors", "add", cli.file(row))
    cli("dispatch", cli.file(events(2)))
    cli("worker", "--until-idle")
    listed = cli("deliveries", "list", "--json").json()
    assert [d["status"] for d in listed] == ["dead"] * 2
    assert "WB-316" in listed[0]["last_error"]
    assert "TLS certificate not trusted" in listed[0]["last_error"]
    assert "SSL_CERT_FILE or REQUESTS_CA_BUNDLE" in listed[0]["last_error"]
    failed = cli("connectors", "test", "entra-hook", check=1)
    assert "WB-316" in failed.stdout + failed.stderr

    for variable in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        cli.env[variable] = str(writeback_test_ca_bundle)
    cli("deliveries", "retry", "--dead")
    cli("worker", "--until-idle")
    assert statuses(cli) == {"entra-hook": ["delivered"] * 2}
    probe = cli("connectors", "test", "entra-hook")
    assert "scope 'api://hook/.default'" in probe.stdout + probe.stderr
    assert authority.token_requests == 1  # the probe used the token the worker stored


def test_two_worker_processes_at_token_expiry_make_one_token_request(cli, server, hook):
    server.lifetime = 3
    server.delay = 0.3
    cli(
        "connectors",
        "add",
        cli.file(oauth2_row("hook", hook.url, server) | {"throttle": {"max_concurrency": 16}}),
    )
    cli("dispatch", cli.file(events(2, "A")))
    cli("worker", "--until-idle")
    assert server.token_requests == 1
    cli("dispatch", cli.file(events(40, "B")))
    server.lifetime = 3600  # the next token lasts, however slowly the two workers start
    time.sleep(3.1)  # the token expires with 40 deliveries waiting
    command = [
        sys.executable,
        "-m",
        "writeback",
        "--db",
        cli.db_url,
        "worker",
        "--until-idle",
        "--concurrency",
        "16",
    ]
    workers = [
        subprocess.Popen(
            command, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert statuses(cli) == {"hook": ["delivered"] * 42}
    assert server.token_requests == 2
