"""The entra auth method against its contract suite, with the Entra authority simulator."""

from __future__ import annotations

from writeback_testing.contract import AuthMethodContract


class TestEntraContract(AuthMethodContract):
    plugin = "entra"
    token_server = "entra"
    settings = {
        "tenant_id": "contoso",
        "client_id": "writeback-contract",
        "client_secret": "client-s3cret-0123",
        "scope": "https://api.example.com/.default",
        "authority": "{authority}",
    }
    invalid_settings = [
        {"tenant_id": "a/b", "client_id": "c", "client_secret": "s", "scope": "x/.default"},
        {"tenant_id": "t", "client_id": "c", "client_secret": "s", "scope": " "},
        {
            "tenant_id": "t",
            "client_id": "c",
            "client_secret": "s",
            "scope": "x",
            "authority": "http://login.example.com",
        },
        {"tenant_id": "t", "client_id": "c", "scope": "x"},
    ]
