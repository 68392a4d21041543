"""BC and NAV over the SOAP page ``Appointment``, end to end through the real CLI (basic auth).

The worker calls the page's ``Create`` with the staging record in page style on
the SOAP page simulator (:mod:`writeback_testing.soap_page`), which serves a
real WSDL and checks each field against it.
"""

from __future__ import annotations

import json
from typing import Any

from writeback_testing.acceptors import BasicAcceptor
from writeback_testing.soap_page import BUSY, MODIFIED, SoapStep

from .conftest import appointment_event

PASSWORD = "Nav-User-Password-4711"


def soap_row(name: str, type_: str, uri: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "api_type": "soap",
        "uri": uri,
        "source_app": "CRONUSUS",
        "auth": {"method": "basic", "username": "WEBUSER", "password": PASSWORD},
        "retry": {"schedule": [0.2, 0.2]},
        "coalesce": False,
        # The simulators speak plain http on loopback.
        "options": {"allow_insecure_http": True, **extra.pop("options", {})},
        **extra,
    }


def test_bc_and_nav_create_staging_records_in_page_style(cli, writeback_soap_page_factory):
    bc = writeback_soap_page_factory(auth=BasicAcceptor({"WEBUSER": PASSWORD}))
    # NAV 2018 style: a page without the back-office ids, so those are left out.
    fields = [f for f in bc.fields if not f.startswith("Back_Office")]
    nav = writeback_soap_page_factory(
        auth=BasicAcceptor({"WEBUSER": PASSWORD}), instance="DynamicsNAV110", fields=fields
    )
    cli(
        "connectors",
        "add",
        cli.file([soap_row("bc", "bc", bc.page_url), soap_row("nav", "nav", nav.page_url)]),
    )
    assert "ok: bc" in cli("connectors", "test", "bc").stdout
    events = [
        {
            **appointment_event(
                "create",
                "G1",
                start="2026-11-24T09:00:00+01:00",
                isAllDayEvent=False,
                importance=2,
                planningQuantity=1.5,
                resources=[{"resourceNo": "R-ANNA"}, {"resourceNo": "R-BEN"}],
                backOfficeId="SO100-10",
            ),
            "id": "e1",
        },
        {**appointment_event("delete", "G1"), "id": "e2"},
    ]
    cli("dispatch", cli.file("\n".join(json.dumps(e) for e in events)), "--wait")
    for page in (bc, nav):
        calls = page.wait_for(2)
        assert all(c.principal == "WEBUSER" for c in calls)
        first, second = page.records
        assert first["Database_Action"] == "I" and second["Database_Action"] == "D"
        assert first["Source_App"] == "CRONUSUS" and first["Appointment_Guid"] == "G1"
        assert first["Subject"] == "Boiler check"
        assert first["Resource_Nos"] == "R-ANNA,R-BEN"
        assert first["Is_All_Day_Event"] is False and first["Importance"] == 2
        assert str(first["Planning_Quantity"]) == "1.5"
        assert first["Start_Date_Time"].startswith("2026-11-24T08:00:00")
    assert bc.records[0]["Back_Office_Id"] == "SO100-10"
    assert "Back_Office_Id" not in nav.records[0]
    # The WSDL was read once per connector (connectors test runs in another process).
    assert (bc.wsdl_gets, nav.wsdl_gets) == (2, 1)
    assert PASSWORD not in "".join(cli.outputs)


def test_faults_are_classified_and_wrong_credentials_go_dead(cli, writeback_soap_page_factory):
    page = writeback_soap_page_factory(auth=BasicAcceptor({"WEBUSER": PASSWORD}))
    page.set_plan([SoapStep(fault=BUSY), SoapStep(fault=MODIFIED)])
    wrong = soap_row("wrong", "nav", page.page_url, source_app="OTHER")
    wrong["auth"] = {**wrong["auth"], "password": "Not-The-Password-1"}
    cli("connectors", "add", cli.file([soap_row("nav", "nav", page.page_url), wrong]))
    [made] = cli(
        "dispatch", cli.file(appointment_event("create", "G1")), "--json", "--wait", check=1
    ).json()
    shown = cli("deliveries", "show", made["deliveries"][0]["id"], "--json").json()
    assert shown["status"] == "dead"
    assert [h["outcome"] for h in shown["history"]] == ["retry", "failed"]
    assert "Other user has modified" in shown["history"][1]["error"]
    [made] = cli(
        "dispatch",
        cli.file(appointment_event("create", "G2", source_app="OTHER")),
        "--json",
        "--wait",
        check=1,
    ).json()
    shown = cli("deliveries", "show", made["deliveries"][0]["id"], "--json").json()
    [attempt] = shown["history"]
    assert attempt["outcome"] == "failed"
    assert attempt["error"].startswith("WB-331: NAV refused the credentials"), attempt["error"]
    assert page.records == []
    assert "Not-The-Password-1" not in "".join(cli.outputs)
