"""``writeback receive``: a local webhook receiver for trying a connector by hand.

The server is :class:`writeback_testing.receive.PrintingReceiver`, the tests'
own webhook receiver; this module turns options into it, prints, and waits for
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import errno
import signal
import sys
import threading
from typing import Annotated

import typer
from writeback import UserError

app = typer.Typer(add_completion=False, rich_markup_mode=None)

_write_lock = threading.Lock()


def _write(text: str) -> None:
    # Handler threads print concurrently; one request's block stays together.
    with _write_lock:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


@app.command("receive")
def receive(
    port: Annotated[
        int, typer.Option("--port", help="Port on 127.0.0.1 (0 picks a free one).")
    ] = 9000,
    basic: Annotated[
        str | None,
        typer.Option(
            "--basic",
            metavar="USER:PASS",
            help="Require these Basic credentials; anything else is answered 401.",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            metavar="HEADER:VALUE",
            help="Require this header to carry this key (X-Api-Key:s3cret, or "
            "X-Api-Key:env:NAME); anything else is answered 401.",
        ),
    ] = None,
    signing_secret: Annotated[
        str | None,
        typer.Option(
            "--signing-secret",
            metavar="whsec_…",
            help="Check Standard Webhooks signatures with this secret (or env:NAME).",
        ),
    ] = None,
    fail: Annotated[
        str | None,
        typer.Option(
            "--fail",
            metavar="ANSWER[xN],…",
            help="Answer the first POSTs so: a status or 'reset', N times each "
            "(503x2: 503 twice, then succeed).",
        ),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", metavar="CODE", help="Answer every POST with CODE (200-599)."),
    ] = None,
) -> None:
    """A local webhook receiver: prints each request, checks Basic auth, an API key and
    signatures."""
    from .receive import PrintingReceiver, parse_fail, parse_status

    try:
        key = _api_key(api_key) if api_key is not None else None
        steps = parse_fail(fail) if fail is not None else []
        answer = parse_status(status) if status is not None else 200
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not 0 <= port <= 65535:
        raise UserError(f"--port {port} is not a port; give one from 0 to 65535.")
    receiver = PrintingReceiver(
        write=_write,
        port=port,
        basic_auth=_basic(basic),
        api_key=key,
        signing_secret=_secret(signing_secret),
        fail=steps,
        status=answer,
    )
    try:
        receiver.start()
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            reason = "in use" if exc.errno == errno.EADDRINUSE else "not allowed for this user"
            raise UserError(
                f"port {port} on 127.0.0.1 is {reason}; choose another with --port "
                "(0 picks a free one)."
            ) from None
        raise UserError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}.") from None
    _write(f"listening on {receiver.url}/ (any path); Ctrl-C to stop")
    _wait_for_signal()
    receiver.stop()
    _write(f"stopped after {len(receiver.requests)} request(s)")


def _basic(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    user, colon, password = value.partition(":")
    if not colon or not user or not password:
        raise UserError("--basic must be USER:PASS, a user name and a password joined by ':'.")
    return user, password


def _from_env(option: str, value: str) -> str:
    """``value``, or the variable it names as ``env:NAME`` (which keeps a secret out
    of ``ps`` and the shell's history)."""
    import os

    if not value.startswith("env:"):
        return value
    name = value[len("env:") :]
    if name not in os.environ:
        raise UserError(f"{option} env:{name}: the variable {name} is not set.")
    return os.environ[name]


def _api_key(value: str) -> tuple[str, str]:
    from .receive import parse_api_key

    header, key = parse_api_key(value)
    return header, _from_env("--api-key", key)


def _secret(value: str | None) -> str | None:
    if value is None:
        return None
    from ._signing import decode_secret

    value = _from_env("--signing-secret", value)
    try:
        decode_secret(value)
    except ValueError:
        raise UserError(
            "--signing-secret must be 'whsec_' followed by base64 (or env:NAME), "
            "the same secret as the connector's options.signing_secret."
        ) from None
    return value


def _wait_for_signal() -> None:
    """Block until SIGTERM or SIGINT (Ctrl-C); both end the command with exit 0."""
    done = threading.Event()

    def stop(signum: int, frame: object) -> None:
        done.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # A timeout keeps the main thread waking, so a signal is handled promptly.
        while not done.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
