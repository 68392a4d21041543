"""The entra settings: defaults, the scope rule, the authority, Microsoft's hosts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from writeback import InvalidConnectorError
from writeback_auth_entra import DEFAULT_AUTHORITY, EntraSettings, is_microsoft_host

GOOD = {
    "tenant_id": "contoso",
    "client_id": "app",
    "client_secret": "pw",
    "scope": "api://x/.default",
}


def problems(make_connector: Callable[..., Any], **kwargs: Any) -> list[str]:
    with pytest.raises(InvalidConnectorError) as caught:
        make_connector(**kwargs)
    return caught.value.problems


def test_defaults(make_connector: Callable[..., Any]) -> None:
    settings = make_connector(**GOOD).auth_settings
    assert isinstance(settings, EntraSettings)
    assert settings.authority == DEFAULT_AUTHORITY == "https://login.microsoftonline.com"


def test_scope_is_required_unless_the_type_supplies_it(make_connector: Callable[..., Any]) -> None:
    without = {k: v for k, v in GOOD.items() if k != "scope"}
    assert problems(make_connector, **without) == ["auth.scope is required."]
    scoped = make_connector(type="scoped", **without).auth_settings
    assert scoped.scope == "https://api.example.com/.default"
    assert make_connector(type="scoped", **GOOD).auth_settings.scope == "api://x/.default"


@pytest.mark.parametrize(
    ("authority", "why"),
    [
        ("http://login.example.com", "https URL"),
        ("https://login.microsoftonline.com/contoso", "the tenant goes in auth.tenant_id"),
        ("login.microsoftonline.com", "https URL"),
    ],
)
def test_authority_must_be_an_https_host(make_connector, authority: str, why: str) -> None:
    (found,) = problems(make_connector, **GOOD, authority=authority)
    assert found.startswith("auth.authority") and why in found


def test_a_trailing_slash_is_dropped(make_connector: Callable[..., Any]) -> None:
    settings = make_connector(**GOOD, authority="https://login.microsoftonline.us/").auth_settings
    assert settings.authority == "https://login.microsoftonline.us"


def test_tenant_must_not_be_a_path(make_connector: Callable[..., Any]) -> None:
    (found,) = problems(make_connector, **{**GOOD, "tenant_id": "contoso/v2.0"})
    assert found.startswith("auth.tenant_id")


@pytest.mark.parametrize(
    ("host", "microsoft"),
    [
        ("login.microsoftonline.com", True),
        ("login.microsoftonline.us", True),
        ("login.chinacloudapi.cn", True),
        ("LOGIN.MICROSOFT.COM", True),
        ("127.0.0.1", False),
        ("login.example.com", False),
        ("microsoftonline.com.evil.example", False),
        ("notmicrosoftonline.com", False),
    ],
)
def test_instance_discovery_only_for_microsoft_hosts(host: str, microsoft: bool) -> None:
    assert is_microsoft_host(host) is microsoft
