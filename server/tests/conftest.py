"""The service as a real process: ``writeback serve --worker`` on a free loopback
port, over a SQLite file, delivering to a loopback webhook receiver."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from writeback_testing.webhook import WebhookReceiver


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def basic(key: str, user: str = "planning") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Service:
    """One ``writeback serve`` process and the command line over its store."""

    def __init__(self, folder: Path, *serve_args: str) -> None:
        self.folder = folder
        self.db_url = f"sqlite:///{(folder / 'writeback.db').as_posix()}"
        self.env = {**os.environ, "COLUMNS": "200", "WRITEBACK_CACHE_DIR": ""}
        self.env.pop("WRITEBACK_SECRET_KEY", None)
        self.env.pop("WRITEBACK_DB", None)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.serve_args = serve_args
        self.outputs: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = folder / "serve.log"
        self.client = httpx.Client(base_url=self.url, timeout=30)
        self.keys: dict[str, str] = {}

    # -- the command line ------------------------------------------------------------

    def cli(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "writeback", "--db", self.db_url, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        self.outputs += [proc.stdout, proc.stderr]
        if check is not None:
            assert proc.returncode == check, f"{args}: exit {proc.returncode}\n{proc.stderr}"
        return proc

    def make_key(self, name: str, scope: str) -> str:
        key = self.cli("api-keys", "create", name, "--scope", scope).stdout.strip()
        assert key.startswith("wbk_")
        self.keys[name] = key
        return key

    # -- the process -------------------------------------------------------------------

    def start(self) -> None:
        self.log = self.log_path.open("a", encoding="utf-8")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "writeback",
                "--db",
                self.db_url,
                "-v",
                "serve",
                "--port",
                str(self.port),
                *self.serve_args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"serve exited {self.proc.returncode}:\n{self.logs()}"
            try:
                if self.client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve did not answer within 60 s:\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.proc is not None
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.log.close()
        return code

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    # -- the API -------------------------------------------------------------------------

    def post_events(self, events: Any, key: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(
            "/v1/events",
            content=json.dumps(events),
            headers={"Content-Type": "application/json", **bearer(key)},
            **kwargs,
        )

    def wait_status(self, delivery_id: str, status: str, key: str, timeout: float = 30) -> Any:
        """Poll the delivery until it has ``status``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.client.get(f"/v1/deliveries/{delivery_id}", headers=bearer(key))
            assert got.status_code == 200, got.text
            if got.json()["status"] == status:
                return got.json()
            assert time.monotonic() < deadline, f"still {got.json()['status']}: {got.json()}"
            time.sleep(0.05)


def webhook_row(name: str, url: str, source_app: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "webhook",
        "uri": f"{url}/hook/{name}",
        "api_type": "json",
        "source_app": source_app,
        "retry": {"schedule": [0.2, 0.2]},
        **extra,
    }


def event(source_app: str, n: int, *, action: str = "create", **extra: Any) -> dict[str, Any]:
    return {
        "action": action,
        "appointment": {"appointmentGuid": f"g-{source_app}-{n}", "sourceApp": source_app},
        **extra,
    }


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as hook:
        yield hook


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A running ``serve --worker`` with an ``ingest``, a ``read`` and an ``admin`` key."""
    running = Service(tmp_path_factory.mktemp("serve"), "--worker", "--grace", "5")
    for scope in ("ingest", "read", "admin"):
        running.make_key(scope, scope)
    running.start()
    try:
        yield running
    finally:
        code = running.stop()
        logs = running.logs()
    # Shut down by SIGTERM gracefully (uvicorn ends by raising the signal it
    # caught again, once shut down); no key ever in its log.
    assert code in (0, -signal.SIGTERM), logs
    assert "Application shutdown complete" in logs
    for key in running.keys.values():
        assert key not in logs and key[4:] not in logs
    assert "Traceback" not in logs


@pytest.fixture
def make_service(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    made: list[Service] = []

    def make(*args: str) -> Service:
        made.append(Service(tmp_path / f"s{len(made)}", *args))
        made[-1].folder.mkdir()
        return made[-1]

    yield make
    for one in made:
        if one.proc is not None and one.proc.poll() is None:
            one.stop(signal.SIGKILL)
        one.client.close()


@pytest.fixture(scope="session")
def h() -> Any:
    """The helpers above, for test modules (which cannot import this conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        basic=basic, bearer=bearer, webhook_row=webhook_row, event=event, free_port=free_port
    )
