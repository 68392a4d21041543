"""BC and NAV over SOAP with Windows authentication, end to end through the real CLI.

``ntlm`` against pyspnego's NTLM acceptor; ``windows`` against the Negotiate
acceptor with a Kerberos ticket from the throwaway KDC (``writeback_kdc``),
and with NTLM inside Negotiate for a ``DOMAIN\\user``.  The CLI runs in
subprocesses: the KDC's ``KRB5_CONFIG`` reaches them through the env given.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from writeback_testing._fixtures_windows import KERBEROS_USERS, NTLM_USERS
from writeback_testing.acceptors_windows import NegotiateAcceptor, NtlmAcceptor

from .conftest import appointment_event

NTLM_USER = "CRONUS\\WEBUSER"
NTLM_PW = NTLM_USERS[NTLM_USER]
ALICE = "alice@WRITEBACK.TEST"
ALICE_PW = KERBEROS_USERS["alice"]


def soap_row(
    name: str, type_: str, uri: str, method: str, user: str, pw: str, **extra: Any
) -> dict[str, Any]:
    # No allow_insecure_http: ntlm and windows never send the password over http://.
    return {
        "name": name,
        "type": type_,
        "api_type": "soap",
        "uri": uri,
        "source_app": extra.pop("source_app", "CRONUSUS"),
        "auth": {"method": method, "username": user, "password": pw},
        "retry": {"schedule": [0.2]},
        "coalesce": False,
        **extra,
    }


def events(count: int, source_app: str = "CRONUSUS") -> str:
    return "\n".join(
        json.dumps(
            {
                **appointment_event("create", f"G{i}", source_app=source_app),
                "id": f"{source_app}{i}",
            }
        )
        for i in range(count)
    )


@pytest.fixture
def kerberos_cli(cli: Any, writeback_kdc: Any) -> Any:
    cli.env.update(writeback_kdc.env)  # explicit: the CLI subprocesses find the realm
    return cli


def assert_clean_handshakes(acceptor: Any, server: Any) -> None:
    totals = acceptor.totals()
    assert totals.failed == 0
    assert totals.started == totals.completed
    assert 1 <= totals.started <= server.connections_accepted
    assert all(c.started <= 1 for c in acceptor.connections.values())


def test_bc_and_nav_with_ntlm(cli: Any, writeback_soap_page_factory: Any) -> None:
    with (
        NtlmAcceptor(NTLM_USERS) as bc_auth,
        NtlmAcceptor(NTLM_USERS, schemes=("Negotiate",)) as nav_auth,
    ):
        bc = writeback_soap_page_factory(auth=bc_auth)
        nav = writeback_soap_page_factory(auth=nav_auth, instance="DynamicsNAV110")
        rows = [
            soap_row("bc", "bc", bc.page_url, "ntlm", NTLM_USER, NTLM_PW),
            soap_row("nav", "nav", nav.page_url, "ntlm", NTLM_USER, NTLM_PW),
        ]
        cli("connectors", "add", cli.file(rows))
        assert "ok: bc" in cli("connectors", "test", "bc").stdout
        cli("dispatch", cli.file(events(3)), "--wait")
        for page, acceptor in ((bc, bc_auth), (nav, nav_auth)):
            calls = page.wait_for(3)
            assert {c.principal for c in calls} == {NTLM_USER}
            assert_clean_handshakes(acceptor, page)
    assert NTLM_PW not in "".join(cli.outputs)


def test_bc_and_nav_with_windows_kerberos(
    kerberos_cli: Any, writeback_soap_page_factory: Any
) -> None:
    cli = kerberos_cli
    with NegotiateAcceptor(hostname="127.0.0.1") as acceptor:
        bc = writeback_soap_page_factory(auth=acceptor)
        nav = writeback_soap_page_factory(auth=acceptor, instance="DynamicsNAV110")
        rows = [
            soap_row("bc", "bc", bc.page_url, "windows", ALICE, ALICE_PW),
            soap_row("nav", "nav", nav.page_url, "windows", ALICE, ALICE_PW),
        ]
        cli("connectors", "add", cli.file(rows))
        tested = cli("connectors", "test", "nav").stdout
        assert "ok: nav" in tested and "Kerberos, NTLM fallback" in tested
        cli("dispatch", cli.file(events(2)), "--wait")
        for page in (bc, nav):
            assert {c.principal for c in page.wait_for(2)} == {ALICE}
        assert {c.protocol for c in acceptor.connections.values()} == {"kerberos"}
        assert acceptor.totals().failed == 0
    assert ALICE_PW not in "".join(cli.outputs)


def test_nav_with_windows_falls_back_to_ntlm_for_a_domain_user(
    kerberos_cli: Any, writeback_soap_page_factory: Any
) -> None:
    cli = kerberos_cli
    with NegotiateAcceptor(NTLM_USERS) as acceptor:
        nav = writeback_soap_page_factory(auth=acceptor, instance="DynamicsNAV110")
        cli(
            "connectors",
            "add",
            cli.file(soap_row("nav", "nav", nav.page_url, "windows", NTLM_USER, NTLM_PW)),
        )
        cli("dispatch", cli.file(events(2)), "--wait")
        assert {c.principal for c in nav.wait_for(2)} == {NTLM_USER}
        assert {c.protocol for c in acceptor.connections.values()} == {"ntlm"}
        assert_clean_handshakes(acceptor, nav)


def test_wrong_credentials_go_dead_with_a_clear_message(
    kerberos_cli: Any, writeback_soap_page_factory: Any
) -> None:
    cli = kerberos_cli
    with NtlmAcceptor(NTLM_USERS) as ntlm, NegotiateAcceptor() as negotiate:
        bc = writeback_soap_page_factory(auth=ntlm)
        nav = writeback_soap_page_factory(auth=negotiate, instance="DynamicsNAV110")
        rows = [
            soap_row("bc", "bc", bc.page_url, "ntlm", NTLM_USER, "Wrong-Ntlm-Pw-1", source_app="A"),
            soap_row(
                "nav", "nav", nav.page_url, "windows", ALICE, "Wrong-Krb-Pw-2", source_app="B"
            ),
        ]
        cli("connectors", "add", cli.file(rows))
        errors = {}
        for app in ("A", "B"):
            [made] = cli(
                "dispatch", cli.file(events(1, source_app=app)), "--json", "--wait", check=1
            ).json()
            shown = cli("deliveries", "show", made["deliveries"][0]["id"], "--json").json()
            assert shown["status"] == "dead"
            [attempt] = shown["history"]
            assert attempt["outcome"] == "failed"
            errors[app] = attempt["error"]
    assert errors["A"] == (
        f"WB-343: HTTP 401: the server refused the NTLM login of {NTLM_USER} after a complete "
        "handshake; check the user name, its domain and the password."
    )
    assert errors["B"].startswith(f"WB-340: the Kerberos KDC refused the password of {ALICE} (")
    assert bc.records == [] and nav.records == []
    outputs = "".join(cli.outputs)
    assert "Wrong-Ntlm-Pw-1" not in outputs and "Wrong-Krb-Pw-2" not in outputs


def test_eight_concurrent_workers_against_the_ntlm_acceptor(
    cli: Any, writeback_soap_page_factory: Any
) -> None:
    with NtlmAcceptor(NTLM_USERS, schemes=("Negotiate",)) as acceptor:
        nav = writeback_soap_page_factory(auth=acceptor, instance="DynamicsNAV110")
        row = soap_row(
            "nav", "nav", nav.page_url, "ntlm", NTLM_USER, NTLM_PW, throttle={"max_concurrency": 8}
        )
        cli("connectors", "add", cli.file(row))
        cli("dispatch", cli.file(events(80)))
        cli("worker", "--until-idle", "--concurrency", "8")
        assert len(nav.wait_for(80)) == 80
        assert len(nav.records) == 80
        totals = acceptor.totals()
        assert totals.failed == 0
        # One handshake per connection at most, and far fewer than deliveries.
        assert totals.started <= nav.connections_accepted <= 9  # 8 workers + the WSDL fetch
        assert totals.requests == 81  # 80 calls + the WSDL
