"""Credentials a server quotes back must reach no record, output or log, in any form.

Each test runs the real CLI against loopback servers that echo the request's
``Authorization`` header and body in their error answers, then scans the
database (the SQLite file, or a ``pg_dump`` of the PostgreSQL database), every
CLI output and the ``-vv`` worker log for every form the secret travels in.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import pytest
from writeback_testing.acceptors import BasicAcceptor, BearerAcceptor
from writeback_testing.webhook import echo

from .conftest import Cli, appointment_event, webhook_row

#: Characters that URL-encoding, JSON and Basic each change, so that every form differs.
PASSWORD = 'Sup3r/Secret+Pa55 wörd="x"'
CLIENT_SECRET = "cl!ent+s3cr/et=%~ 42"


def secret_forms(secret: str, user: str | None = None) -> dict[str, str]:
    """Every form ``secret`` travels in: as is, URL-encoded, and in a Basic header."""
    forms = {
        "literal": secret,
        "quote": quote(secret),
        "quote(safe='')": quote(secret, safe=""),
        "quote_plus": quote_plus(secret),
        "json": json.dumps(secret)[1:-1],
    }
    if user is not None:
        forms["basic"] = base64.b64encode(f"{user}:{secret}".encode()).decode()
        form_user, form_secret = quote_plus(user), quote_plus(secret)
        forms["basic, form-encoded"] = base64.b64encode(
            f"{form_user}:{form_secret}".encode()
        ).decode()
    return forms


def any_db_cli(tmp_path: Path, db_url: str) -> Cli:
    cli = Cli(tmp_path, db_url)
    if db_url.startswith("postgresql"):  # a server's key comes from the environment
        cli.env["WRITEBACK_SECRET_KEY"] = os.environ["WRITEBACK_SECRET_KEY"]
    return cli


def stored_bytes(cli: Cli, request: pytest.FixtureRequest) -> dict[str, bytes]:
    """What the database holds: the SQLite files, or a dump of the PostgreSQL database."""
    if cli.db_url.startswith("postgresql"):
        cluster = request.getfixturevalue("writeback_postgres")
        url = urlsplit(cli.db_url)
        where = ["-h", "127.0.0.1", "-p", str(url.port), "-U", url.username or "postgres"]
        dump = subprocess.run(
            [str(cluster.bin / "pg_dump"), *where, url.path.lstrip("/")],
            capture_output=True,
            check=True,
            timeout=60,
        )
        return {"pg_dump": dump.stdout}
    return {
        path.name: path.read_bytes()
        for path in cli.tmp_path.iterdir()
        if path.is_file() and not path.name.startswith("input-")
    }


def leaks(cli: Cli, request: pytest.FixtureRequest, forms: dict[str, str]) -> list[str]:
    """Where any of ``forms`` appears: 'form in place' for each finding."""
    found = []
    outputs = "\n".join(cli.outputs)
    stored = stored_bytes(cli, request)
    for name, form in forms.items():
        if form in outputs:
            found.append(f"{name} in the CLI output")
        found += [f"{name} in {where}" for where, data in stored.items() if form.encode() in data]
    return found


def everything(cli: Cli) -> None:
    """Every command that prints what the worker recorded, as text and as JSON."""
    cli("deliveries", "list")
    listed = cli("deliveries", "list", "--json").json()
    for delivery in listed:
        cli("deliveries", "show", delivery["id"])
        cli("deliveries", "show", delivery["id"], "--json")


def test_basic_credentials_a_receiver_echoes_are_redacted(
    tmp_path, writeback_any_db_url, writeback_receiver_factory, request
):
    rx = writeback_receiver_factory(basic_auth=("planner", PASSWORD), plan=echo(400))
    cli = any_db_cli(tmp_path, writeback_any_db_url)
    row = webhook_row(
        "hook", rx.url, auth={"method": "basic", "username": "planner", "password": PASSWORD}
    )
    cli("connectors", "add", cli.file(row))
    cli("connectors", "test", "hook")
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    cli("-vv", "worker", "--until-idle")
    everything(cli)
    [dead] = cli("deliveries", "list", "--json").json()
    # The receiver did quote the header: the record keeps the scheme, not the credentials.
    assert "you sent Authorization: Basic ***" in dead["last_error"], dead["last_error"]
    assert "WARNING writeback.worker" in "\n".join(cli.outputs)  # the log was there to scan
    assert leaks(cli, request, secret_forms(PASSWORD, "planner")) == []


def test_credentials_cut_short_by_the_error_limit_are_redacted(
    cli, writeback_receiver_factory, request
):
    # The record keeps the first 500 characters of an error body; this one puts
    # the Basic credentials across that limit, so the record holds only their start.
    before = '{"error": "", "error_description": "you sent Authorization: Basic '
    rx = writeback_receiver_factory(
        basic_auth=("planner", PASSWORD), plan=echo(400, error="e" * (490 - len(before)))
    )
    row = webhook_row(
        "hook", rx.url, auth={"method": "basic", "username": "planner", "password": PASSWORD}
    )
    cli("connectors", "add", cli.file(row))
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    cli("-vv", "worker", "--until-idle")
    everything(cli)
    [dead] = cli("deliveries", "list", "--json").json()
    assert dead["last_error"].endswith("Authorization: Basic ***…"), dead["last_error"]
    basic = secret_forms(PASSWORD, "planner")["basic"]
    assert leaks(cli, request, {"the start of the Basic credentials": basic[:10]}) == []


def bearer_tokens(rx: Any) -> set[str]:
    """The access tokens the receiver was sent."""
    return {
        r.headers["authorization"].removeprefix("Bearer ")
        for r in rx.requests
        if r.headers.get("authorization", "").startswith("Bearer ")
    }


def test_access_tokens_a_receiver_echoes_are_redacted(
    tmp_path, writeback_any_db_url, writeback_oauth2_server, writeback_receiver_factory, request
):
    server = writeback_oauth2_server
    server.register("planner-app", CLIENT_SECRET)
    rx = writeback_receiver_factory(auth=BearerAcceptor(server.principal), plan=echo(403))
    cli = any_db_cli(tmp_path, writeback_any_db_url)
    auth = {
        "method": "oauth2",
        "token_url": server.token_url,
        "client_id": "planner-app",
        "client_secret": CLIENT_SECRET,
    }
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url, auth=auth)))
    # The probe fetches the token and shares it through the database: the worker
    # below sends a token it read from the store, never one it fetched itself.
    cli("connectors", "test", "hook")
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    cli("-vv", "worker", "--until-idle")
    everything(cli)
    assert server.token_requests == 1
    [token] = bearer_tokens(rx)
    [dead] = cli("deliveries", "list", "--json").json()
    assert "you sent Authorization: Bearer ***" in dead["last_error"], dead["last_error"]
    forms = secret_forms(token) | {
        f"client secret, {name}": form
        for name, form in secret_forms(CLIENT_SECRET, "planner-app").items()
    }
    assert leaks(cli, request, forms) == []


@pytest.mark.parametrize("client_auth", ["client_secret_basic", "client_secret_post"])
def test_client_secret_a_token_endpoint_echoes_is_redacted(
    cli, writeback_receiver_factory, client_auth, request
):
    # The "token endpoint" quotes the client's credentials in its refusal: in the
    # Basic header (form-encoded, then base64) or in the form-encoded body.
    endpoint = writeback_receiver_factory(plan=echo(401, error="invalid_client"))
    auth = {
        "method": "oauth2",
        "token_url": endpoint.url + "/token",
        "client_id": "planner app",
        "client_secret": CLIENT_SECRET,
        "client_auth": client_auth,
    }
    cli("connectors", "add", cli.file(webhook_row("hook", "http://127.0.0.1:9/", auth=auth)))
    probe = cli("connectors", "test", "hook", check=1)
    assert "WB-310" in probe.stdout + probe.stderr
    assert "you sent" in probe.stdout + probe.stderr  # the echo was there to redact
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    cli("-vv", "worker", "--until-idle")
    everything(cli)
    [dead] = cli("deliveries", "list", "--json").json()
    assert "WB-310" in dead["last_error"]
    assert leaks(cli, request, secret_forms(CLIENT_SECRET, "planner app")) == []


def test_entra_tokens_and_secret_are_redacted(
    cli,
    writeback_entra_authority,
    writeback_receiver_factory,
    writeback_test_ca_bundle,
    request,
):
    authority = writeback_entra_authority
    authority.register("app", CLIENT_SECRET)
    rx = writeback_receiver_factory(auth=BearerAcceptor(authority.principal), plan=echo(400))
    for variable in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        cli.env[variable] = str(writeback_test_ca_bundle)
    auth = {
        "method": "entra",
        "tenant_id": authority.tenant,
        "client_id": "app",
        "client_secret": CLIENT_SECRET,
        "scope": "api://hook/.default",
        "authority": authority.url,
    }
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url, auth=auth)))
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    cli("-vv", "worker", "--until-idle")
    cli("connectors", "test", "hook")
    everything(cli)
    [token] = bearer_tokens(rx)
    [dead] = cli("deliveries", "list", "--json").json()
    assert "you sent Authorization: Bearer ***" in dead["last_error"], dead["last_error"]
    forms = secret_forms(token) | {
        f"client secret, {name}": form for name, form in secret_forms(CLIENT_SECRET).items()
    }
    assert leaks(cli, request, forms) == []


# -- the key file -------------------------------------------------------------------

#: Imports first, then every process waits for one line on stdin, so that all of
#: them open the new database at once, whatever each took to start.
STARTER = """
import sys
import writeback.cli, writeback.store, writeback._dispatcher
print("ready", flush=True)
sys.stdin.readline()
sys.argv = ["writeback", *sys.argv[1:]]
writeback.cli.main()
"""


def test_eight_processes_opening_a_new_database_share_one_key(cli, writeback_receiver_factory):
    users = {f"user{i}": f"pass-{i}-{'x' * 12}" for i in range(8)}
    rx = writeback_receiver_factory(auth=BasicAcceptor(users))
    files = [
        cli.file(
            webhook_row(user, rx.url, auth={"method": "basic", "username": user, "password": pw})
        )
        for user, pw in users.items()
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, "--db", cli.db_url, "connectors", "add", file],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli.env,
        )
        for file in files
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [(proc.wait(timeout=120), proc.communicate()[1]) for proc in procs]
    assert results == [(0, "")] * 8
    key_file = cli.tmp_path / "writeback.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in cli.tmp_path.iterdir() if ".key" in p.name] == [key_file.name]
    # Every process sealed its secret with the key that won: each one opens and is sent.
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    cli("worker", "--until-idle")
    assert sorted(r.principal for r in rx.deliveries) == sorted(users)


def test_a_deleted_key_file_is_refused_not_replaced(cli, writeback_receiver_factory):
    rx = writeback_receiver_factory(basic_auth=("planner", PASSWORD))
    row = webhook_row(
        "hook", rx.url, auth={"method": "basic", "username": "planner", "password": PASSWORD}
    )
    cli("connectors", "add", cli.file(row))
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    key_file = cli.tmp_path / "writeback.db.key"
    kept = key_file.read_bytes()
    key_file.unlink()
    for command in (["worker", "--until-idle"], ["connectors", "list"]):
        refused = cli(*command, check=2)
        assert "WB-201" in refused.stderr
        assert str(key_file) in refused.stderr and "WRITEBACK_SECRET_KEY" in refused.stderr
        assert not key_file.exists()  # no new key: the stored secrets stay decryptable
    # The key from the environment instead: nothing was lost, nothing went dead.
    cli.env["WRITEBACK_SECRET_KEY"] = kept.decode().strip()
    [pending] = cli("deliveries", "list", "--json").json()
    assert pending["status"] == "pending" and pending["attempts"] == 0
    cli("worker", "--until-idle")
    assert len(rx.deliveries) == 1
    # Or the file restored.
    del cli.env["WRITEBACK_SECRET_KEY"]
    key_file.write_bytes(kept)
    cli("connectors", "test", "hook")


def test_a_deleted_key_file_without_stored_secrets_is_made_anew(cli):
    cli("connectors", "add", cli.file(webhook_row("hook", "http://127.0.0.1:9/")))
    key_file = cli.tmp_path / "writeback.db.key"
    key = key_file.read_text().strip()
    key_file.unlink()
    # No literal secret is stored, so none can be lost: a new key is made.
    cli("connectors", "list")
    assert key_file.exists() and key_file.read_text().strip() != key


def test_an_unreadable_database_without_its_key_file_gets_no_new_key(cli):
    (cli.tmp_path / "writeback.db").write_bytes(b"not a database, " * 256)
    refused = cli("connectors", "list", check=2)
    assert "WB-401" in refused.stderr and "Traceback" not in refused.stderr
    assert not (cli.tmp_path / "writeback.db.key").exists()


# -- a literal that looks sealed -------------------------------------------------------


def test_a_literal_secret_that_starts_with_fernet_is_encrypted(
    cli, writeback_oauth2_server, writeback_receiver_factory, request
):
    server = writeback_oauth2_server
    secret = "fernet:gAAAAABlooks-sealed-but-is-not=="
    server.register("fernet:app", secret)
    rx = writeback_receiver_factory(auth=BearerAcceptor(server.principal))
    auth = {
        "method": "oauth2",
        "token_url": server.token_url,
        "client_id": "fernet:app",  # not a secret, and looks sealed too
        "client_secret": secret,
    }
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url, auth=auth)))
    assert cli("connectors", "show", "hook", "--json").json()["auth"]["client_secret"] == "***"
    cli("connectors", "test", "hook")
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    cli("worker", "--until-idle")
    assert len(rx.deliveries) == 1
    assert leaks(cli, request, secret_forms(secret)) == []
