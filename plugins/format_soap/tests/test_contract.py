"""The soap format against its contract suite, on the SOAP page simulator."""

from __future__ import annotations

from writeback_testing.contract import ApiFormatContract


class TestSoapContract(ApiFormatContract):
    plugin = "soap"
