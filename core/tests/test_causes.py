"""Finding the root cause of a connection error (``writeback.connection_cause``),
which the json and soap formats and the token sources all put in their texts."""

from __future__ import annotations

import ssl
from http.client import RemoteDisconnected

from writeback.plugin import connection_cause, exception_chain


class _Pool:
    """Like urllib3's MaxRetryError arguments: the real error in ``reason``."""

    def __init__(self, reason: BaseException) -> None:
        self.reason = reason


def _raised_from(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        raise outer from inner
    except BaseException as exc:
        return exc


def test_the_cause_is_found_wherever_a_library_keeps_it():
    refused = ConnectionRefusedError(111, "Connection refused")
    untrusted = ssl.SSLCertVerificationError(1, "certificate verify failed")
    untrusted.verify_message = "unable to get local issuer certificate"
    cases = [
        # httpx: the OS error in the cause chain.
        (_raised_from(RuntimeError("All attempts"), refused), "[Errno 111] Connection refused"),
        # anyio: in an exception group, not its first member.
        (
            ExceptionGroup("connect", [ValueError("first"), untrusted]),
            "TLS certificate not trusted: unable to get local issuer certificate",
        ),
        # requests: urllib3's error in args, its cause in ``reason``.
        (RuntimeError("Max retries", _Pool(refused)), "[Errno 111] Connection refused"),
        # http.client's RemoteDisconnected (a ConnectionResetError) has no errno.
        (
            RuntimeError("Connection aborted.", RemoteDisconnected("Remote end closed")),
            "the server closed the connection without answering",
        ),
    ]
    for error, expected in cases:
        assert connection_cause(error) == expected, error


def test_no_cause_is_none_and_a_cycle_ends():
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__context__, second.__context__ = second, first
    assert connection_cause(first) is None
    assert [str(e) for e in exception_chain(first)] == ["a", "b"]
    assert connection_cause(OSError("no errno")) is None
    reset = ConnectionResetError("reset, no errno")
    assert connection_cause(reset) == "the connection was reset by the server"


def test_the_nearest_cause_comes_first():
    """A TLS failure wrapped around a reset: the TLS failure is the one to tell."""
    reset = ConnectionResetError(104, "Connection reset by peer")
    tls = ssl.SSLError(1, "wrong version number")
    tls.reason = "WRONG_VERSION_NUMBER"
    error = _raised_from(RuntimeError("handshake"), _raised_from(tls, reset))
    assert connection_cause(error) == "TLS error: WRONG_VERSION_NUMBER"
