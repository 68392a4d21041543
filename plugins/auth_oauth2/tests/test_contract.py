"""The oauth2 auth method against its contract suite, with the OAuth2 token simulator."""

from __future__ import annotations

from writeback_testing.contract import AuthMethodContract


class TestOAuth2Contract(AuthMethodContract):
    plugin = "oauth2"
    token_server = "oauth2"
    settings = {
        "token_url": "{token_url}",
        "client_id": "writeback-contract",
        "client_secret": "client-s3cret-0123",
    }
    invalid_settings = [
        {"token_url": "ftp://host/token", "client_id": "c", "client_secret": "s"},
        {"token_url": "https://host/token", "client_id": "", "client_secret": "s"},
        {"token_url": "https://host/token", "client_id": "c"},
        {
            "token_url": "https://host/token",
            "client_id": "c",
            "client_secret": "s",
            "client_auth": "private_key_jwt",
        },
    ]
