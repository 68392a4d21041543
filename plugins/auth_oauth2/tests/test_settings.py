"""The oauth2 settings: what a row may say, and one clear sentence when it is wrong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from writeback import InvalidConnectorError
from writeback_auth_oauth2 import OAuth2Settings

GOOD = {"token_url": "https://login.example.com/token", "client_id": "wb", "client_secret": "pw"}


def problems(make_connector: Callable[..., Any], **auth: Any) -> list[str]:
    with pytest.raises(InvalidConnectorError) as caught:
        make_connector(**auth)
    return caught.value.problems


def test_defaults(make_connector: Callable[..., Any]) -> None:
    settings = make_connector(**GOOD).auth_settings
    assert isinstance(settings, OAuth2Settings)
    assert settings.client_auth == "client_secret_basic"
    assert settings.scope is None


def test_scope_is_space_delimited_and_normalised(make_connector: Callable[..., Any]) -> None:
    assert make_connector(**GOOD, scope="  a   b\tc ").auth_settings.scope == "a b c"
    assert make_connector(**GOOD, scope="   ").auth_settings.scope is None


def test_required_fields(make_connector: Callable[..., Any]) -> None:
    assert problems(make_connector) == [
        "auth.token_url is required.",
        "auth.client_id is required.",
        "auth.client_secret is required.",
    ]


def test_client_auth_names_the_allowed_values(make_connector: Callable[..., Any]) -> None:
    (found,) = problems(make_connector, **GOOD, client_auth="private_key_jwt")
    assert "auth.client_auth" in found and "'private_key_jwt'" in found
    assert "client_secret_basic" in found and "client_secret_post" in found


def test_token_url_must_be_http(make_connector: Callable[..., Any]) -> None:
    (found,) = problems(make_connector, **{**GOOD, "token_url": "ftp://x/token"})
    assert found.startswith("auth.token_url") and "http(s) URL" in found


def test_a_bad_secret_value_is_never_quoted(make_connector: Callable[..., Any]) -> None:
    (found,) = problems(make_connector, **{**GOOD, "client_secret": 987654321})
    assert "987654321" not in found


def test_unknown_setting(make_connector: Callable[..., Any]) -> None:
    (found,) = problems(make_connector, **GOOD, audience="x")
    assert found.startswith("auth.audience is not a known field")
