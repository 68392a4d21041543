"""What the HTTP benches share: the ``writeback`` CLI, ``writeback serve`` and percentiles.

Not a bench itself (``run.py`` runs ``bench_*.py`` only); ``bench_e2e.py``,
``bench_ingest.py`` and ``bench_read.py`` import it from this folder, which
Python puts first on the path of a script run as ``python bench/bench_x.py``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env() -> dict[str, str]:
    """This process's environment for a child ``writeback``, without the plugin
    cache (a stale one would measure old code) and without ``WRITEBACK_DB`` (each
    command names its store)."""
    found = {**os.environ, "WRITEBACK_CACHE_DIR": ""}
    found.pop("WRITEBACK_DB", None)
    return found


def command(db: str, *args: str) -> list[str]:
    """The argv of ``writeback --db DB ARGS…`` run by this Python."""
    return [sys.executable, "-m", "writeback", "--db", db, *args]


def cli(db: str, *args: str) -> str:
    """Run ``writeback --db DB ARGS…`` to its end and return its output.

    :raises subprocess.CalledProcessError: when it fails.
    """
    return subprocess.run(
        command(db, *args), capture_output=True, text=True, env=env(), check=True
    ).stdout


@contextlib.contextmanager
def running(*commands: Sequence[str]) -> Iterator[None]:
    """Run ``commands`` (``serve``, ``worker``) as processes for the block's length,
    then stop them as an operator would (SIGTERM) and wait for them to finish."""
    procs = [
        subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
        for argv in commands
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)


def wait_ready(client: httpx.Client) -> None:
    """Wait (up to about a minute) until the service behind ``client`` answers
    ``GET /healthz`` with 200: it starts as its own process."""
    for _ in range(600):
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0.5 for p50, 0.99 for p99) of ``values``, nearest rank
    (no interpolation: always one of the values measured)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]
