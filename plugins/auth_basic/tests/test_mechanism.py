"""Settings and the per-attempt header of the basic auth method."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import pytest
from writeback import InvalidConnectorError
from writeback._secrets import REDACTOR
from writeback.plugin import EnvSecretMissingError, PipelineContext
from writeback_auth_basic import BasicAuthMechanism, BasicSettings

MakeContext = Callable[..., PipelineContext]


def header(mechanism: BasicAuthMechanism) -> str:
    """The Authorization header of one attempt, as the pipeline obtains it."""
    return asyncio.run(mechanism.attempt_auth()).headers()["Authorization"]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def problems(make_connector: Callable[..., Any], **auth: Any) -> list[str]:
    with pytest.raises(InvalidConnectorError) as caught:
        make_connector(**auth)
    return caught.value.problems


def test_settings_parse(make_connector: Callable[..., Any]) -> None:
    settings = make_connector(username="WEBUSER", password="Pa55:word").auth_settings
    assert isinstance(settings, BasicSettings)
    assert settings.username == "WEBUSER"
    assert settings.password.get_secret_value() == "Pa55:word"


def test_username_and_password_are_required(make_connector: Callable[..., Any]) -> None:
    assert problems(make_connector) == ["auth.username is required.", "auth.password is required."]


def test_empty_username_is_refused(make_connector: Callable[..., Any]) -> None:
    (found,) = problems(make_connector, username="", password="pw")
    assert found.startswith("auth.username is ''")


def test_a_colon_in_the_username_is_refused(make_connector: Callable[..., Any]) -> None:
    (found,) = problems(make_connector, username="dom:user", password="pw")
    assert found == "auth.username: a Basic user name cannot contain ':'; check the user name."


def test_a_bad_password_value_is_never_quoted(make_connector: Callable[..., Any]) -> None:
    (found,) = problems(make_connector, username="u", password=987654321)
    assert "987654321" not in found
    assert "a secret value" in found


def test_unknown_setting_is_refused(make_connector: Callable[..., Any]) -> None:
    (found,) = problems(make_connector, username="u", password="p", domain="CRONUS")
    assert found == "auth.domain is not a known field; allowed fields: username, password."


def test_the_credentials_are_a_basic_header(make_context: MakeContext) -> None:
    auth = BasicAuthMechanism(make_context(username="WEBUSER", password="Pa55:wörd"))
    assert header(auth) == basic("WEBUSER", "Pa55:wörd")


def test_env_password_is_read_for_every_attempt(
    make_context: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = BasicAuthMechanism(make_context(username="u", password="env:WB_TEST_BASIC_PW"))
    monkeypatch.setenv("WB_TEST_BASIC_PW", "first-pw")
    assert header(auth) == basic("u", "first-pw")
    monkeypatch.setenv("WB_TEST_BASIC_PW", "second-pw")
    assert header(auth) == basic("u", "second-pw")
    monkeypatch.delenv("WB_TEST_BASIC_PW")
    with pytest.raises(EnvSecretMissingError, match="WB_TEST_BASIC_PW"):
        header(auth)


def test_the_revealed_password_is_redacted_from_texts(make_context: MakeContext) -> None:
    auth = BasicAuthMechanism(make_context(username="u", password="never-print-me-42"))
    header(auth)
    assert REDACTOR.redact("server said: never-print-me-42?") == "server said: ***?"


def test_it_names_no_transport_and_has_no_transport_object(make_context: MakeContext) -> None:
    from writeback_auth_basic.plugin import writeback_auth_methods

    (spec,) = writeback_auth_methods()
    assert spec.transports == ()  # a header rides every transport
    mechanism = BasicAuthMechanism(make_context(username="u", password="p"))
    attempt = asyncio.run(mechanism.attempt_auth())
    assert attempt.transport_auth("requests") is None
    assert attempt.transport_auth("any-new-transport") is None


def test_describe_names_the_user_only_and_a_401_is_not_retried(make_context: MakeContext) -> None:
    auth = BasicAuthMechanism(make_context(username="WEBUSER", password="hidden-pw"))
    assert asyncio.run(auth.describe()) == "basic auth as WEBUSER"
    attempt = asyncio.run(auth.attempt_auth())
    assert asyncio.run(attempt.refresh_after_401()) is False
