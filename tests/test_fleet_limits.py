"""Limits that hold for the fleet: several ``writeback worker`` processes share one
connector's (or one throttle group's) ``max_concurrency``, ``rate`` and a 429's hold.

Every assertion is on what the receiver recorded (requests in its hands at once,
arrival times, answers), never on which process did the work or on timing luck:
the rate is checked as "the k-th request arrived no earlier than the bucket
allows since before the workers started", which delays can only make truer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from writeback_testing import ReceivedRequest, Step

from .conftest import Cli, appointment_event, webhook_row
from .test_delivery_engine import events_file

#: The bucket holds a tenth of a second of the rate (docs/delivery.md): 5 at 50/s.
BURST = 5


@pytest.fixture
def fleet_cli(tmp_path, writeback_any_db_url) -> Cli:
    cli = Cli(tmp_path, writeback_any_db_url)
    if writeback_any_db_url.startswith("postgresql"):
        cli.env["WRITEBACK_SECRET_KEY"] = os.environ.get(
            "WRITEBACK_SECRET_KEY", Fernet.generate_key().decode()
        )
    return cli


def start_worker(cli: Cli, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "writeback", "--db", cli.db_url, "worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,
    )


def run_workers(cli: Cli, n: int, *args: str) -> None:
    workers = [start_worker(cli, "--until-idle", *args) for _ in range(n)]
    try:
        outputs = [w.communicate(timeout=180) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.communicate()
    assert [w.returncode for w in workers] == [0] * n, outputs


def dispatch(cli: Cli, count: int) -> set[str]:
    events = [appointment_event("create", f"K{k}") for k in range(count)]
    made = cli("dispatch", events_file(cli, events), "--json").json()
    return {d["id"] for m in made for d in m["deliveries"]}


def delivered_once(requests: list[ReceivedRequest], ids: set[str]) -> None:
    ok = Counter(
        r.headers["webhook-id"] for r in requests if r.method == "POST" and r.status == 200
    )
    assert set(ok) == ids and max(ok.values()) == 1


def test_three_workers_keep_one_concurrency_and_rate_between_them(
    fleet_cli, writeback_receiver_factory
):
    import time

    cli = fleet_cli
    rx = writeback_receiver_factory(default_delay=0.02)
    throttle = {"max_concurrency": 4, "rate": "50/1s"}
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url, throttle=throttle)))
    ids = dispatch(cli, 150)
    started = time.time()
    run_workers(cli, 3, "--concurrency", "8")
    delivered_once(rx.requests, ids)
    assert 1 <= rx.max_in_flight <= 4
    arrivals = sorted(r.received_at for r in rx.requests if r.method == "POST")
    # Token bucket: at most BURST + 50 x t requests in the first t seconds, for every t.
    late = [
        (k, at - started)
        for k, at in enumerate(arrivals, start=1)
        if at < started + (k - BURST) / 50
    ]
    assert not late, f"requests ahead of the rate (k, seconds): {late[:5]}"


def test_a_429_holds_the_whole_group_in_every_worker(fleet_cli, writeback_receiver_factory):
    cli = fleet_cli
    seen = {"n": 0}
    lock = threading.Lock()

    def plan(request: ReceivedRequest) -> Step:
        with lock:
            seen["n"] += 1
            return Step(429, retry_after=2) if seen["n"] == 6 else Step()

    rx = writeback_receiver_factory(plan=plan)
    # Two connectors, one group, one request in flight between them.
    throttle = {"max_concurrency": 1, "group": "shared-backoffice"}
    rows = [
        webhook_row("a", rx.url + "/a", throttle=throttle),
        webhook_row("b", rx.url + "/b", throttle=throttle),
    ]
    cli("connectors", "add", cli.file(rows))
    ids = dispatch(cli, 8)
    run_workers(cli, 3, "--concurrency", "4")
    delivered_once(rx.requests, ids)
    assert rx.max_in_flight == 1
    [refused] = [r for r in rx.requests if r.status == 429]
    assert refused.answered_at is not None
    held = [
        r.path for r in rx.requests if refused.answered_at < r.received_at < refused.answered_at + 2
    ]
    assert not held, f"requests inside the hold: {held}"


def test_a_killed_workers_slots_come_back_after_its_lease(fleet_cli, writeback_receiver_factory):
    cli = fleet_cli
    let_go = threading.Event()
    arrived = threading.Semaphore(0)
    stuck = {"n": 0}
    lock = threading.Lock()

    def plan(request: ReceivedRequest) -> Step:
        with lock:
            stuck["n"] += 1
            first = stuck["n"] <= 2
        if first:
            arrived.release()
            let_go.wait(60)
            return Step(drop=True)  # the worker that sent it is dead by now
        return Step()

    rx = writeback_receiver_factory(plan=plan)
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url, throttle={"max_concurrency": 2})))
    ids = dispatch(cli, 6)
    doomed = start_worker(cli, "--lease", "2", "--concurrency", "4")
    try:
        for _ in range(2):
            assert arrived.acquire(timeout=60), "the first worker's requests never arrived"
    finally:
        doomed.kill()  # SIGKILL: its two slots stay in the store, leased
        doomed.communicate()
    let_go.set()
    run_workers(cli, 2, "--lease", "2", "--concurrency", "4")
    delivered_once(rx.requests, ids)
    assert rx.max_in_flight <= 2
    engine = create_engine(cli.db_url)
    try:
        with engine.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM throttle_slots")).scalar()
    finally:
        engine.dispose()
    assert left == 0  # the dead worker's slots were taken back, the others given back
