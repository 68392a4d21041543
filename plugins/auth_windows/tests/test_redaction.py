"""Handshake tokens sent are removed from every text: a server may quote the request back,
and an NTLM answer lets whoever reads it try passwords offline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from writeback._secrets import REDACTOR
from writeback_auth_windows._mechanism import NtlmMechanism, WindowsMechanism


def sent_credentials(answer: Any) -> list[str]:
    """The ``Authorization`` headers of every leg the client sent for ``answer``."""
    legs = [*answer.history, answer]
    return [
        r.request.headers["Authorization"] for r in legs if "Authorization" in r.request.headers
    ]


def test_ntlm_handshake_tokens_are_redacted(
    make_session: Callable[..., Any],
    make_connector: Callable[..., Any],
    guarded_factory: Callable[..., Any],
    writeback_ntlm_acceptor: Any,
) -> None:
    server = guarded_factory(writeback_ntlm_acceptor)
    connector = make_connector(
        "ntlm", uri=server.url, username="CRONUS\\WEBUSER", password="Ntlm-Pa55!"
    )
    auth = NtlmMechanism(connector.context())
    answer = make_session(auth.for_transport("requests")).post(server.url, data=b"x")
    assert answer.status_code == 200
    *_, last = sent_credentials(answer)  # the third leg: derived from the password
    scheme, _, credentials = last.partition(" ")
    assert REDACTOR.redact(f"you sent {last}") == f"you sent {scheme} ***"
    assert credentials not in (REDACTOR.redact(f"quoted: {credentials}") or "")


@pytest.mark.parametrize(
    ("acceptor", "username", "password"),
    [
        ("writeback_ntlm_acceptor", "CRONUS\\WEBUSER", "Ntlm-Pa55!"),  # NTLM inside Negotiate
        ("writeback_negotiate_acceptor", "alice@WRITEBACK.TEST", "Wonder-Land-42"),  # Kerberos
    ],
)
def test_negotiate_handshake_tokens_are_redacted(
    make_session: Callable[..., Any],
    make_connector: Callable[..., Any],
    guarded_factory: Callable[..., Any],
    request: pytest.FixtureRequest,
    acceptor: str,
    username: str,
    password: str,
) -> None:
    server = guarded_factory(request.getfixturevalue(acceptor))
    connector = make_connector("windows", uri=server.url, username=username, password=password)
    auth = WindowsMechanism(connector.context())
    answer = make_session(auth.for_transport("requests")).post(server.url, data=b"x")
    assert answer.status_code == 200
    sent = sent_credentials(answer)
    assert sent and all(h.startswith("Negotiate ") for h in sent)
    for header in sent:
        assert REDACTOR.redact(f"you sent {header}") == "you sent Negotiate ***"
