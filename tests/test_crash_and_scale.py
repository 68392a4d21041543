"""Crash safety and scale-out: SIGKILL mid-flight, SIGTERM, three workers on PostgreSQL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from .conftest import Cli, appointment_event, webhook_row
from .test_delivery_engine import events_file, successes_by_appointment

CONCURRENCY = 16


def wait_for_connection(rx, timeout: float = 30.0) -> None:
    """Until a worker has connected: its request is in the receiver's hands."""
    deadline = time.monotonic() + timeout
    while rx.connections_accepted < 1:
        assert time.monotonic() < deadline, "no worker connected"
        time.sleep(0.02)
    time.sleep(0.3)  # the request itself follows its connection within milliseconds


def start_worker(cli: Cli, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "writeback", "--db", cli.db_url, "worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,
    )


def test_sigkill_at_random_moments_loses_nothing(cli, writeback_receiver_factory):
    rx = writeback_receiver_factory(default_delay=0.01)
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url, retry={"schedule": [0.1] * 5})))
    events = [
        appointment_event("create" if n == 0 else "update", f"K{k}", seq=n)
        for n in range(5)
        for k in range(400)
    ]
    made = cli("dispatch", events_file(cli, events), "--json").json()
    ids = {m["deliveries"][0]["id"] for m in made}
    assert len(ids) == 2000

    rng = random.Random(7)
    kills: list[tuple[float, float]] = []  # (started, killed) of each killed worker
    for _ in range(6):
        worker = start_worker(cli, "--concurrency", str(CONCURRENCY), "--lease", "2")
        started = time.time()
        time.sleep(rng.uniform(0.3, 1.0))
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=10)
        kills.append((started, time.time()))
    cli("worker", "--until-idle", "--concurrency", str(CONCURRENCY), "--lease", "2")

    stats = cli("deliveries", "stats", "--json").json()
    assert stats["balanced"] and stats["totals"]["delivered"] == 2000
    assert stats["totals"]["submitted"] == 2000
    received = Counter(r.headers["webhook-id"] for r in rx.requests if r.method == "POST")
    assert set(received) == ids  # nothing lost
    duplicates = [i for i, n in received.items() if n > 1]
    # Only a delivery in flight when a worker died is sent twice.
    assert sum(received[i] - 1 for i in duplicates) <= CONCURRENCY * len(kills)
    first_seen = {}
    for r in rx.requests:
        first_seen.setdefault(r.headers.get("webhook-id"), r.received_at)
    assert all(any(a <= first_seen[i] <= b for a, b in kills) for i in duplicates)
    got = successes_by_appointment(rx.requests)
    assert all(seqs == sorted(seqs) for seqs in got.values())  # order kept, even across kills
    assert all(set(seqs) == set(range(5)) for seqs in got.values())


def test_sigterm_finishes_the_attempt_in_flight(cli, writeback_receiver_factory):
    rx = writeback_receiver_factory(default_delay=2.0)
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url)))
    [made] = cli("dispatch", cli.file(appointment_event("create", "A")), "--json").json()
    worker = start_worker(cli)
    wait_for_connection(rx)  # the attempt is in flight: the receiver holds it for 2 s
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    shown = cli("deliveries", "show", made["deliveries"][0]["id"], "--json").json()
    assert shown["status"] == "delivered" and shown["attempts"] == 1


def test_a_second_sigterm_interrupts_and_the_delivery_stays_pending(
    cli, writeback_receiver_factory
):
    rx = writeback_receiver_factory(default_delay=30.0)
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url, options={"timeout": 60})))
    [made] = cli("dispatch", cli.file(appointment_event("create", "A")), "--json").json()
    worker = start_worker(cli)
    try:
        wait_for_connection(rx)
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=15)
    finally:
        if worker.poll() is None:  # never leave a worker behind, even when the test fails
            worker.kill()
            worker.communicate()
    assert worker.returncode == 0
    shown = cli("deliveries", "show", made["deliveries"][0]["id"], "--json").json()
    assert shown["status"] == "pending"
    assert [h["error"][:6] for h in shown["history"]] == ["WB-350"]


@pytest.fixture
def pg_cli(tmp_path, writeback_pg_url) -> Cli:
    cli = Cli(tmp_path, writeback_pg_url)
    cli.env["WRITEBACK_SECRET_KEY"] = os.environ["WRITEBACK_SECRET_KEY"]
    return cli


def test_three_workers_on_postgresql_deliver_each_event_exactly_once(
    pg_cli, writeback_receiver_factory
):
    cli = pg_cli
    rx = writeback_receiver_factory(default_delay=0.005)
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url)))
    events = [
        appointment_event("create" if n == 0 else "update", f"K{k}", seq=n)
        for n in range(3)
        for k in range(200)
    ]
    made = cli("dispatch", events_file(cli, events), "--json").json()
    ids = {m["deliveries"][0]["id"] for m in made}
    workers = [start_worker(cli, "--until-idle", "--concurrency", "8") for _ in range(3)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], outputs
    received = Counter(r.headers["webhook-id"] for r in rx.requests if r.method == "POST")
    assert set(received) == ids and max(received.values()) == 1  # exactly once
    # All three took part (each reports what it delivered).
    delivered = [int(out.split("delivered ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(delivered) == 600 and all(n > 0 for n in delivered)
    got = successes_by_appointment(rx.requests)
    assert got == {f"K{k}": [0, 1, 2] for k in range(200)}
    stats = cli("deliveries", "stats", "--json").json()
    assert stats["balanced"] and stats["totals"]["delivered"] == 600
