"""The nav type: found through its entry point, SOAP only, the staging row of writeback-bc."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from writeback import InvalidConnectorError
from writeback.conformance import conformance_problems
from writeback.plugin import Delivery, PluginRegistry, validate_connector
from writeback_bc import StagingConnector

Row = Callable[..., dict[str, Any]]


def test_entry_point_names_the_plugin_module() -> None:
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group="writeback")}
    assert found["nav"].value == "writeback_nav.plugin"
    assert found["nav"].dist is not None and found["nav"].dist.name == "writeback-nav"


def test_registry_loads_nav_with_the_support_matrix(registry: PluginRegistry) -> None:
    spec = registry.connector_type("nav")
    assert spec.distribution == "writeback-nav"
    assert spec.formats == ("soap",)
    assert [(r.variant, r.api_format, r.methods) for r in spec.auth_rules] == [
        ("default", "soap", ("basic", "windows", "ntlm"))
    ]
    assert spec.coalesce_default is True and spec.throttle_default.max_concurrency == 8
    assert spec.auth_defaults == {}
    assert [e for e in registry.load_errors if e.distribution == "writeback-nav"] == []


def test_descriptor_conforms(registry: PluginRegistry) -> None:
    assert conformance_problems(registry.connector_type("nav")) == []


def test_depends_on_writeback_bc_and_declares_lightly() -> None:
    assert sorted(importlib.metadata.requires("writeback-nav") or []) == [
        "writeback",
        "writeback-bc",
    ]
    code = (
        "import sys, writeback_nav.plugin as plugin\n"
        "plugin.writeback_connector_types()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "      ('httpx', 'requests', 'zeep', 'writeback_soap')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"


def test_json_is_refused_naming_soap(nav_row: Row, registry: PluginRegistry) -> None:
    with pytest.raises(InvalidConnectorError) as caught:
        validate_connector(nav_row("json"), registry)
    assert caught.value.problems == [
        "api_type 'json' is not supported by type 'nav'; allowed: soap."
    ]


def test_entra_is_refused_naming_what_is_allowed(nav_row: Row, registry: PluginRegistry) -> None:
    auth = {"method": "entra", "tenant_id": "t", "client_id": "c", "client_secret": "s"}
    with pytest.raises(InvalidConnectorError) as caught:
        validate_connector(nav_row(auth=auth), registry)
    assert caught.value.problems == [
        "auth.method 'entra' is not allowed for type 'nav' with api_type 'soap'; "
        "allowed: basic, windows, ntlm."
    ]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"deployment": "cloud"}, "options.deployment is not a known field; allowed fields: "),
        ({"fields": {"subjekt": "Description"}}, "options.fields: 'subjekt' is not a row field"),
        ({"fields": {"subject": "Body"}}, "options.fields maps 'subject' to 'Body'"),
    ],
)
def test_bad_options_are_one_sentence(
    nav_row: Row, registry: PluginRegistry, options: dict[str, Any], expected: str
) -> None:
    with pytest.raises(InvalidConnectorError) as caught:
        validate_connector(nav_row(**options), registry)
    [problem] = caught.value.problems
    assert problem.startswith(expected), problem


def test_builds_the_page_create_with_renames(nav_row: Row, registry: PluginRegistry) -> None:
    valid = validate_connector(nav_row(fields={"subject": "Description"}), registry)
    assert valid.variant == "default" and valid.warnings == ()
    working = valid.type_spec.factory(valid.context())
    assert isinstance(working, StagingConnector) and working.product == "NAV"
    delivery = Delivery(
        id="dlv_1",
        event_id="e1",
        action="create",
        appointment={"appointmentGuid": "G1", "sourceApp": "CRONUSNAV", "subject": "Fix"},
        occurred_at=None,
    )
    message = working.build_message(delivery)
    assert message.operation == "Create"
    assert message.payload == {
        "Database_Action": "I",
        "Source_App": "CRONUSNAV",
        "Appointment_Guid": "G1",
        "Description": "Fix",
    }
