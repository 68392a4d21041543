"""Contract suites: the framework's expectations of a plugin, as pytest base classes.

Subclass the one for your plugin's kind in a test module and set a few
attributes; every check then runs against writeback_testing's loopback back
offices, token servers and fault plans::

    from writeback_testing.contract import ConnectorTypeContract


    class TestTeamsContract(ConnectorTypeContract):
        plugin = "teams"
        uses = ("json",)
        invalid_options = [{"theme_color": "blue"}]

docs/contract-suites.md lists every attribute and check.
"""

from __future__ import annotations

from writeback_testing.contract._auth import AuthMethodContract
from writeback_testing.contract._backends import Backend, Fault
from writeback_testing.contract._common import HEAVY_MODULES, ContractBase
from writeback_testing.contract._format import ApiFormatContract
from writeback_testing.contract._type import ConnectorTypeContract

__all__ = [
    "HEAVY_MODULES",
    "ApiFormatContract",
    "AuthMethodContract",
    "Backend",
    "ConnectorTypeContract",
    "ContractBase",
    "Fault",
]
