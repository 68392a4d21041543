"""Stable codes as data: each attempt's ``WB-…`` code, through the real CLI."""

from __future__ import annotations

import os

from writeback_testing import Step

from .conftest import Cli, appointment_event, webhook_row

LIST_KEYS = {
    "id",
    "event_id",
    "connector",
    "action",
    "appointment",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "updated_at",
    "next_attempt_at",
}


def test_history_carries_each_attempts_code(tmp_path, writeback_any_db_url, writeback_receiver):
    """503 (retry, WB-361), then 400 (failed, WB-360: dead); replayed, delivered (no code)."""
    rx = writeback_receiver
    rx.set_plan([Step(503, body="busy"), Step(400, body="no such job")])
    cli = Cli(tmp_path, writeback_any_db_url)
    if writeback_any_db_url.startswith("postgresql"):  # a server's key comes from the environment
        cli.env["WRITEBACK_SECRET_KEY"] = os.environ["WRITEBACK_SECRET_KEY"]
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url)))
    [made] = cli("dispatch", cli.file(appointment_event("create", "G1")), "--json").json()
    delivery_id = made["deliveries"][0]["id"]
    cli("worker", "--until-idle")

    shown = cli("deliveries", "show", delivery_id, "--json").json()
    assert shown["status"] == "dead"
    history = shown["history"]
    assert [(h["status_code"], h["outcome"], h["code"]) for h in history] == [
        (503, "retry", "WB-361"),
        (400, "failed", "WB-360"),
    ]
    assert history[1]["error"].startswith("HTTP 400")

    text = cli("deliveries", "show", delivery_id).stdout
    assert "code" in text and "WB-361" in text and "WB-360" in text

    cli("deliveries", "retry", delivery_id)
    cli("worker", "--until-idle")
    shown = cli("deliveries", "show", delivery_id, "--json").json()
    assert shown["status"] == "delivered"
    assert [h["code"] for h in shown["history"]] == ["WB-361", "WB-360", None]

    [listed] = cli("deliveries", "list", "--json").json()
    assert set(listed) == LIST_KEYS
