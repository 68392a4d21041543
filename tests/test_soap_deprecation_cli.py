"""SOAP on Business Central online: warned by ``connectors validate`` and ``add``.

A ``bc`` row on BC online over ``soap`` is valid and stored (exit
0), with one warning on stderr naming the deprecation (v18), the UI pages' end
(off by default from v26, removed in v29, 2026 release wave 2) and the way
forward (the API page, ``json``).  BC on-premises over soap, ``nav``, and BC
online over json get none.  The real CLI, in subprocesses.
"""

from __future__ import annotations

import json
from typing import Any

from .conftest import Cli

ONLINE = "https://api.businesscentral.dynamics.com/v2.0/t1/Production"
API = "/api/dimeSoftware/dimeScheduler/v1.0/companies(4f1c0000-0000-4000-8000-000000000001)"
ENTRA = {
    "method": "entra",
    "tenant_id": "contoso",
    "client_id": "wb",
    "client_secret": "s3cret-entra",
}
NTLM = {"method": "ntlm", "username": "CRONUS\\planner", "password": "s3cret-ntlm"}


def bc_row(name: str, uri: str, api_type: str, auth: dict[str, Any], **extra: Any) -> dict:
    return {
        "name": name,
        "type": "bc",
        "api_type": api_type,
        "uri": uri,
        "source_app": "CRONUSUS",
        "auth": auth,
        **extra,
    }


def soap_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "api_type 'soap'" in line]


def test_bc_online_over_soap_is_warned_and_stored(cli: Cli) -> None:
    rows = [
        bc_row("bc-online-soap", f"{ONLINE}/WS/CRONUS/Page/Appointment", "soap", ENTRA),
        # A proxy in front of BC online: online because the row says so.
        bc_row(
            "bc-proxy-soap",
            "https://bc-proxy.example.com/WS/CRONUS/Page/Appointment",
            "SOAP",
            ENTRA,
            options={"deployment": "cloud"},
        ),
    ]
    path = cli.file(rows)
    for command in ("validate", "add"):
        run = cli("connectors", command, path)
        warned = soap_warnings(run.stderr)
        # One warning per row, each naming its row, on stderr only.
        assert [w.split(":", 2)[1].strip() for w in warned] == [
            "connector 'bc-online-soap'",
            "connector 'bc-proxy-soap'",
        ], run.stderr
        assert "api_type 'soap'" not in run.stdout
        for line in warned:
            assert line.startswith("warning: connector '")
            for needle in (
                "on Business Central online",
                "deprecated in Business Central (since v18)",
                "off by default from v26 and removed in v29 (2026 release wave 2)",
                "SOAP endpoints will be removed in an upcoming release",
                "the API page is the way forward: api_type 'json'",
            ):
                assert needle in line, line
        assert "s3cret" not in run.stdout + run.stderr
    stored = {c["name"]: c for c in cli("connectors", "list", "--json").json()}
    assert set(stored) == {"bc-online-soap", "bc-proxy-soap"}
    assert {c["api_type"] for c in stored.values()} == {"soap"}


def test_basic_online_over_soap_gets_both_warnings_once(cli: Cli) -> None:
    basic = {"method": "basic", "username": "WEBUSER", "password": "s3cret-basic"}
    row = bc_row("bc-basic", f"{ONLINE}/WS/CRONUS/Page/Appointment", "soap", basic)
    run = cli("connectors", "add", cli.file(row))
    lines = run.stderr.splitlines()
    assert len(lines) == 2, run.stderr
    assert "retired Basic" in lines[0]
    assert soap_warnings(run.stderr) == [lines[1]]


def test_no_warning_on_premises_for_nav_or_over_json(cli: Cli) -> None:
    rows = [
        bc_row(
            "bc-onprem-soap",
            "https://bc.example.com:7047/BC/WS/CRONUS/Page/Appointment",
            "soap",
            NTLM,
        ),
        # A dynamics.com host said to be on premises (e.g. a test domain): no warning.
        bc_row(
            "bc-onprem-declared",
            f"{ONLINE}/WS/CRONUS/Page/Appointment",
            "soap",
            NTLM,
            options={"deployment": "onprem"},
        ),
        bc_row("bc-online-json", f"{ONLINE}{API}/appointments", "json", ENTRA),
        {
            "name": "nav-soap",
            "type": "nav",
            "api_type": "soap",
            "uri": "https://nav.example.com:7047/DynamicsNAV110/WS/CRONUS/Page/Appointment",
            "source_app": "CRONUSUS",
            "auth": NTLM,
        },
    ]
    path = cli.file(json.dumps(rows))
    for command in ("validate", "add"):
        run = cli("connectors", command, path)
        assert run.stderr == "", run.stderr
    assert len(cli("connectors", "list", "--json").json()) == 4
