"""Pause and resume, by hand and on a webhook's 410 Gone: real worker, real receiver,
on SQLite and PostgreSQL."""

from __future__ import annotations

from writeback_testing import Step

from .conftest import appointment_event, webhook_row
from .test_delivery_engine import events_file


def _statuses(cli, connector):
    rows = cli("deliveries", "list", "--connector", connector, "--json").json()
    return [r["status"] for r in rows]


def test_a_paused_connector_sends_nothing_and_resume_sends_in_order(
    any_cli, writeback_receiver_factory
):
    cli = any_cli
    rx = writeback_receiver_factory()
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url)))
    cli("connectors", "pause", "hook", "--reason", "back office in maintenance")
    cli("dispatch", events_file(cli, [appointment_event("create", "A", seq=0)]))
    cli("worker", "--until-idle")  # returns: nothing it could send
    # New events still queue while paused.
    cli("dispatch", events_file(cli, [appointment_event("update", "A", seq=n) for n in (1, 2)]))
    cli("worker", "--until-idle")
    assert rx.requests == []
    assert _statuses(cli, "hook") == ["pending"] * 3
    [shown] = cli("connectors", "list", "--json").json()
    assert shown["paused"] is True and shown["paused_reason"] == "back office in maintenance"
    stats = cli("deliveries", "stats", "--json").json()
    assert stats["balanced"] and stats["totals"]["pending"] == 3
    [hook] = [c for c in stats["connectors"] if c["connector"] == "hook"]
    assert hook["paused"] is True and hook["paused_reason"] == "back office in maintenance"
    table = cli("deliveries", "stats").stdout
    assert "back office in maintenance" in table

    assert "resumed hook" in cli("connectors", "resume", "hook").stdout
    cli("worker", "--until-idle")
    assert [r.json["data"]["seq"] for r in rx.requests] == [0, 1, 2]
    assert _statuses(cli, "hook") == ["delivered"] * 3
    [shown] = cli("connectors", "list", "--json").json()
    assert shown["paused"] is False and shown["paused_reason"] is None


def test_410_gone_pauses_the_connector_with_the_reason(any_cli, writeback_receiver_factory):
    cli = any_cli
    gone = writeback_receiver_factory(plan=[Step(410)])
    cli("connectors", "add", cli.file(webhook_row("hook", gone.url)))
    cli("dispatch", events_file(cli, [appointment_event("create", f"K{n}") for n in range(4)]))
    cli("worker", "--until-idle", "--concurrency", "1")
    statuses = _statuses(cli, "hook")
    # The delivery answered 410 is dead as before; the rest wait, unsent.
    assert statuses.count("dead") == 1 and statuses.count("pending") == 3
    assert len(gone.requests) == 1
    shown = cli("connectors", "show", "hook", "--json").json()
    assert shown["paused"] is True and "410 Gone" in shown["paused_reason"]

    cli("connectors", "resume", "hook")
    cli("worker", "--until-idle")
    assert _statuses(cli, "hook").count("delivered") == 3


def test_pause_of_an_unknown_connector_is_one_sentence(any_cli):
    cli = any_cli
    cli("connectors", "add", cli.file(webhook_row("hook", "http://127.0.0.1:9/h")))
    for verb in ("pause", "resume"):
        run = cli("connectors", verb, "NOSUCH", check=2)
        assert run.stderr.startswith("error: WB-10") and "'hook'" in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1
    run = cli("connectors", "pause", "hook", "--reason", "x" * 501, check=2)
    assert "--reason" in run.stderr and "500" in run.stderr
    assert cli("connectors", "show", "hook", "--json").json()["paused"] is False


def test_the_waiting_line_leaves_a_paused_connector_out(cli, writeback_receiver_factory):
    """``worker --until-idle`` waits for a retry of one connector while another is
    paused with a delivery due: the line counts the retry only (the paused one,
    due already, would otherwise hide the wait altogether)."""
    slow = writeback_receiver_factory(plan=[Step(503)])
    held = writeback_receiver_factory()
    cli("connectors", "add", cli.file(webhook_row("slow", slow.url, retry={"schedule": [9]})))
    cli("connectors", "add", cli.file(webhook_row("held", held.url, source_app="OTHER")))
    cli("connectors", "pause", "held")
    cli("dispatch", events_file(cli, [appointment_event("create", "P1", source_app="OTHER")]))
    cli("dispatch", events_file(cli, [appointment_event("create", "S1")]))
    run = cli("worker", "--until-idle")
    waiting = [line for line in run.stderr.splitlines() if line.startswith("waiting: ")]
    assert waiting and all("of 1 delivery due at" in line for line in waiting), run.stderr
    assert len(slow.requests) == 2 and held.requests == []
    assert _statuses(cli, "held") == ["pending"] and _statuses(cli, "slow") == ["delivered"]
