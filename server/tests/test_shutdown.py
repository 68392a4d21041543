"""``serve --worker`` on SIGTERM: an attempt in flight ends within --grace and is recorded."""

from __future__ import annotations

import json
import sqlite3
import time

from writeback_testing.webhook import WebhookReceiver


def test_sigterm_lets_the_attempt_in_flight_finish(make_service, h) -> None:
    with WebhookReceiver(default_delay=1.5) as slow:
        service = make_service("--worker", "--grace", "20")
        admin = service.make_key("admin", "admin")
        service.start()
        put = service.client.put(
            "/v1/connectors/slow",
            content=json.dumps(h.webhook_row("slow", slow.url, "SLOWAPP")),
            headers={"Content-Type": "application/json", **h.bearer(admin)},
        )
        assert put.status_code == 200, put.text
        answer = service.post_events(h.event("SLOWAPP", 1), admin)
        (delivery,) = answer.json()["events"][0]["deliveries"]
        # Wait until the attempt has reached the receiver (it answers 1.5 s later).
        deadline = time.monotonic() + 30
        while not slow.max_in_flight and time.monotonic() < deadline:
            time.sleep(0.02)
        assert slow.max_in_flight, "the attempt never started"
        code = service.stop()
        assert code in (0, -15), service.logs()
        with sqlite3.connect(service.folder / "writeback.db") as db:
            (status,) = db.execute(
                "SELECT status FROM deliveries WHERE id = ?", (delivery["id"],)
            ).fetchone()
        assert status == "delivered", service.logs()
        assert len(slow.deliveries) == 1
