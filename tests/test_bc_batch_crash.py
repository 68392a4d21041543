"""A Business Central ``$batch`` cut short: SIGKILL and SIGTERM while one is in the
simulator's hands (docs/connectors.md, "Batching on Business Central").

The bar: a crash at any point leaves every delivery pending, delivered or dead.
Every wait is for something the simulator saw (a batch's operation in its hands,
every request answered), never for a stretch of time.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import defaultdict
from itertools import groupby

import pytest
import sqlalchemy as sa
from writeback_testing.acceptors import BasicAcceptor
from writeback_testing.bc_api import BcRequest

from .conftest import Cli, appointment_event
from .test_bc_batch import KEY, bc_row, dispatch
from .test_crash_and_scale import start_worker

#: Appointments with several changes, to check the order per appointment survives.
ORDERED = {f"O{k}": ["I", "U", "U", "D"] for k in range(5)}


@pytest.fixture
def api(writeback_bc_api_factory):
    return writeback_bc_api_factory(auth=BasicAcceptor({"WEBUSER": KEY}))


class BatchArrivals:
    """A BC simulator plan: counts the ``$batch`` requests and the operations inside
    them that reached the simulator, holding each operation ``delay`` seconds, so a
    batch is in flight for a while and a test can wait for one to be in its hands."""

    def __init__(self, api, delay: float) -> None:
        self.api = api
        self.delay = delay
        #: The ``$batch`` requests seen so far: for each, its operations reached.
        self.batches: list[int] = []
        #: Connection → the batch last sent on it (its operations carry the connection).
        self._on: dict[int, int] = {}
        self._cond = threading.Condition()

    def __call__(self, request: BcRequest) -> None:
        with self._cond:
            if request.batch_id is None and request.path.endswith("/$batch"):
                self._on[request.connection] = len(self.batches)
                self.batches.append(0)
            elif request.batch_id is not None:
                self.batches[self._on[request.connection]] += 1
            self._cond.notify_all()
        if request.batch_id is not None:
            self.api.sleep(self.delay)  # returns at once when the simulator stops

    def wait_in_hand(self, after: int, timeout: float = 60.0) -> None:
        """Until a batch after the first ``after`` has an operation in the simulator's
        hands (a sanity timeout, not a timing bound)."""
        with self._cond:
            assert self._cond.wait_for(lambda: any(self.batches[after:]), timeout), (
                f"no operation of a batch after the first {after} arrived: {self.batches}"
            )


def wait_all_answered(api, timeout: float = 60.0) -> None:
    """Until the simulator has answered (or dropped) every request it took: the
    rows of a killed worker's batch are all written before another worker starts,
    so a row sent again always comes after the first (sanity timeout only)."""
    deadline = time.monotonic() + timeout
    while any(r.status is None and not r.dropped for r in api.requests):
        assert time.monotonic() < deadline, "the simulator still holds a request"
        time.sleep(0.05)


def leased(cli: Cli) -> int:
    """Deliveries a worker still holds a claim on (the store's lease columns)."""
    engine = sa.create_engine(cli.db_url)
    try:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM deliveries WHERE lease_owner IS NOT NULL"
            return conn.execute(sa.text(query)).scalar_one()
    finally:
        engine.dispose()


def stop(worker: subprocess.Popen[str], sig: signal.Signals) -> tuple[str, str]:
    try:
        worker.send_signal(sig)
        return worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:  # never leave a worker behind, even when the test fails
            worker.kill()
            worker.communicate()


def changes(api) -> dict[str, list[str]]:
    """Per appointment, the ``databaseAction`` of its rows in creation order."""
    got: dict[str, list[str]] = defaultdict(list)
    for row in api.rows:
        got[row.fields["appointmentGuid"]].append(row.fields["databaseAction"])
    return got


def test_sigkill_mid_batch_three_times_loses_nothing_and_keeps_order(cli, api):
    arrivals = BatchArrivals(api, delay=0.02)
    api.set_plan(arrivals)
    cli("connectors", "add", cli.file(bc_row(api.endpoint, batch_size=20)))
    singles = [appointment_event("create", f"S{n}") for n in range(200)]
    ordered = [
        appointment_event({"I": "create", "U": "update", "D": "delete"}[a], guid, subject=f"v{n}")
        for guid, actions in ORDERED.items()
        for n, a in enumerate(actions)
    ]
    ids = dispatch(cli, singles + ordered)
    assert len(set(ids)) == 220

    for _ in range(3):
        before = len(arrivals.batches)
        worker = start_worker(cli, "--lease", "2")
        try:
            arrivals.wait_in_hand(before)  # a batch is being written: kill it there
        finally:
            stop(worker, signal.SIGKILL)
        wait_all_answered(api)
    cli("worker", "--until-idle", "--lease", "2")

    stats = cli("deliveries", "stats", "--json").json()
    assert stats["balanced"]
    totals = stats["totals"]
    assert (totals["submitted"], totals["delivered"]) == (220, 220)
    assert (totals["pending"], totals["dead"]) == (0, 0)
    listed = cli("deliveries", "list", "--json", "--limit", "0").json()
    assert {d["id"]: d["status"] for d in listed} == dict.fromkeys(ids, "delivered")
    assert leased(cli) == 0
    got = changes(api)
    # At-least-once: a row of a killed batch may arrive twice, never go missing.
    assert set(got) == {f"S{n}" for n in range(200)} | set(ORDERED)
    assert all(set(got[f"S{n}"]) == {"I"} for n in range(200))
    for guid, actions in ORDERED.items():
        # A change sent again follows its first copy: the order per appointment holds.
        assert [a for a, _ in groupby(got[guid])] == ["I", "U", "D"], (guid, got[guid])
        subjects = [r.fields["subject"] for r in api.rows if r.fields["appointmentGuid"] == guid]
        assert [s for s, _ in groupby(subjects)] == [f"v{n}" for n in range(len(actions))]


def test_sigterm_mid_batch_finishes_the_batch_and_records_every_row(cli, api):
    arrivals = BatchArrivals(api, delay=0.05)
    api.set_plan(arrivals)
    cli("connectors", "add", cli.file(bc_row(api.endpoint, batch_size=20)))
    ids = dispatch(cli, [appointment_event("create", f"T{n}") for n in range(100)])
    by_guid = {f"T{n}": delivery_id for n, delivery_id in enumerate(ids)}

    worker = start_worker(cli, "--grace", "60")
    try:
        arrivals.wait_in_hand(0)
    finally:
        _, err = stop(worker, signal.SIGTERM)
    assert worker.returncode == 0, err

    # Every batch the simulator took was answered, and every row in it recorded.
    sent = [r for r in api.requests if r.batch_id is None and r.path.endswith("/$batch")]
    assert sent and all(r.status == 200 for r in sent)
    in_batches = {op["body"]["appointmentGuid"] for r in sent for op in r.json["requests"]}
    listed = {d["id"]: d for d in cli("deliveries", "list", "--json", "--limit", "0").json()}
    for guid in in_batches:
        shown = listed[by_guid[guid]]
        assert (shown["status"], shown["attempts"]) == ("delivered", 1), shown
    for guid in by_guid.keys() - in_batches:
        assert (listed[by_guid[guid]]["status"], listed[by_guid[guid]]["attempts"]) == (
            "pending",
            0,
        )
    assert leased(cli) == 0  # none left claimed: another worker takes the rest at once
    assert sorted(r.fields["appointmentGuid"] for r in api.rows) == sorted(in_batches)
    stats = cli("deliveries", "stats", "--json").json()
    assert stats["balanced"] and stats["totals"]["delivered"] == len(in_batches)
