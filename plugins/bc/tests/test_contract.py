"""The bc type against its contract suite, over the API page and the SOAP page."""

from __future__ import annotations

from writeback_testing.contract import ConnectorTypeContract

BASIC = {"method": "basic", "username": "WEBUSER", "password": "access-key-0123"}


class TestBcJsonContract(ConnectorTypeContract):
    plugin = "bc"
    uses = ("json", "basic")
    api_format = "json"
    backend = "bc_api"
    auth = BASIC
    valid_options = {"deployment": "onprem", "timeout": 20, "batch_size": 5}
    invalid_options = [
        {"deployment": "moon"},
        {"batch_size": 0},
        {"batch_size": 101},
        {"fields": {"colour": "Colour"}},
        {"fields": {"subject": " "}},
        {"timeout": 601},
    ]


class TestBcSoapContract(ConnectorTypeContract):
    plugin = "bc"
    uses = ("soap", "basic")
    api_format = "soap"
    auth = BASIC
    valid_options = {"deployment": "onprem"}
    invalid_options = [{"deployment": "moon"}, {"colour": "blue"}]
