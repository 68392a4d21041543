"""The NTLM and Negotiate acceptors: real handshakes, per-connection state and counts."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
import spnego
from writeback_testing._server import LoopbackHandler, LoopbackServer
from writeback_testing.acceptors_windows import NegotiateAcceptor, NtlmAcceptor

if TYPE_CHECKING:
    from writeback_testing.kdc import TestKdc


class Guarded(LoopbackServer):
    def __init__(self, acceptor: Any) -> None:
        super().__init__()
        self.acceptor = acceptor

    def handle_request(self, handler: LoopbackHandler) -> None:
        principal = self.acceptor.authenticate(handler)
        if principal is not None:
            handler.respond(200, principal.encode(), {"Content-Type": "text/plain"})


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


def serve(acceptor: Any) -> Guarded:
    return Guarded(acceptor).start()


def handshake(
    http: requests.Session, url: str, client: Any, scheme: str
) -> tuple[requests.Response, list[int]]:
    """Drive ``client`` (a pyspnego context) against ``url`` on one connection by hand."""
    statuses: list[int] = []
    token = client.step()
    while True:
        header = f"{scheme} {base64.b64encode(token).decode()}"
        answer = http.get(url, headers={"Authorization": header})
        statuses.append(answer.status_code)
        value = answer.headers.get("WWW-Authenticate", "")
        _, _, rest = value.partition(" ")
        if answer.status_code != 401 or not rest:
            if rest and not client.complete:
                client.step(base64.b64decode(rest))
            return answer, statuses
        token = client.step(base64.b64decode(rest))


def ntlm_client(user: str, password: str, protocol: str = "ntlm") -> Any:
    return spnego.client(
        user,
        password,
        hostname="127.0.0.1",
        service="HTTP",
        protocol=protocol,
        options=spnego.NegotiateOptions.use_negotiate
        if protocol == "negotiate"
        else spnego.NegotiateOptions.use_ntlm,
    )


def test_a_request_without_credentials_gets_the_challenges(http: requests.Session) -> None:
    with NtlmAcceptor({"CRONUS\\u": "pw-1"}, schemes=("NTLM", "Negotiate")) as acceptor:
        server = serve(acceptor)
        try:
            answer = http.get(server.url)
        finally:
            server.stop()
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "NTLM, Negotiate"
    assert acceptor.totals().started == 0


def test_ntlm_authenticates_the_connection_once(http: requests.Session) -> None:
    with NtlmAcceptor({"CRONUS\\u": "pw-1"}) as acceptor:
        server = serve(acceptor)
        try:
            answer, statuses = handshake(http, server.url, ntlm_client("CRONUS\\u", "pw-1"), "NTLM")
            later = [http.get(server.url) for _ in range(3)]
        finally:
            server.stop()
    assert statuses == [401, 200]
    assert answer.text == "CRONUS\\u"
    assert [a.status_code for a in later] == [200] * 3
    ((_, stats),) = acceptor.connections.items()
    assert (stats.started, stats.completed, stats.failed, stats.requests) == (1, 1, 0, 4)
    assert stats.protocol == "ntlm"
    assert acceptor.principals == ["CRONUS\\u"]


def test_another_connection_is_not_authenticated(http: requests.Session) -> None:
    with NtlmAcceptor({"CRONUS\\u": "pw-1"}) as acceptor:
        server = serve(acceptor)
        try:
            handshake(http, server.url, ntlm_client("CRONUS\\u", "pw-1"), "NTLM")
            with requests.Session() as other:
                other.trust_env = False
                assert other.get(server.url).status_code == 401
        finally:
            server.stop()


def test_wrong_password_and_garbage_count_as_failed(http: requests.Session) -> None:
    with NtlmAcceptor({"CRONUS\\u": "pw-1"}) as acceptor:
        server = serve(acceptor)
        try:
            _, statuses = handshake(http, server.url, ntlm_client("CRONUS\\u", "bad"), "NTLM")
            garbage = http.get(server.url, headers={"Authorization": "NTLM bm9uc2Vuc2U="})
        finally:
            server.stop()
    assert statuses == [401, 401]
    assert garbage.status_code == 401
    totals = acceptor.totals()
    assert (totals.started, totals.completed, totals.failed) == (2, 0, 2)


def test_ntlm_inside_negotiate(http: requests.Session) -> None:
    with NtlmAcceptor({"ntlmuser": "pw-2"}, schemes=("Negotiate",)) as acceptor:
        server = serve(acceptor)
        try:
            client = ntlm_client("ntlmuser", "pw-2", protocol="negotiate")
            answer, statuses = handshake(http, server.url, client, "Negotiate")
        finally:
            server.stop()
    assert answer.text == "ntlmuser"
    assert statuses == [401, 200]
    assert client.complete  # the closing SPNEGO token (mechListMIC) came with the 200


def test_each_acceptor_accepts_only_its_own_users(http: requests.Session) -> None:
    with NtlmAcceptor({"A\\one": "pw-a"}) as first, NtlmAcceptor({"B\\two": "pw-b"}) as second:
        server = serve(second)
        try:
            # A\one is in the shared user file (first is open) but not second's user.
            _, statuses = handshake(http, server.url, ntlm_client("A\\one", "pw-a"), "NTLM")
        finally:
            server.stop()
        assert statuses == [401, 401]
        assert second.totals().failed == 1
        assert first.users == {"A\\one": "pw-a"}


def test_the_user_file_is_shared_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NTLM_USER_FILE", "/somewhere/else")
    first = NtlmAcceptor({"A\\one": "pw-a"})
    path = os.environ["NTLM_USER_FILE"]
    with pytest.raises(
        ValueError, match=r"another open NTLM acceptor has user A\\ONE \(compared without case\)"
    ):
        NtlmAcceptor({"a\\ONE": "different"})
    with NtlmAcceptor({"C\\three": "pw-c"}):
        text = Path(path).read_text(encoding="utf-8")
        assert text.splitlines() == ["A:ONE:pw-a", "C:THREE:pw-c"]
    first.close()
    first.close()
    assert os.environ["NTLM_USER_FILE"] == "/somewhere/else"
    assert not os.path.exists(path)


def test_kerberos_with_mutual_auth_token(
    writeback_kdc: TestKdc, writeback_negotiate_acceptor: NegotiateAcceptor, http: requests.Session
) -> None:
    server = serve(writeback_negotiate_acceptor)
    try:
        client = spnego.client(
            "alice@WRITEBACK.TEST",
            "Wonder-Land-42",
            hostname="127.0.0.1",
            service="HTTP",
            protocol="kerberos",
        )
        answer, statuses = handshake(http, server.url, client, "Negotiate")
    finally:
        server.stop()
    assert statuses == [200]
    assert answer.text == "alice@WRITEBACK.TEST"
    # The mutual-authentication token rode on the 200 and verified.
    assert answer.headers["WWW-Authenticate"].startswith("Negotiate ")
    assert client.complete
    (stats,) = writeback_negotiate_acceptor.connections.values()
    assert stats.protocol == "kerberos"
