"""``windows`` on a real socket: Kerberos tickets from the test KDC, NTLM inside Negotiate."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from writeback.plugin import Outcome
from writeback_auth_windows._mechanism import WindowsMechanism
from writeback_testing.acceptors_windows import NegotiateAcceptor, NtlmAcceptor

if TYPE_CHECKING:
    from conftest import GuardedServer
    from writeback_testing.kdc import TestKdc

ALICE, ALICE_PW = "alice@WRITEBACK.TEST", "Wonder-Land-42"
Deliver = Callable[..., Any]


@pytest.fixture
def server(
    writeback_negotiate_acceptor: NegotiateAcceptor, guarded_factory: Callable[..., GuardedServer]
) -> GuardedServer:
    return guarded_factory(writeback_negotiate_acceptor)


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog


def mechanism(
    make_connector: Callable[..., Any], url: str, username: str, password: str
) -> WindowsMechanism:
    connector = make_connector("windows", uri=url, username=username, password=password)
    return WindowsMechanism(connector.context())


def test_kerberos_ticket_from_the_kdc_delivers(
    make_connector: Callable[..., Any], deliver: Deliver, server: GuardedServer
) -> None:
    results = deliver(
        make_connector("windows", uri=server.url, username=ALICE, password=ALICE_PW), 3
    )
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 3
    acceptor = server.acceptor
    assert isinstance(acceptor, NegotiateAcceptor)
    assert set(acceptor.principals) == {ALICE}
    assert {c.protocol for c in acceptor.connections.values()} == {"kerberos"}
    totals = acceptor.totals()
    assert totals.started == totals.completed == server.connections_accepted
    assert totals.failed == 0


def test_one_ticket_one_handshake_per_connection_and_mutual_auth(
    make_session: Callable[..., Any], make_connector: Callable[..., Any], server: GuardedServer
) -> None:
    auth = mechanism(make_connector, server.url, ALICE, ALICE_PW)
    first = make_session(auth.for_transport("requests"))
    answers = [first.post(server.url, data=b"<call/>") for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    # Kerberos: one leg; the 200 carries the server's mutual-authentication token.
    assert len(answers[0].history) == 1
    assert answers[0].headers["WWW-Authenticate"].startswith("Negotiate ")
    assert [len(a.history) for a in answers[1:]] == [0, 0, 0]
    assert first.auth.negotiated_protocol == "kerberos"  # type: ignore[union-attr]
    second = make_session(auth.for_transport("requests"))
    assert second.post(server.url, data=b"<call/>").status_code == 200
    assert server.connections_accepted == 2
    assert auth.handshakes.snapshot() == (2, 2, 0)
    # The ticket-granting ticket was fetched once and shared by both sessions.
    assert auth.kerberos is not None and auth.kerberos.requests == 1


def test_a_forged_mutual_auth_token_is_refused(
    make_session: Callable[..., Any],
    make_connector: Callable[..., Any],
    writeback_negotiate_acceptor: NegotiateAcceptor,
    guarded_factory: Callable[..., GuardedServer],
) -> None:
    class Impostor:
        """Accepts the ticket, but answers with a mutual-auth token it did not make."""

        scheme = "Negotiate"

        def authenticate(self, handler: Any) -> str | None:
            principal = writeback_negotiate_acceptor.authenticate(handler)
            if handler.next_headers:
                forged = "Negotiate oYGBMH+gAwoBAKELBgkqhkiG9xIBAgKiawRp"
                handler.next_headers = [("WWW-Authenticate", forged)]
            return principal

    server = guarded_factory(Impostor())
    auth = mechanism(make_connector, server.url, ALICE, ALICE_PW)
    from writeback.plugin import AttemptError

    with pytest.raises(AttemptError) as caught:
        make_session(auth.for_transport("requests")).post(server.url, data=b"x")
    assert caught.value.code == "WB-344"
    assert "could not prove its identity" in caught.value.message
    assert auth.handshakes.snapshot() == (1, 0, 1)


@pytest.mark.parametrize("username", ["CRONUS\\WEBUSER", "ntlmuser"])
def test_a_user_without_realm_falls_back_to_ntlm_inside_negotiate(
    make_connector: Callable[..., Any], deliver: Deliver, server: GuardedServer, username: str
) -> None:
    password = {"CRONUS\\WEBUSER": "Ntlm-Pa55!", "ntlmuser": "Plain-Pa55"}[username]
    (result,) = deliver(
        make_connector("windows", uri=server.url, username=username, password=password)
    )
    assert result.outcome is Outcome.DELIVERED
    assert {c.protocol for c in server.acceptor.connections.values()} == {"ntlm"}  # type: ignore[attr-defined]


def test_a_realm_without_a_kdc_falls_back_to_ntlm(
    make_connector: Callable[..., Any],
    deliver: Deliver,
    writeback_kdc: TestKdc,
    guarded_factory: Callable[..., GuardedServer],
    debug_log: pytest.LogCaptureFixture,
) -> None:
    with NegotiateAcceptor({"carol@NOWHERE.TEST": "Carol-Pw-1"}) as acceptor:
        server = guarded_factory(acceptor)
        connector = make_connector(
            "windows", uri=server.url, username="carol@NOWHERE.TEST", password="Carol-Pw-1"
        )
        (result,) = deliver(connector)
    assert result.outcome is Outcome.DELIVERED
    assert acceptor.principals == ["carol@NOWHERE.TEST"]
    assert {c.protocol for c in acceptor.connections.values()} == {"ntlm"}
    assert "no Kerberos KDC is configured for carol@NOWHERE.TEST" in debug_log.text
    assert "Carol-Pw-1" not in debug_log.text


def test_kerberos_user_against_an_ntlm_only_negotiate_server(
    make_connector: Callable[..., Any],
    deliver: Deliver,
    writeback_kdc: TestKdc,
    guarded_factory: Callable[..., GuardedServer],
) -> None:
    # The ticket is offered first; the server picks NTLM from the same SPNEGO exchange.
    with NtlmAcceptor({ALICE: ALICE_PW}, schemes=("Negotiate",)) as acceptor:
        server = guarded_factory(acceptor)
        (result,) = deliver(
            make_connector("windows", uri=server.url, username=ALICE, password=ALICE_PW)
        )
    assert result.outcome is Outcome.DELIVERED
    assert {c.protocol for c in acceptor.connections.values()} == {"ntlm"}


def test_a_password_the_kdc_refuses_fails(
    make_connector: Callable[..., Any],
    deliver: Deliver,
    server: GuardedServer,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    connector = make_connector("windows", uri=server.url, username=ALICE, password="Not-Her-Pw-7")
    (result,) = deliver(connector)
    assert result.outcome is Outcome.FAILED
    assert result.error is not None
    assert result.error.startswith(f"WB-340: the Kerberos KDC refused the password of {ALICE} (")
    assert result.error.endswith("); correct auth.password.")
    assert "Not-Her-Pw-7" not in result.error + debug_log.text
    # Refused before any handshake: the server saw one unauthenticated request only.
    assert server.acceptor.totals().started == 0  # type: ignore[attr-defined]


def test_an_unknown_principal_fails(
    make_connector: Callable[..., Any], deliver: Deliver, server: GuardedServer
) -> None:
    (result,) = deliver(
        make_connector("windows", uri=server.url, username="mallory@WRITEBACK.TEST", password="x1")
    )
    assert result.outcome is Outcome.FAILED
    assert result.error is not None
    assert result.error.startswith(
        "WB-341: the Kerberos KDC refused the user mallory@WRITEBACK.TEST ("
    )


def test_a_kdc_that_does_not_answer_is_retried(
    make_connector: Callable[..., Any],
    deliver: Deliver,
    server: GuardedServer,
    writeback_kdc: TestKdc,
) -> None:
    user = f"alice@{writeback_kdc.down_realm}"
    (result,) = deliver(
        make_connector("windows", uri=server.url, username=user, password="Down-Pw-3")
    )
    assert result.outcome is Outcome.RETRY
    assert result.error is not None
    assert result.error.startswith(f"WB-342: no Kerberos KDC answered for {user} (")
    assert "Down-Pw-3" not in result.error


def test_wrong_ntlm_password_inside_negotiate_fails(
    make_connector: Callable[..., Any], deliver: Deliver, server: GuardedServer
) -> None:
    (result,) = deliver(
        make_connector("windows", uri=server.url, username="CRONUS\\WEBUSER", password="bad-Pw-5")
    )
    assert result.outcome is Outcome.FAILED
    assert result.error == (
        "WB-343: HTTP 401: the server refused the Negotiate login of CRONUS\\WEBUSER after a "
        "complete handshake; check the user name, its domain and the password."
    )
