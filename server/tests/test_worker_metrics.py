"""``writeback worker --metrics-port``: a real worker process's counters over HTTP,
checked against a run whose outcomes are known; and one sentence, exit 2, when
prometheus-client is missing."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from writeback import Dispatcher
from writeback_testing import Step
from writeback_testing.webhook import WebhookReceiver


def _env() -> dict[str, str]:
    env = {**os.environ, "WRITEBACK_CACHE_DIR": ""}
    env.pop("WRITEBACK_DB", None)
    return env


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def _url_from(log: Path, proc: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(r"metrics on (http://\S+/metrics)", log.read_text())
        if match:
            return match.group(1)
        assert proc.poll() is None, log.read_text()
        time.sleep(0.05)
    raise AssertionError(f"no metrics URL announced:\n{log.read_text()}")


def test_worker_metrics_count_a_known_run(tmp_path: Path, h) -> None:
    db_url = f"sqlite:///{(tmp_path / 'writeback.db').as_posix()}"
    # flaky: its first POST answers 500 (retry), its second 400 (failed), then 200.
    plan = {"/hook/flaky": [Step(status=500), Step(status=400)]}
    with WebhookReceiver(plan) as hook, Dispatcher.open(db_url) as wb:
        wb.connectors.add(h.webhook_row("good", hook.url, "GOOD"))
        wb.connectors.add(h.webhook_row("flaky", hook.url, "FLAKY"))
        for n in range(3):
            wb.submit(h.event("GOOD", n))
        for n in range(2):
            wb.submit(h.event("FLAKY", n))
        log_path = tmp_path / "worker.log"
        with log_path.open("w") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "writeback", "--db", db_url, "worker",
                 "--metrics-port", "0"],
                stdout=log, stderr=subprocess.STDOUT, env=_env(), text=True,
            )  # fmt: skip
            try:
                url = _url_from(log_path, worker)
                deadline = time.monotonic() + 60
                while wb.deliveries.counts().get("pending", 0):
                    assert time.monotonic() < deadline, wb.deliveries.counts()
                    time.sleep(0.05)
                # Recorded in the store means counted: the observer runs once the
                # attempts are recorded, before the next look at the queue.
                deadline = time.monotonic() + 60
                while True:
                    answer = httpx.get(url, timeout=30)
                    assert answer.status_code == 200
                    samples = _samples(answer.text)
                    got = {
                        (dict(labels)["connector"], dict(labels)["outcome"]): value
                        for (name, labels), value in samples.items()
                        if name == "writeback_attempts_total"
                    }
                    if sum(got.values()) >= 6 or time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
            finally:
                worker.send_signal(signal.SIGTERM)
                code = worker.wait(60)
    output = log_path.read_text()
    assert code == 0, output
    assert got == {
        ("good", "delivered"): 3,
        ("flaky", "retry"): 1,
        ("flaky", "failed"): 1,
        ("flaky", "delivered"): 1,
    }, answer.text
    histogram = {
        dict(labels)["connector"]: value
        for (name, labels), value in samples.items()
        if name == "writeback_attempt_duration_seconds_count"
    }
    assert histogram == {"good": 3, "flaky": 3}
    # The worker submitted nothing itself.
    assert samples.get(("writeback_events_submitted_total", ()), 0) == 0
    assert "Traceback" not in output


def test_metrics_port_without_prometheus_client_is_one_sentence(tmp_path: Path) -> None:
    db_url = f"sqlite:///{(tmp_path / 'writeback.db').as_posix()}"
    script = (
        "import sys; sys.modules['prometheus_client'] = None; "
        "from writeback.cli import main; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "--db", db_url, "worker", "--metrics-port", "0",
         "--until-idle"],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "--metrics-port needs prometheus-client" in proc.stderr
    assert "pip install writeback-server" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "attempts" not in proc.stdout  # no worker ran


def test_ports_in_use_are_one_sentence(tmp_path: Path) -> None:
    db_url = f"sqlite:///{(tmp_path / 'writeback.db').as_posix()}"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for args in (["worker", "--until-idle", "--metrics-port", port], ["serve", "--port", port]):
            proc = subprocess.run(
                [sys.executable, "-m", "writeback", "--db", db_url, *args],
                capture_output=True, text=True, env=_env(), timeout=120,
            )  # fmt: skip
            assert proc.returncode == 2, (args, proc.stderr)
            assert f"{port}: cannot listen" in proc.stderr, proc.stderr
            assert "Traceback" not in proc.stderr


def test_metrics_port_says_when_nothing_counts_attempts(tmp_path: Path) -> None:
    db_url = f"sqlite:///{(tmp_path / 'writeback.db').as_posix()}"
    proc = subprocess.run(
        [sys.executable, "-m", "writeback", "--db", db_url, "worker", "--until-idle",
         "--metrics-port", "0"],
        capture_output=True, text=True, timeout=120,
        env={**_env(), "WRITEBACK_DISABLE_PLUGINS": "server"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "metrics on http://127.0.0.1:" in proc.stderr
    assert "no installed plugin counts attempts" in proc.stderr
    assert "install writeback-server" in proc.stderr
