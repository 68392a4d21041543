"""pytest fixtures for Windows authentication: a throwaway KDC, NTLM and Negotiate acceptors.

``writeback_kdc`` is session-scoped: one realm (~0.1 s to start) for the whole
run, activated in this process (``KRB5_CONFIG`` and friends in ``os.environ``
until the session ends) so in-process clients and acceptors find it; pass
``writeback_kdc.env`` to subprocesses explicitly.  Without the MIT KDC
programs or the gssapi/krb5 Python packages it skips, and fails when ``CI`` is
set.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from writeback_testing.services import service_unavailable

if TYPE_CHECKING:
    from writeback_testing.acceptors_windows import NegotiateAcceptor, NtlmAcceptor
    from writeback_testing.kdc import TestKdc

#: Users of the test realm and of the NTLM acceptors (user -> password).
KERBEROS_USERS = {"alice": "Wonder-Land-42", "bob": "B0b-Kerberos!"}
NTLM_USERS = {"CRONUS\\WEBUSER": "Ntlm-Pa55!", "ntlmuser": "Plain-Pa55"}


def kerberos_missing_reason() -> str | None:
    """Why a Kerberos test cannot run here, or None."""
    from writeback_testing.kdc import kdc_missing_reason

    reason = kdc_missing_reason()
    if reason:
        return reason
    missing = [m for m in ("gssapi", "krb5") if importlib.util.find_spec(m) is None]
    if missing:
        return (
            f"Python packages {', '.join(missing)} are not installed; install "
            "'writeback-auth-windows[kerberos]' (needs libkrb5-dev)"
        )
    return None


@pytest.fixture(scope="session")
def writeback_kdc() -> Iterator[TestKdc]:
    """A running :class:`~writeback_testing.kdc.TestKdc`, activated in this process.

    Realm ``WRITEBACK.TEST`` with users :data:`KERBEROS_USERS`, service keys
    for ``HTTP/127.0.0.1`` and ``HTTP/localhost``, and ``down_realm`` whose
    KDC never answers.
    """
    reason = kerberos_missing_reason()
    if reason:
        service_unavailable(reason)
    from writeback_testing.kdc import KdcUnavailableError, TestKdc

    kdc = TestKdc(KERBEROS_USERS)
    try:
        kdc.start()
    except KdcUnavailableError as exc:
        service_unavailable(f"the test KDC did not start: {exc}")
    kdc.activate()
    try:
        yield kdc
    finally:
        kdc.stop()


@pytest.fixture
def writeback_ntlm_acceptor() -> Iterator[NtlmAcceptor]:
    """An :class:`~writeback_testing.acceptors_windows.NtlmAcceptor` for :data:`NTLM_USERS`,
    answering ``NTLM`` and ``Negotiate`` (NTLM inside); closed after the test."""
    from writeback_testing.acceptors_windows import NtlmAcceptor

    with NtlmAcceptor(NTLM_USERS, schemes=("NTLM", "Negotiate")) as acceptor:
        yield acceptor


@pytest.fixture
def writeback_negotiate_acceptor(writeback_kdc: TestKdc) -> Iterator[NegotiateAcceptor]:
    """A :class:`~writeback_testing.acceptors_windows.NegotiateAcceptor` for ``HTTP/127.0.0.1``
    of the test realm, with NTLM inside Negotiate for :data:`NTLM_USERS`."""
    from writeback_testing.acceptors_windows import NegotiateAcceptor

    with NegotiateAcceptor(NTLM_USERS, hostname="127.0.0.1") as acceptor:
        yield acceptor
