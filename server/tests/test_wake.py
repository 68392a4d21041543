"""A worker waits for new work by being told, not only by polling.

Each worker here polls once an hour (``--poll-interval 3600``), so an event is
delivered within the tests' 60-second bound only if the worker was woken:
in ``serve --worker`` by the submit in the same process, and on PostgreSQL by
``NOTIFY`` from another process.  The bound is a sanity limit, not a timing
claim (bench/bench_e2e.py measures the latency).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import text
from writeback import Dispatcher
from writeback.store._wake import CHANNEL
from writeback_testing.webhook import WebhookReceiver

#: Far longer than any test may run: a delivery that waited for the poll fails.
HOUR = "3600"
BOUND = 60.0


def _settle() -> None:
    # Lets the worker go back to its (hour-long) idle wait before the next
    # submit, so that the delivery cannot ride on the look that followed the
    # previous attempt.  The test passes either way when waking works.
    time.sleep(1.0)


def test_serve_worker_is_woken_by_its_own_submits(make_service, h) -> None:
    with WebhookReceiver() as hook:
        service = make_service("--worker", "--poll-interval", HOUR, "--grace", "5")
        admin = service.make_key("admin", "admin")
        service.start()
        put = service.client.put(
            "/v1/connectors/wake",
            content=json.dumps(h.webhook_row("wake", hook.url, "WAKEAPP")),
            headers={"Content-Type": "application/json", **h.bearer(admin)},
        )
        assert put.status_code == 200, put.text
        ids = []
        for n in (1, 2, 3):
            _settle()
            answer = service.post_events(h.event("WAKEAPP", n), admin)
            assert answer.status_code == 202, answer.text
            (delivery,) = answer.json()["events"][0]["deliveries"]
            ids.append(delivery["id"])
            hook.wait_for(n, timeout=BOUND)
            service.wait_status(delivery["id"], "delivered", admin, timeout=BOUND)
        # A retry through the API wakes it too.
        _settle()
        retried = service.client.post(f"/v1/deliveries/{ids[0]}/retry", headers=h.bearer(admin))
        assert retried.status_code == 200, retried.text
        hook.wait_for(4, timeout=BOUND)
        assert service.stop() in (0, -signal.SIGTERM), service.logs()


def test_postgresql_worker_process_is_woken_by_notify(writeback_pg_url, h, tmp_path) -> None:
    with WebhookReceiver() as hook:
        with Dispatcher.open(writeback_pg_url) as wb:
            wb.connectors.add(h.webhook_row("wake", hook.url, "WAKEAPP"))
        env = {**os.environ, "WRITEBACK_CACHE_DIR": ""}
        log = (tmp_path / "worker.log").open("w")
        worker = subprocess.Popen(
            [sys.executable, "-m", "writeback", "--db", writeback_pg_url, "-v", "worker",
             "--poll-interval", HOUR, "--grace", "5"],
            stdout=log, stderr=subprocess.STDOUT, env=env, text=True,
        )  # fmt: skip
        try:
            with Dispatcher.open(writeback_pg_url) as wb:
                # The first may be found by the worker's first look; the others
                # arrive while it waits, from this process: only NOTIFY tells it.
                for n in (1, 2, 3):
                    _settle()
                    wb.submit(h.event("WAKEAPP", n))
                    hook.wait_for(n, timeout=BOUND)
                (first, *_) = [d.id for d in wb.deliveries.list(status=None)]
                _settle()
                deadline = time.monotonic() + BOUND
                while wb.deliveries.get(first)[0].status != "delivered":
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                wb.deliveries.retry([first])
                hook.wait_for(4, timeout=BOUND)
                # The listening connection dies (a server restart, an idle
                # timeout): the worker opens another and looks once on its way.
                _settle()
                with wb.store.engine.begin() as conn:
                    killed = conn.execute(text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        f" WHERE query = 'LISTEN {CHANNEL}' AND pid <> pg_backend_pid()"
                    )).scalars().all()  # fmt: skip
                assert killed == [True], killed
                wb.submit(h.event("WAKEAPP", 4))
                hook.wait_for(5, timeout=BOUND)
                _settle()
                wb.submit(h.event("WAKEAPP", 5))
                hook.wait_for(6, timeout=BOUND)
                assert worker.poll() is None
        finally:
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(60)
            log.close()
        output = (tmp_path / "worker.log").read_text()
        assert code == 0, output
        assert "Traceback" not in output
        assert "listening for new work failed" in output
