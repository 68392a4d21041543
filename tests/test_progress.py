"""The worker shows progress on a terminal (and nothing when output is piped)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

from .conftest import appointment_event, webhook_row


def test_worker_shows_progress_on_a_terminal(cli, writeback_receiver_factory):
    rx = writeback_receiver_factory(default_delay=0.3)
    cli("connectors", "add", cli.file(webhook_row("slow", rx.url)))
    cli("dispatch", cli.file([appointment_event("create", f"G{n}") for n in range(4)]))
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "writeback",
            "--db",
            cli.db_url,
            "worker",
            "--until-idle",
            "--concurrency",
            "1",
        ],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**cli.env, "TERM": "xterm"},
    )
    os.close(follower)
    screen = b""
    deadline = time.time() + 30
    while proc.poll() is None and time.time() < deadline:
        try:
            screen += os.read(leader, 4096)
        except OSError:
            break
    out, _ = proc.communicate(timeout=30)
    os.close(leader)
    assert proc.returncode == 0
    assert b"delivering" in screen and b"/4" in screen  # the bar counts towards 4
    assert b"delivering" not in out and b"delivered 4" in out  # stdout stays clean
