"""Retention: deliveries prune and worker --retention, on a real worker and receiver,
on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from sqlalchemy import text
from writeback.store import create_store_engine
from writeback_testing import Step

from .conftest import appointment_event, webhook_row
from .test_delivery_engine import events_file


def _count(cli, table):
    engine = create_store_engine(cli.db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


def test_prune_keeps_pending_removes_the_rest_and_the_ledger_balances(
    any_cli, writeback_receiver_factory
):
    cli = any_cli
    ok = writeback_receiver_factory()
    bad = writeback_receiver_factory(plan=lambda request: Step(404))
    cli("connectors", "add", cli.file(webhook_row("ok", ok.url)))
    cli("connectors", "add", cli.file(webhook_row("bad", bad.url)))
    cli("dispatch", events_file(cli, [appointment_event("create", f"A{n}") for n in range(3)]))
    cli("worker", "--until-idle")
    cli("connectors", "pause", "ok")
    cli("dispatch", events_file(cli, [appointment_event("update", "A0")]))  # stays pending
    time.sleep(1.1)
    before = cli("deliveries", "stats", "--json").json()["totals"]
    run = cli("deliveries", "prune", "--older-than", "1s", "--json").json()
    assert run == {
        "deliveries": 6,
        "by_status": {"delivered": 3, "superseded": 0, "dead": 3},
        "attempts": 6,
        "events": 3,
    }
    assert [d["status"] for d in cli("deliveries", "list", "--json").json()] == ["pending"] * 2
    assert _count(cli, "attempts") == 0 and _count(cli, "events") == 1
    stats = cli("deliveries", "stats", "--json").json()
    assert stats["balanced"] and stats["totals"]["submitted"] == before["submitted"] == 8
    assert stats["totals"]["pending"] == 2
    # Nothing more to prune: a second run says so.
    assert "pruned 0 delivery(ies)" in cli("deliveries", "prune", "--older-than", "0s").stdout


def test_bad_input_is_one_sentence_and_changes_nothing(any_cli, writeback_receiver_factory):
    cli = any_cli
    rx = writeback_receiver_factory()
    cli("connectors", "add", cli.file(webhook_row("ok", rx.url)))
    cli("dispatch", events_file(cli, [appointment_event("create", "A")]))
    cli("worker", "--until-idle")
    for args, named in (
        (("--older-than", "30x"), "--older-than '30x'"),
        (("--older-than", "1s", "--status", "pending"), "--status 'pending'"),
        (("--older-than", "1s", "--status", "delivered,bogus"), "--status"),
    ):
        run = cli("deliveries", "prune", *args, check=2)
        assert run.stderr.startswith(f"error: WB-100: {named}") and "Traceback" not in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1
    run = cli("worker", "--until-idle", "--retention", "soon", check=2)
    assert "--retention 'soon'" in run.stderr
    assert _count(cli, "deliveries") == 1 and _count(cli, "events") == 1


def test_worker_retention_prunes_as_it_runs(any_cli, writeback_receiver_factory):
    cli = any_cli
    rx = writeback_receiver_factory()
    cli("connectors", "add", cli.file(webhook_row("ok", rx.url)))
    cli("dispatch", events_file(cli, [appointment_event("create", f"A{n}") for n in range(3)]))
    cli("worker", "--until-idle")
    time.sleep(1.1)
    # The first prune runs as the worker starts.
    cli("worker", "--until-idle", "--retention", "1s")
    assert _count(cli, "deliveries") == 0 and _count(cli, "events") == 0
    stats = cli("deliveries", "stats", "--json").json()
    assert stats["balanced"] and stats["totals"]["submitted"] == 3
