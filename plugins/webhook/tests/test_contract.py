"""The webhook type against its contract suite (writeback_testing.contract)."""

from __future__ import annotations

from writeback_testing.contract import ConnectorTypeContract


class TestWebhookContract(ConnectorTypeContract):
    plugin = "webhook"
    uses = ("json",)
    valid_options = {"signing_secret": "whsec_" + "c2VjcmV0LWtleS1mb3ItdGhlLWNvbnRyYWN0"}
    invalid_options = [
        {"payload": "xml"},
        {"signing_secret": "not-a-secret"},
        {"timeout": 0},
        {"colour": "blue"},
    ]
