"""Shared fixtures for the writeback-testing tests: a loopback client, and ``receive``
to run ``writeback receive`` as a real process."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A keep-alive client for loopback ``http://``.

    ``verify=False`` only because loading the CA bundle costs ~35 ms a client and
    these servers never speak TLS.
    """
    with httpx.Client(timeout=5, verify=False) as c:
        yield c


class ReceiveProcess:
    """A running ``writeback receive``; its stdout is read line by line in a thread."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "writeback", "receive", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        first = self.next_line(60)
        match = re.fullmatch(
            r"listening on (http://127\.0\.0\.1:\d+)/ \(any path\); Ctrl-C to stop", first
        )
        assert match, first
        self.url = match[1]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_line(self, timeout: float = 30) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout}s; so far: {self.seen}") from None
        self.seen.append(line)
        return line

    def until(self, pattern: str, timeout: float = 30) -> str:
        """Read lines until one matches ``pattern``; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.next_line(max(deadline - time.monotonic(), 0.01))
            if re.search(pattern, line):
                return line

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.proc.send_signal(sig)
        code = self.proc.wait(30)
        self._reader.join(30)
        assert self.proc.stderr is not None
        stderr = self.proc.stderr.read()
        self.close()
        rest = []
        while not self.lines.empty():
            rest.append(self.next_line())
        return code, "\n".join(rest), stderr

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self._reader.join(30)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def block(self) -> list[str]:
        """One request's printed block: its heading line up to the blank line after it."""
        lines = [self.until(r"^#\d+ ")]
        while (line := self.next_line()) != "":
            lines.append(line)
        return lines


@pytest.fixture
def receive() -> Iterator[Callable[..., ReceiveProcess]]:
    """``receive(*args)``: a started ``writeback receive --port 0 *args``, ended after the test."""
    started: list[ReceiveProcess] = []

    def start(*args: str) -> ReceiveProcess:
        started.append(ReceiveProcess(*args))
        return started[-1]

    yield start
    for process in started:
        process.close()
