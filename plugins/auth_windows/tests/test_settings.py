"""Settings of ntlm and windows, and what the mechanisms hand to a transport."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from writeback import InvalidConnectorError
from writeback._secrets import REDACTOR
from writeback.plugin import EnvSecretMissingError, PipelineContext
from writeback_auth_windows import WindowsSettings, split_user
from writeback_auth_windows._mechanism import NtlmMechanism, WindowsMechanism

METHODS = ["ntlm", "windows"]


def problems(make_connector: Callable[..., Any], method: str, **auth: Any) -> list[str]:
    with pytest.raises(InvalidConnectorError) as caught:
        make_connector(method, **auth)
    return caught.value.problems


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("username", "parts"),
    [
        ("CRONUS\\WEBUSER", ("CRONUS", "WEBUSER", None)),
        ("alice@WRITEBACK.TEST", (None, "alice", "WRITEBACK.TEST")),
        ("corp.example.com\\first.last", ("corp.example.com", "first.last", None)),
        ("localuser", (None, "localuser", None)),
        ("John Smith@CORP.EXAMPLE.COM", (None, "John Smith", "CORP.EXAMPLE.COM")),
    ],
)
def test_windows_user_names_are_accepted(
    make_connector: Callable[..., Any], method: str, username: str, parts: tuple[Any, ...]
) -> None:
    settings = make_connector(method, username=username, password="pw").auth_settings
    assert isinstance(settings, WindowsSettings)
    assert settings.username == username
    assert split_user(username) == parts


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "username",
    [
        "CRONUS\\alice@REALM",
        "a\\b\\c",
        "\\user",
        "CRONUS\\",
        "user@",
        "@REALM",
        "a@b@c",
        "us:er",
        "user ",
        " CRONUS\\user",
        "bad/name",
        "tab\there",
    ],
)
def test_malformed_user_names_get_one_sentence(
    make_connector: Callable[..., Any], method: str, username: str
) -> None:
    (found,) = problems(make_connector, method, username=username, password="pw")
    assert found == (
        f"auth.username: '{username}' is not a Windows user name; give DOMAIN\\user or "
        "user@REALM (or a plain user name for an account local to the server)."
    )


@pytest.mark.parametrize("method", METHODS)
def test_username_and_password_are_required(
    make_connector: Callable[..., Any], method: str
) -> None:
    assert problems(make_connector, method) == [
        "auth.username is required.",
        "auth.password is required.",
    ]


@pytest.mark.parametrize("method", METHODS)
def test_a_bad_password_value_is_never_quoted(
    make_connector: Callable[..., Any], method: str
) -> None:
    (found,) = problems(make_connector, method, username="u", password=987654321)
    assert "987654321" not in found


@pytest.mark.parametrize("method", METHODS)
def test_unknown_setting_is_refused(make_connector: Callable[..., Any], method: str) -> None:
    (found,) = problems(make_connector, method, username="u", password="p", domain="CRONUS")
    assert found == "auth.domain is not a known field; allowed fields: username, password."


def context(make_connector: Callable[..., Any], method: str, **auth: Any) -> PipelineContext:
    return make_connector(method, **auth).context()


def test_ntlm_gives_requests_an_ntlm_auth(make_connector: Callable[..., Any]) -> None:
    from requests_ntlm import HttpNtlmAuth

    mechanism = NtlmMechanism(context(make_connector, "ntlm", username="CRONUS\\u", password="pw1"))
    made = mechanism.for_transport("requests")
    assert isinstance(made, HttpNtlmAuth)
    assert (made.username, made.password) == ("CRONUS\\u", "pw1")
    # A new object per Session: NTLM state must never be shared between sessions.
    assert mechanism.for_transport("requests") is not made


@pytest.mark.parametrize(
    ("method", "cls"), [("ntlm", NtlmMechanism), ("windows", WindowsMechanism)]
)
def test_httpx_is_refused_with_the_reason(
    make_connector: Callable[..., Any], method: str, cls: type
) -> None:
    mechanism = cls(context(make_connector, method, username="u", password="p"))
    with pytest.raises(ValueError, match="authenticates connections, which only the requests"):
        mechanism.for_transport("httpx")


def test_env_password_is_read_when_a_session_is_made(
    make_connector: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    mechanism = NtlmMechanism(
        context(make_connector, "ntlm", username="u", password="env:WB_TEST_NTLM_PW")
    )
    monkeypatch.setenv("WB_TEST_NTLM_PW", "from-env-1")
    assert mechanism.for_transport("requests").password == "from-env-1"
    assert REDACTOR.redact("said from-env-1") == "said ***"
    monkeypatch.delenv("WB_TEST_NTLM_PW")
    with pytest.raises(EnvSecretMissingError, match="WB_TEST_NTLM_PW"):
        mechanism.for_transport("requests")


def test_the_nt_hash_is_redacted_like_the_password(make_connector: Callable[..., Any]) -> None:
    from spnego._ntlm_raw.crypto import ntowfv1

    mechanism = WindowsMechanism(
        context(make_connector, "windows", username="CRONUS\\u", password="hash-me-77")
    )
    auth = mechanism.for_transport("requests")
    (credential,) = auth.credentials()
    nt_hash = ntowfv1("hash-me-77").hex()
    assert credential.nt_hash == nt_hash
    assert REDACTOR.redact(f"hash {nt_hash}") == "hash ***"


def test_describe_names_the_user_only(make_connector: Callable[..., Any]) -> None:
    ntlm = NtlmMechanism(context(make_connector, "ntlm", username="CRONUS\\u", password="hidden-1"))
    windows = WindowsMechanism(
        context(make_connector, "windows", username="CRONUS\\u", password="hidden-1")
    )
    assert asyncio.run(ntlm.describe()) == "NTLM as CRONUS\\u"
    assert asyncio.run(windows.describe()) == "Windows Negotiate (NTLM) as CRONUS\\u"
    assert asyncio.run(windows.unauthorized()) is False


def test_windows_without_a_realm_never_tries_kerberos(make_connector: Callable[..., Any]) -> None:
    mechanism = WindowsMechanism(
        context(make_connector, "windows", username="CRONUS\\u", password="p")
    )
    assert mechanism.kerberos is None


def test_windows_without_the_kerberos_extra_uses_ntlm(
    make_connector: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import writeback_auth_windows._kerberos as kerberos

    monkeypatch.setattr(kerberos, "kerberos_installed", lambda: False)
    mechanism = WindowsMechanism(
        context(make_connector, "windows", username="alice@WRITEBACK.TEST", password="p")
    )
    assert mechanism.kerberos is None
    assert asyncio.run(mechanism.describe()) == (
        "Windows Negotiate (NTLM; Kerberos support is not installed) as alice@WRITEBACK.TEST"
    )
