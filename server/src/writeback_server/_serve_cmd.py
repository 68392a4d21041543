"""``writeback serve``: the HTTP API on uvicorn, with a worker in the same process
when ``--worker`` is given.

SIGTERM (or Ctrl-C) stops it gracefully: no new connection is taken, the
requests under way are answered, then the worker claims nothing more and its
attempts in flight get ``--grace`` seconds to end (those cut short stay
pending, due at once), and the store is closed.
"""

from __future__ import annotations

import re
import socket
import sys
from typing import Annotated

import typer
from writeback import UserError

from ._store import db_url

app = typer.Typer(add_completion=False, rich_markup_mode=None)

_SIZE = re.compile(r"^\s*(\d+)\s*(b|kib|kb|k|mib|mb|m)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1 << 20, "mb": 1 << 20}
_UNITS["mib"] = 1 << 20


def parse_size(text: str) -> int:
    """``--max-body``: bytes, or with a unit (``512KiB``, ``2MiB``).

    :raises UserError: for anything else, or a size outside 1 KiB .. 1 GiB.
    """
    match = _SIZE.match(text)
    if not match:
        raise UserError(
            f"--max-body {text!r} is not a size; give bytes or a size like 512KiB or 2MiB."
        )
    size = int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
    if not 1024 <= size <= 1 << 30:
        raise UserError(f"--max-body {text!r} is outside 1KiB to 1024MiB; give a size within.")
    return size


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that an address in use or not ours is
    one sentence and exit 2 (uvicorn's own bind ends the process with 3).

    :raises UserError: when ``host:port`` cannot be bound.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
        # Made with proto IPPROTO_TCP, as asyncio's own listeners are: asyncio sets
        # TCP_NODELAY only on such sockets' connections, and without it every
        # answer waited some 40 ms for the client's delayed ACK.
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise UserError(
            f"--host {host!r} is not an address to listen on ({exc.strerror or exc}); "
            "give an IP address or a host name of this machine."
        ) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
        return sock
    except OSError as exc:
        sock.close()
        raise UserError(
            f"--host {host} --port {port}: cannot listen there "
            f"({exc.strerror or exc}); "
            "give a free port or another address."
        ) from None


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on.", min=0, max=65535)
    ] = 8080,
    worker: Annotated[
        bool, typer.Option("--worker", help="Also deliver, in this process (a worker).")
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", help="The worker's attempts in flight at once.", min=1, max=1000
        ),
    ] = 8,
    max_body: Annotated[
        str,
        typer.Option("--max-body", metavar="SIZE", help="Largest request body read (larger: 413)."),
    ] = "1MiB",
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            metavar="SECONDS",
            help="On SIGTERM, how long in-flight attempts and requests may take to end.",
            min=0,
            max=3600,
        ),
    ] = 30.0,
    poll_interval: Annotated[
        float,
        typer.Option(
            "--poll-interval",
            metavar="SECONDS",
            help="With --worker: how often it looks for work it was not told of "
            "(this process's submits wake it at once).",
            min=0.05,
            max=86400,
        ),
    ] = 0.5,
) -> None:
    """Run the HTTP API over the store (with --worker, deliver too); stop with SIGTERM."""
    import uvicorn
    from writeback import Dispatcher

    from ._host import WorkerOptions
    from .app import create_app

    limit = parse_size(max_body)
    url = db_url(ctx)
    # Open (and migrate) the store once here: a store that cannot be opened is
    # one sentence and exit 2, not a failed start-up deep inside uvicorn.
    Dispatcher.open(url).close()
    application = create_app(
        url,
        max_body=limit,
        worker=(
            WorkerOptions(concurrency=concurrency, grace=grace, poll_interval=poll_interval)
            if worker
            else None
        ),
    )
    config = uvicorn.Config(
        application,
        host=host,
        port=port,
        # The command line's logging (redacting, to stderr) stays in force.
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=max(grace, 1.0),
        server_header=False,
    )
    sock = listen(host, port)
    bound = sock.getsockname()[1]
    where = host if ":" not in host else f"[{host}]"
    what = "API and worker" if worker else "API"
    sys.stderr.write(f"writeback serve: {what} on http://{where}:{bound}/ (SIGTERM stops)\n")
    sys.stderr.flush()
    server = uvicorn.Server(config)
    with sock:
        server.run(sockets=[sock])
    if not server.started:
        raise typer.Exit(1)
