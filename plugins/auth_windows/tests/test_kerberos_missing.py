"""``windows`` with ``user@REALM`` where Kerberos support is not installed says so.

The missing packages are simulated: ``sys.modules`` entries of ``None`` make
``kerberos_installed()`` false as an installation without gssapi and krb5
would; the end-to-end test patches ``kerberos_installed`` itself, because the
in-process acceptor needs the real gssapi to take tickets.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from writeback.plugin import Outcome
from writeback_auth_windows import _kerberos
from writeback_auth_windows._mechanism import WindowsMechanism
from writeback_auth_windows.plugin import WindowsSettings, kerberos_warnings
from writeback_testing.acceptors_windows import NegotiateAcceptor
from writeback_testing.standin import standin_connector

if TYPE_CHECKING:
    from conftest import GuardedServer
    from writeback_testing.kdc import TestKdc

ALICE, ALICE_PW = "alice@WRITEBACK.TEST", "Wonder-Land-42"
INSTALL = "pip install 'writeback-auth-windows[kerberos]'"


@pytest.fixture
def no_kerberos_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("gssapi", "krb5"):
        monkeypatch.setitem(sys.modules, name, None)


def settings(username: str) -> WindowsSettings:
    return WindowsSettings(username=username, password="x")  # type: ignore[arg-type]


def test_missing_packages_are_detected(no_kerberos_packages: None) -> None:
    assert _kerberos.kerberos_installed() is False


def test_a_kerberos_name_without_kerberos_is_warned_about(no_kerberos_packages: None) -> None:
    (warning,) = kerberos_warnings(settings(ALICE))
    assert warning.startswith(f"auth.username '{ALICE}' is a Kerberos name, but Kerberos ")
    assert INSTALL in warning
    assert "libkrb5-dev" in warning
    assert kerberos_warnings(settings("CRONUS\\WEBUSER")) == []
    assert kerberos_warnings(settings("ntlmuser")) == []


def test_no_warning_when_kerberos_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_kerberos, "kerberos_installed", lambda: True)
    assert kerberos_warnings(settings(ALICE)) == []


def test_validation_carries_the_warning_for_windows_only(
    registry: Any, no_kerberos_packages: None
) -> None:
    windows = standin_connector(
        registry, method="windows", api_format="rawreq", username=ALICE, password="p"
    )
    assert len(windows.warnings) == 1
    assert windows.warnings[0].startswith("connector 'erp': auth.username")
    ntlm = standin_connector(
        registry, method="ntlm", api_format="rawreq", username=ALICE, password="p"
    )
    assert ntlm.warnings == ()


def test_the_mechanism_offers_ntlm_and_says_why(
    make_connector: Callable[..., Any],
    no_kerberos_packages: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    connector = make_connector("windows", username=ALICE, password=ALICE_PW)
    with caplog.at_level(logging.WARNING):
        mechanism = WindowsMechanism(connector.context())
    assert mechanism.kerberos is None and mechanism.kerberos_missing
    assert "Kerberos support is not installed, offering NTLM only" in caplog.text
    assert INSTALL in caplog.text
    assert ALICE_PW not in caplog.text
    assert asyncio.run(mechanism.describe()) == (
        f"Windows Negotiate (NTLM; Kerberos support is not installed) as {ALICE}"
    )


def test_a_kerberos_only_server_says_kerberos_is_not_installed(
    make_connector: Callable[..., Any],
    deliver: Callable[..., Any],
    writeback_kdc: TestKdc,
    guarded_factory: Callable[..., GuardedServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_kerberos, "kerberos_installed", lambda: False)
    with NegotiateAcceptor() as acceptor:  # no NTLM users: Kerberos only
        server = guarded_factory(acceptor)
        connector = make_connector("windows", uri=server.url, username=ALICE, password=ALICE_PW)
        (result,) = deliver(connector)
    assert result.outcome is Outcome.FAILED
    assert result.error is not None
    assert result.error.startswith(
        f"WB-346: HTTP 401: the server refused the Negotiate login of {ALICE}, which got NTLM "
        "only because Kerberos support is not installed here;"
    )
    assert INSTALL in result.error
    assert "check the user name, its domain and the password" in result.error
    assert ALICE_PW not in result.error


def test_the_same_server_takes_the_ticket_when_kerberos_is_there(
    make_connector: Callable[..., Any],
    deliver: Callable[..., Any],
    writeback_kdc: TestKdc,
    guarded_factory: Callable[..., GuardedServer],
) -> None:
    with NegotiateAcceptor() as acceptor:
        server = guarded_factory(acceptor)
        connector = make_connector("windows", uri=server.url, username=ALICE, password=ALICE_PW)
        (result,) = deliver(connector)
    assert result.outcome is Outcome.DELIVERED
    assert {c.protocol for c in acceptor.connections.values()} == {"kerberos"}
