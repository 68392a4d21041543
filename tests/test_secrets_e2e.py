"""A known secret must appear nowhere: not in the database, any CLI output, or the logs."""

from __future__ import annotations

import base64
from pathlib import Path

from writeback_testing import Step

from .conftest import appointment_event, webhook_row

PASSWORD = "Sup3r-Secret-Pa55word"
SIGNING = "whsec_" + base64.b64encode(b"another-secret-signing-key").decode()


def test_secret_appears_nowhere(cli, writeback_receiver_factory, tmp_path):
    rx = writeback_receiver_factory(basic_auth=("planner", PASSWORD))
    # The receiver quotes the password back in an error: it must be removed before it is stored.
    rx.set_plan([Step(400, body=f"password {PASSWORD} is not welcome here")])
    rows = [
        webhook_row(
            "basic", rx.url, auth={"method": "basic", "username": "planner", "password": PASSWORD}
        ),
        webhook_row("signed", rx.url + "/s", options={"signing_secret": SIGNING}),
    ]
    cli("connectors", "validate", cli.file(rows))
    cli("connectors", "add", cli.file(rows))
    cli("connectors", "list")
    cli("connectors", "list", "--json")
    show = cli("connectors", "show", "basic", "--json").json()
    assert show["auth"]["password"] == "***"
    assert (
        cli("connectors", "show", "signed", "--json").json()["options"]["signing_secret"] == "***"
    )
    cli("connectors", "show", "basic")
    cli("connectors", "test", "basic")
    made = cli("dispatch", cli.file(appointment_event("create", "G1")), "--json").json()
    cli("-vv", "worker", "--until-idle")
    for d in made[0]["deliveries"]:
        cli("deliveries", "show", d["id"], "--json")
        cli("deliveries", "show", d["id"])
    dead = cli("deliveries", "list", "--status", "dead", "--json").json()
    assert dead and "***" in dead[0]["last_error"]  # the quoted password was redacted
    cli("deliveries", "list")
    cli("plugins", "--json")
    outputs = "\n".join(cli.outputs)
    assert "WARNING writeback.worker" in outputs  # the logs were there to scan
    for secret in (PASSWORD, SIGNING, SIGNING.removeprefix("whsec_")):
        assert secret not in outputs
        for path in Path(tmp_path).iterdir():
            if path.is_file() and not path.name.startswith("input-"):
                assert secret.encode() not in path.read_bytes(), path.name
