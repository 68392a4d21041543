"""``ntlm`` on a real socket against pyspnego's NTLM acceptor."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from writeback.plugin import Outcome
from writeback_auth_windows._mechanism import NtlmMechanism
from writeback_testing.acceptors_windows import NtlmAcceptor

if TYPE_CHECKING:
    from conftest import GuardedServer

PASSWORD = "Ntlm-Pa55!"
Deliver = Callable[..., Any]


@pytest.fixture
def server(
    writeback_ntlm_acceptor: NtlmAcceptor, guarded_factory: Callable[..., GuardedServer]
) -> GuardedServer:
    return guarded_factory(writeback_ntlm_acceptor)


def mechanism(
    make_connector: Callable[..., Any], url: str, username: str, password: str
) -> NtlmMechanism:
    connector = make_connector("ntlm", uri=url, username=username, password=password)
    return NtlmMechanism(connector.context())


@pytest.mark.parametrize("username", ["CRONUS\\WEBUSER", "cronus\\webuser"])
def test_delivers_with_one_handshake_per_connection(
    make_connector: Callable[..., Any], deliver: Deliver, server: GuardedServer, username: str
) -> None:
    connector = make_connector(
        "ntlm", uri=server.url + "/page", username=username, password=PASSWORD
    )
    results = deliver(connector, count=5)
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 5
    acceptor = server.acceptor
    assert isinstance(acceptor, NtlmAcceptor)
    totals = acceptor.totals()
    # The pipeline sends from worker threads, one Session (one connection) per thread.
    assert totals.started == totals.completed == server.connections_accepted
    assert totals.failed == 0
    assert totals.requests == 5
    assert {p for _, p in server.accepted} == {username}  # as the client wrote it


def test_one_session_makes_one_handshake_for_many_requests(
    make_session: Callable[..., Any], make_connector: Callable[..., Any], server: GuardedServer
) -> None:
    auth = mechanism(make_connector, server.url, "CRONUS\\WEBUSER", PASSWORD)
    s = make_session(auth.for_transport("requests"))
    answers = [s.post(server.url + "/page", data=b"<call/>") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 6
    # Only the first request was challenged; the others went without Authorization.
    assert [len(a.history) for a in answers] == [2, 0, 0, 0, 0, 0]
    assert "Authorization" not in answers[-1].request.headers
    assert server.connections_accepted == 1
    assert auth.handshakes.snapshot() == (1, 1, 0)
    (only,) = server.acceptor.connections.values()  # type: ignore[attr-defined]
    assert (only.started, only.completed, only.requests) == (1, 1, 6)


def test_a_user_without_a_domain(
    make_connector: Callable[..., Any], deliver: Deliver, server: GuardedServer
) -> None:
    (result,) = deliver(
        make_connector("ntlm", uri=server.url, username="ntlmuser", password="Plain-Pa55")
    )
    assert result.outcome is Outcome.DELIVERED
    assert server.accepted[0][1] == "ntlmuser"


def test_answers_a_negotiate_only_server(
    make_session: Callable[..., Any],
    make_connector: Callable[..., Any],
    guarded_factory: Callable[..., GuardedServer],
) -> None:
    # NAV answers Negotiate only; requests-ntlm then sends NTLM tokens in Negotiate.
    with NtlmAcceptor({"CRONUS\\WEBUSER": PASSWORD}, schemes=("Negotiate",)) as acceptor:
        server = guarded_factory(acceptor)
        auth = mechanism(make_connector, server.url, "CRONUS\\WEBUSER", PASSWORD)
        answer = make_session(auth.for_transport("requests")).post(server.url, data=b"x")
        assert answer.status_code == 200
        assert answer.text == "CRONUS\\WEBUSER"
        assert acceptor.totals().completed == 1


def test_wrong_password_fails_with_a_sentence_and_no_secret(
    make_connector: Callable[..., Any],
    deliver: Deliver,
    server: GuardedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    connector = make_connector(
        "ntlm", uri=server.url, username="CRONUS\\WEBUSER", password="Wr0ng-Secret-99"
    )
    (result,) = deliver(connector)
    assert result.outcome is Outcome.FAILED
    assert result.error == (
        "WB-343: HTTP 401: the server refused the NTLM login of CRONUS\\WEBUSER after a "
        "complete handshake; check the user name, its domain and the password."
    )
    assert "Wr0ng-Secret-99" not in caplog.text
    totals = server.acceptor.totals()  # type: ignore[attr-defined]
    assert (totals.started, totals.completed, totals.failed) == (1, 0, 1)


def test_an_unknown_user_is_refused(
    make_connector: Callable[..., Any], deliver: Deliver, server: GuardedServer
) -> None:
    (result,) = deliver(
        make_connector("ntlm", uri=server.url, username="CRONUS\\nobody", password="x1")
    )
    assert result.outcome is Outcome.FAILED
    assert result.error is not None and result.error.startswith("WB-343: HTTP 401")


def test_a_server_that_breaks_off_the_handshake(
    make_connector: Callable[..., Any],
    deliver: Deliver,
    guarded_factory: Callable[..., GuardedServer],
) -> None:
    class Stubborn:
        """Challenges NTLM, then answers the negotiate message with a bare 401."""

        scheme = "NTLM"

        def authenticate(self, handler: Any) -> str | None:
            handler.respond(
                401,
                b"no",
                [("WWW-Authenticate", "Basic realm=x")]
                if "Authorization" in handler.headers
                else [("WWW-Authenticate", "NTLM")],
            )
            return None

    server = guarded_factory(Stubborn())
    (result,) = deliver(make_connector("ntlm", uri=server.url, username="u", password="secret-123"))
    assert result.outcome is Outcome.FAILED
    assert result.error is not None and result.error.startswith(
        "WB-344: NTLM authentication failed: the server did not continue the handshake"
    )
    assert "secret-123" not in result.error


def test_eight_threads_each_with_a_session(
    make_session: Callable[..., Any], make_connector: Callable[..., Any], server: GuardedServer
) -> None:
    auth = mechanism(make_connector, server.url, "CRONUS\\WEBUSER", PASSWORD)
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        s = make_session(auth.for_transport("requests"))
        try:
            for _ in range(10):
                status = s.post(server.url + "/page", data=b"<x/>").status_code
                with lock:
                    statuses.append(status)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            s.close()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert statuses == [200] * 80
    totals = server.acceptor.totals()  # type: ignore[attr-defined]
    assert totals.failed == 0
    assert totals.started == totals.completed
    # At most one handshake per connection, and one connection per session here.
    assert totals.started <= server.connections_accepted <= 8
    assert auth.handshakes.snapshot() == (totals.started, totals.started, 0)
    assert all(c.started <= 1 for c in server.acceptor.connections.values())  # type: ignore[attr-defined]
