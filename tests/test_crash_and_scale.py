"""Crash safety and scale-out: SIGKILL mid-flight, SIGTERM, three workers on PostgreSQL.

Every wait here is for something the receiver saw (a request in its hands), never
for a stretch of time: on a busy machine a worker takes longer to start, and the
assertions must hold whatever the scheduler did.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from writeback_testing import ReceivedRequest, Step

from .conftest import Cli, appointment_event, webhook_row
from .test_delivery_engine import events_file, successes_by_appointment

CONCURRENCY = 16


class Arrivals:
    """A receiver plan: answers every POST after ``delay`` seconds, and counts the
    POSTs that reached the receiver, so a test can wait for one to be in its hands."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.count = 0
        #: The webhook-ids seen so far.
        self.ids: set[str | None] = set()
        self._cond = threading.Condition()

    def __call__(self, request: ReceivedRequest) -> Step:
        with self._cond:
            self.count += 1
            self.ids.add(request.headers.get("webhook-id"))
            self._cond.notify_all()
        return Step(delay=self.delay)

    def wait(self, n: int, timeout: float = 60.0, *, or_ids: int | None = None) -> None:
        """Until ``n`` POSTs have arrived, or ``or_ids`` different deliveries (a
        sanity timeout, not a timing bound)."""
        with self._cond:
            assert self._cond.wait_for(
                lambda: self.count >= n or (or_ids is not None and len(self.ids) >= or_ids),
                timeout,
            ), f"{self.count} of {n} requests arrived"


def start_worker(cli: Cli, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "writeback", "--db", cli.db_url, "worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,
    )


def test_sigkill_at_random_moments_loses_nothing(cli, writeback_receiver_factory):
    arrivals = Arrivals(delay=0.01)
    rx = writeback_receiver_factory(plan=arrivals)
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
    for _ in range(6):
        before = arrivals.count
        worker = start_worker(cli, "--concurrency", str(CONCURRENCY), "--lease", "2")
        try:
            # Killed while it delivers: once its first request is in the receiver's
            # hands (however long it took to start), at a random moment after that.
            arrivals.wait(before + 1, or_ids=len(ids))
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.communicate(timeout=10)
    cli("worker", "--until-idle", "--concurrency", str(CONCURRENCY), "--lease", "2")

    stats = cli("deliveries", "stats", "--json").json()
    assert stats["balanced"] and stats["totals"]["delivered"] == 2000
    assert stats["totals"]["submitted"] == 2000
    received = Counter(r.headers["webhook-id"] for r in rx.requests if r.method == "POST")
    assert set(received) == ids  # nothing lost
    # Each delivered once in the ledger: a worker that lives records every request
    # it sends, so a request sent again was first sent by a worker killed before
    # it recorded it (at-least-once, same webhook-id).
    listed = cli("deliveries", "list", "--json", "--limit", "0").json()
    assert {d["id"]: d["attempts"] for d in listed} == dict.fromkeys(ids, 1)
    got = successes_by_appointment(rx.requests)
    assert all(seqs == sorted(seqs) for seqs in got.values())  # order kept, even across kills
    assert all(set(seqs) == set(range(5)) for seqs in got.values())


def test_sigterm_finishes_the_attempt_in_flight(cli, writeback_receiver_factory):
    arrivals = Arrivals(delay=2.0)
    rx = writeback_receiver_factory(plan=arrivals)
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url)))
    [made] = cli("dispatch", cli.file(appointment_event("create", "A")), "--json").json()
    worker = start_worker(cli)
    try:
        arrivals.wait(1)  # the attempt is in flight: the receiver holds it for 2 s
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert worker.returncode == 0, err
    shown = cli("deliveries", "show", made["deliveries"][0]["id"], "--json").json()
    assert shown["status"] == "delivered" and shown["attempts"] == 1


def test_a_second_sigterm_interrupts_and_the_delivery_stays_pending(
    cli, writeback_receiver_factory
):
    arrivals = Arrivals(delay=60.0)
    rx = writeback_receiver_factory(plan=arrivals)
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url, options={"timeout": 120})))
    [made] = cli("dispatch", cli.file(appointment_event("create", "A")), "--json").json()
    # A grace longer than the receiver's delay: only the second signal can cut it short.
    worker = start_worker(cli, "--grace", "600")
    try:
        arrivals.wait(1)
        worker.send_signal(signal.SIGTERM)
        # Signals sent back to back may reach the process as one; so the second
        # is repeated until the worker has gone (further ones change nothing).
        deadline = time.monotonic() + 60
        while worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=10)
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
    # Each reports what it recorded; which worker did how much is the scheduler's
    # business (on a busy machine one may finish before another has started).
    delivered = [int(out.split("delivered ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(delivered) == 600
    got = successes_by_appointment(rx.requests)
    assert got == {f"K{k}": [0, 1, 2] for k in range(200)}
    stats = cli("deliveries", "stats", "--json").json()
    assert stats["balanced"] and stats["totals"]["delivered"] == 600
