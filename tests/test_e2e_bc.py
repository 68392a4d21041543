"""Business Central over its JSON API page, end to end through the real CLI.

The worker posts staging rows to the BC API page simulator
(:mod:`writeback_testing.bc_api`), which checks them as BC would: unknown
properties, Edm types, lengths, and answers 201 with ``Location``.
"""

from __future__ import annotations

import json
from typing import Any

from writeback_testing.acceptors import BasicAcceptor
from writeback_testing.bc_api import BcStep

from .conftest import appointment_event

KEY = "Web-Service-Access-Key-0123"


def bc_row(name: str, uri: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "bc",
        "api_type": "json",
        "uri": uri,
        "source_app": "CRONUSUS",
        "auth": {"method": "basic", "username": "WEBUSER", "password": KEY},
        "retry": {"schedule": [0.2, 0.2, 0.2]},
        # Several changes to one appointment are sent here; each must reach BC.
        "coalesce": False,
        **extra,
    }


def full_appointment() -> dict[str, Any]:
    return {
        "appointmentNo": 17,
        "sourceType": "SERVICE",
        "jobNo": "SO100",
        "taskNo": "10",
        "body": "Bring the spare valve",
        "start": "2026-11-24T09:00:00+01:00",
        "end": "2026-11-24T10:00:00Z",
        "importance": 1,
        "locked": False,
        "planningQuantity": 2,
        "planningUom": "H",
        "resources": [{"resourceNo": "R-ANNA"}, {"resourceNo": "R-BEN"}],
        "fieldValues": [{"name": "Customer", "value": "Adatum"}],
        "backOfficeId": None,
    }


def test_create_update_delete_become_staging_rows_in_order(cli, writeback_bc_api_factory):
    api = writeback_bc_api_factory(auth=BasicAcceptor({"WEBUSER": KEY}))
    added = cli("connectors", "add", cli.file(bc_row("bc", api.endpoint)))
    assert "warning" not in added.stderr
    events = [
        {**appointment_event("create", "G1", **full_appointment()), "id": "e1"},
        {**appointment_event("update", "G1", subject="Moved"), "id": "e2"},
        {**appointment_event("delete", "G1"), "id": "e3"},
    ]
    made = cli("dispatch", cli.file("\n".join(json.dumps(e) for e in events)), "--json").json()
    cli("worker", "--until-idle")
    rows = api.wait_for(3)
    assert [r.fields["databaseAction"] for r in rows] == ["I", "U", "D"]
    first = rows[0]
    assert first.principal == "WEBUSER"
    assert {k: first.fields[k] for k in ("appointmentGuid", "appointmentNo", "subject")} == {
        "appointmentGuid": "G1",
        "appointmentNo": "17",
        "subject": "Boiler check",
    }
    assert first.fields["startDateTime"] == "2026-11-24T08:00:00Z"
    assert first.fields["endDateTime"] == "2026-11-24T10:00:00Z"
    assert first.fields["planningQuantity"] == 2 and first.fields["planningUom"] == "H"
    assert first.resources == [{"resourceNo": "R-ANNA"}, {"resourceNo": "R-BEN"}]
    assert rows[1].fields["subject"] == "Moved" and rows[1].resources == []
    posted = [r.json for r in api.requests if r.method == "POST"]
    assert "fieldValues" not in posted[0] and "backOfficeId" not in posted[0]
    assert posted[2] == {
        "databaseAction": "D",
        "sourceApp": "CRONUSUS",
        "appointmentGuid": "G1",
        "subject": "Boiler check",
    }
    for m in made:
        shown = cli("deliveries", "show", m["deliveries"][0]["id"], "--json").json()
        assert shown["status"] == "delivered"
        assert [(h["status_code"], h["outcome"]) for h in shown["history"]] == [(201, "delivered")]


def test_missing_location_goes_dead_with_its_code(cli, writeback_bc_api_factory):
    api = writeback_bc_api_factory(omit_location=True)
    cli(
        "connectors",
        "add",
        cli.file(
            bc_row(
                "bc", api.endpoint, auth={"method": "basic", "username": "u", "password": "pw-x1"}
            )
        ),
    )
    [made] = cli(
        "dispatch", cli.file(appointment_event("create", "G1")), "--json", "--wait", check=1
    ).json()
    [dead] = cli("deliveries", "list", "--status", "dead", "--json").json()
    assert dead["id"] == made["deliveries"][0]["id"] and dead["attempts"] == 1
    assert dead["last_error"].startswith(
        "WB-330: Business Central answered HTTP 201 without a Location header"
    )
    assert len(api.rows) == 1  # BC did create it: the replay advice in docs/errors.md matters


def test_odata_error_is_kept_and_goes_dead_at_once(cli, writeback_bc_api):
    # A rename to a property the page does not define: BC refuses the whole row.
    row = bc_row(
        "bc",
        writeback_bc_api.endpoint,
        auth={"method": "basic", "username": "u", "password": "pw-x1"},
        options={"fields": {"subject": "description"}},
    )
    cli("connectors", "add", cli.file(row))
    [made] = cli(
        "dispatch", cli.file(appointment_event("create", "G1")), "--json", "--wait", check=1
    ).json()
    shown = cli("deliveries", "show", made["deliveries"][0]["id"], "--json").json()
    assert shown["status"] == "dead"
    [attempt] = shown["history"]
    assert (attempt["status_code"], attempt["outcome"]) == (400, "failed")
    assert attempt["error"].startswith(
        "HTTP 400: BadRequest_PropertyNotFound: The property 'description' does not exist"
    )
    assert writeback_bc_api.rows == []


def test_throttling_and_outages_are_retried_honouring_retry_after(cli, writeback_bc_api):
    api = writeback_bc_api
    api.set_plan([BcStep(429, retry_after=1), BcStep(503, retry_after=0), BcStep(drop=True)])
    cli(
        "connectors",
        "add",
        cli.file(
            bc_row(
                "bc", api.endpoint, auth={"method": "basic", "username": "u", "password": "pw-x1"}
            )
        ),
    )
    [made] = cli("dispatch", cli.file(appointment_event("create", "G1")), "--json", "--wait").json()
    posts = [r for r in api.requests if r.method == "POST"]
    assert [r.status for r in posts] == [429, 503, None, 201]
    assert posts[1].received_at - posts[0].received_at >= 1.0  # Retry-After: 1
    shown = cli("deliveries", "show", made["deliveries"][0]["id"], "--json").json()
    assert shown["status"] == "delivered"
    assert [h["outcome"] for h in shown["history"]] == ["retry", "retry", "retry", "delivered"]
    assert shown["history"][0]["error"].startswith("HTTP 429: Application_TooManyRequests")
    assert len(api.rows) == 1


def test_wrong_credentials_go_dead_with_a_clear_message(cli, writeback_bc_api_factory):
    api = writeback_bc_api_factory(auth=BasicAcceptor({"WEBUSER": KEY}))
    wrong = bc_row(
        "bc",
        api.endpoint,
        auth={"method": "basic", "username": "WEBUSER", "password": "Not-The-Key-987"},
    )
    cli(
        "connectors",
        "add",
        cli.file([wrong, {**bc_row("good", api.endpoint), "source_app": "OTHER"}]),
    )
    probe = cli("connectors", "test", "bc", check=1)
    assert "credentials were refused (HTTP 401)" in probe.stderr
    assert "ok: good" in cli("connectors", "test", "good").stdout
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in api.requests][-1] == (
        "GET",
        "appointments?$top=1",
    )
    [made] = cli(
        "dispatch", cli.file(appointment_event("create", "G1")), "--json", "--wait", check=1
    ).json()
    [dead] = cli("deliveries", "list", "--status", "dead", "--json").json()
    assert dead["id"] == made["deliveries"][0]["id"] and dead["attempts"] == 1
    assert dead["last_error"].startswith(
        "WB-331: Business Central refused the credentials (HTTP 401"
    )
    assert "auth.password" in dead["last_error"]
    assert api.rows == []
    assert "Not-The-Key-987" not in "".join(cli.outputs)
