"""Hardening of the worker, through the real CLI against real receivers: one
connector's result the store will not take, and a worker whose clock is wrong."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from writeback_testing import Step

from .conftest import Cli, appointment_event, webhook_row


@pytest.fixture
def any_cli(tmp_path: Path, writeback_any_db_url: str) -> Cli:
    cli = Cli(tmp_path, writeback_any_db_url)
    if writeback_any_db_url.startswith("postgresql"):
        cli.env["WRITEBACK_SECRET_KEY"] = os.environ["WRITEBACK_SECRET_KEY"]
    return cli


def start_worker(cli: Cli, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "writeback", "--db", cli.db_url, "worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or cli.env,
    )


def stop(worker: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM, then the worker's output once it has gone (killed if it hangs)."""
    worker.send_signal(signal.SIGTERM)
    try:
        return worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()


def ledger(url: str) -> dict[str, tuple[str, int, str | None]]:
    """Every delivery's (status, attempts recorded, last_error), read from the store."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, status, attempts, last_error FROM deliveries"))
            return {r.id: (r.status, r.attempts, r.last_error) for r in rows}
    finally:
        engine.dispose()


def refuse_results_of(url: str, delivery_id: str) -> None:
    """Make the store refuse every result of one delivery but ``dead``: a trigger
    that fails the statement recording it (and so the whole batch it is in), as a
    row the database will not take does."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            seq = conn.execute(
                text("SELECT seq FROM deliveries WHERE id = :i"), {"i": delivery_id}
            ).scalar_one()
            if engine.dialect.name == "sqlite":
                conn.execute(
                    text(
                        "CREATE TRIGGER poison BEFORE UPDATE OF status ON deliveries "
                        f"WHEN NEW.seq = {seq} AND NEW.status <> 'dead' "
                        "BEGIN SELECT RAISE(ABORT, 'this row refuses its result'); END"
                    )
                )
            else:
                conn.execute(
                    text(
                        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                        "RAISE EXCEPTION 'this row refuses its result'; END $$ LANGUAGE plpgsql"
                    )
                )
                conn.execute(
                    text(
                        "CREATE TRIGGER poison BEFORE UPDATE OF status ON deliveries FOR EACH ROW "
                        f"WHEN (NEW.seq = {seq} AND NEW.status <> 'dead') "
                        "EXECUTE FUNCTION refuse()"
                    )
                )
    finally:
        engine.dispose()


def wait_until(condition: Any, worker: subprocess.Popen[str], timeout: float = 90.0) -> None:
    """Until ``condition()`` holds, or the worker has gone (a sanity timeout)."""
    deadline = time.monotonic() + timeout
    while not condition() and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)


def run_until_settled(
    cli: Cli, ids: set[str], attempts: dict[str, int]
) -> tuple[subprocess.Popen[str], str]:
    """A worker, until each of ``ids`` has its attempts recorded (``attempts`` for
    some, else one, delivered), then SIGTERM; the worker and its stderr."""
    worker = start_worker(cli)

    def settled() -> bool:
        now = ledger(cli.db_url)
        return all(
            now[i][1] == attempts[i] if i in attempts else now[i][:2] == ("delivered", 1)
            for i in ids
        )

    wait_until(settled, worker)
    _, err = stop(worker)
    return worker, err


def test_a_result_the_store_will_not_take_does_not_take_other_connectors_down(
    any_cli: Cli, writeback_receiver_factory: Any
) -> None:
    cli = any_cli
    good = writeback_receiver_factory()
    busy = writeback_receiver_factory(plan=lambda request: Step(503))
    rows = [
        webhook_row("good", good.url, source_app="GOOD"),
        webhook_row("poisoned", busy.url, source_app="BAD", retry={"schedule": [60]}),
    ]
    cli("connectors", "add", cli.file(rows))
    events = [appointment_event("create", "B0", source_app="BAD")] + [
        appointment_event("create", f"G{i}", source_app="GOOD") for i in range(20)
    ]
    made = cli("dispatch", cli.file(events), "--json").json()
    poisoned_id = made[0]["deliveries"][0]["id"]
    good_ids = {m["deliveries"][0]["id"] for m in made[1:]}
    refuse_results_of(cli.db_url, poisoned_id)

    worker, err = run_until_settled(cli, good_ids | {poisoned_id}, {poisoned_id: 1})
    assert worker.returncode == 0, err
    assert "Traceback" not in err, err
    # Every delivery of the healthy connector sent once and recorded once.
    received = Counter(r.headers["webhook-id"] for r in good.requests if r.method == "POST")
    assert received == Counter(good_ids)
    now = ledger(cli.db_url)
    assert {now[i][:2] for i in good_ids} == {("delivered", 1)}
    # The refused result is recorded as dead, with the reason; never sent again.
    status, _, last_error = now[poisoned_id]
    assert status == "dead" and last_error.startswith("WB-351: the attempt ended (retry)")
    assert "this row refuses its result" in last_error
    # One clear line in the worker's log says so.
    [line] = [line for line in err.splitlines() if poisoned_id in line]
    assert f"delivery {poisoned_id} to poisoned: WB-351" in line
    assert len(busy.requests) == 1


def test_an_answer_the_database_cannot_store_is_recorded_readably(
    any_cli: Cli, writeback_receiver_factory: Any
) -> None:
    """A JSON error whose message is a lone UTF-16 surrogate (``\\ud800``): Python
    decodes it, and neither database can store the text."""
    cli = any_cli
    good = writeback_receiver_factory()
    body = '{"error": {"code": "Bad", "message": "half a character: \\ud800 \\u0000!"}}'
    odd = writeback_receiver_factory(
        plan=lambda request: Step(400, body=body, headers={"content-type": "application/json"})
    )
    rows = [
        webhook_row("good", good.url, source_app="GOOD"),
        webhook_row("odd", odd.url, source_app="ODD"),
    ]
    cli("connectors", "add", cli.file(rows))
    events = [appointment_event("create", "O0", source_app="ODD")] + [
        appointment_event("create", f"G{i}", source_app="GOOD") for i in range(20)
    ]
    made = cli("dispatch", cli.file(events), "--json").json()
    odd_id = made[0]["deliveries"][0]["id"]
    good_ids = {m["deliveries"][0]["id"] for m in made[1:]}

    worker, err = run_until_settled(cli, good_ids | {odd_id}, {odd_id: 1})
    assert worker.returncode == 0, err
    assert "Traceback" not in err, err
    received = Counter(r.headers["webhook-id"] for r in good.requests if r.method == "POST")
    assert received == Counter(good_ids)
    now = ledger(cli.db_url)
    assert {now[i][:2] for i in good_ids} == {("delivered", 1)}
    assert now[odd_id][0] == "dead" and "half a character: \ufffd \ufffd!" in now[odd_id][2]
    assert len(odd.requests) == 1


# -- a worker whose clock is wrong ---------------------------------------------------

#: Imported by every Python process started with its folder on PYTHONPATH: shifts
#: ``time.time`` by ``WB_TEST_CLOCK_OFFSET`` seconds (the host's clock set wrong),
#: and logs each unit of work the worker's loop runs (a claim: how many it got).
SITECUSTOMIZE = """
import os
import time

_offset = float(os.environ.get("WB_TEST_CLOCK_OFFSET", "0"))
if _offset:
    _time, _time_ns = time.time, time.time_ns
    time.time = lambda: _time() + _offset
    time.time_ns = lambda: _time_ns() + int(_offset * 1e9)

_log = os.environ.get("WB_TEST_UNIT_LOG")
if _log:
    from writeback.store import _loop

    _run = _loop.LoopRunner.run

    async def run(self, steps):
        result = await _run(self, steps)
        with open(_log, "a") as out:
            out.write(f"{len(result) if isinstance(result, list) else '-'}\\n")
        return result

    _loop.LoopRunner.run = run
"""


@pytest.fixture
def pg_cli(tmp_path: Path, writeback_pg_url: str) -> Cli:
    cli = Cli(tmp_path, writeback_pg_url)
    cli.env["WRITEBACK_SECRET_KEY"] = os.environ["WRITEBACK_SECRET_KEY"]
    return cli


def test_a_worker_whose_clock_runs_ahead_takes_over_no_lease_on_postgresql(
    pg_cli: Cli, writeback_receiver_factory: Any, tmp_path: Path
) -> None:
    """Leases are set and compared on the database's clock: a worker on a host
    whose clock is 300 s ahead (beyond the 60 s lease) must not take over the
    deliveries another worker is sending."""
    cli = pg_cli
    release = threading.Event()
    arrived = threading.Semaphore(0)

    def hold(request: Any) -> Step:
        arrived.release()
        release.wait(120)
        return Step()

    rx = writeback_receiver_factory(plan=hold)
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url)))
    events = [appointment_event("create", f"K{i}") for i in range(20)]
    made = cli("dispatch", cli.file(events), "--json").json()
    ids = {m["deliveries"][0]["id"] for m in made}

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    units = tmp_path / "units.log"
    ahead = {
        **cli.env,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), cli.env.get("PYTHONPATH")])),
        "WB_TEST_CLOCK_OFFSET": "300",
        "WB_TEST_UNIT_LOG": str(units),
    }
    sender = start_worker(cli, "--concurrency", "20")
    late = None
    try:
        for _ in range(20):  # every delivery in the receiver's hands, leased by `sender`
            assert arrived.acquire(timeout=60), "the first worker did not send them all"
        late = start_worker(cli, "--concurrency", "20", env=ahead)

        def claimed_twice() -> bool:
            return units.exists() and len(units.read_text().split()) >= 2

        # Two claims of the late worker while every lease runs (or, were it to
        # take them over, its first request arriving).
        wait_until(lambda: claimed_twice() or arrived.acquire(timeout=0), late)
        release.set()
        wait_until(lambda: all(s[0] == "delivered" for s in ledger(cli.db_url).values()), late)
    finally:
        release.set()
        sender_out, _ = stop(sender)
        late_out, late_err = stop(late) if late is not None else ("", "")
    assert sender.returncode == 0 and late is not None and late.returncode == 0, late_err
    received = Counter(r.headers["webhook-id"] for r in rx.requests if r.method == "POST")
    assert received == Counter(ids)  # each sent once
    claims = units.read_text().split()
    assert len(claims) >= 2 and set(claims) <= {"0", "-"}, claims
    assert "attempts 0," in late_out and "delivered 20," in sender_out
    now = ledger(cli.db_url)
    assert {(s[0], s[1]) for s in now.values()} == {("delivered", 1)}
