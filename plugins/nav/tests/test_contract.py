"""The nav type against its contract suite, over the SOAP page."""

from __future__ import annotations

from writeback_testing.contract import ConnectorTypeContract


class TestNavContract(ConnectorTypeContract):
    plugin = "nav"
    uses = ("soap", "basic")
    auth = {"method": "basic", "username": "NAVUSER", "password": "nav-pw-0123"}
    invalid_options = [{"deployment": "cloud"}, {"fields": {"colour": "Colour"}}, {"timeout": -1}]
