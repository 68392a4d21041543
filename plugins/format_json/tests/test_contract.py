"""The json format against its contract suite."""

from __future__ import annotations

from writeback_testing.contract import ApiFormatContract


class TestJsonContract(ApiFormatContract):
    plugin = "json"
