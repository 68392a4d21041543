"""--version, shell completion, id columns that stay whole, the worker's waiting line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _writeback(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "writeback", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_version_prints_the_core_s_version_and_exits_0():
    from writeback import __version__

    proc = _writeback("--version")
    assert proc.returncode == 0 and proc.stdout == f"writeback {__version__}\n"


def test_shell_completion_is_offered_and_shown():
    helped = _writeback("--help", COLUMNS="100")
    assert "--install-completion" in helped.stdout and "--show-completion" in helped.stdout
    shown = _writeback(
        "--show-completion", "bash", _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1"
    )
    assert shown.returncode == 0 and "complete" in shown.stdout and "writeback" in shown.stdout


def test_an_id_column_stays_on_one_line_at_100_columns(monkeypatch, capsys):
    from writeback.cli import _output

    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setattr(_output, "out", _output._LazyConsole(stderr=False))
    delivery_id = "dlv_01M85M8B2ESNDYPG0H2S45SH10"
    long_error = "HTTP 503: " + "the back office is in maintenance, try later " * 4
    _output.table(
        None,
        ["id", "connector", "action", "appointment", "status", "attempts", "last_error", "updated"],
        [
            [
                delivery_id,
                "bc-cronus-production-tenant",
                "update",
                "APPT-000123",
                "pending",
                3,
                long_error,
                "2026-12-06T14:03:05Z",
            ]
        ],
    )
    printed = capsys.readouterr().out
    assert delivery_id in printed
    assert max(len(line) for line in printed.splitlines()) <= 100


def test_a_table_in_a_pipe_keeps_its_natural_width(monkeypatch, capsys):
    """No terminal, no COLUMNS: no cell is folded (rich would assume 80 columns and
    print a connector name a few characters a line)."""
    from writeback.cli import _output

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(_output, "out", _output._LazyConsole(stderr=False))
    name = "bc-cronus-production-tenant-with-a-long-name"
    uri = "https://api.businesscentral.dynamics.com/v2.0/tenant/Production/api/x"
    _output.table(
        None, ["name", "type", "api_type", "auth", "uri"], [[name, "bc", "json", "entra", uri]]
    )
    printed = capsys.readouterr().out
    assert name in printed and uri in printed
    assert max(len(line) for line in printed.splitlines()) > 80
    assert len(printed.splitlines()) == 5  # top, header, rule, the row, bottom


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.4, "0 s"),
        (12, "12 s"),
        (252, "4 m 12 s"),
        (3 * 3600 + 300, "3 h 5 m"),
        (97200, "1 d 3 h"),
    ],
)
def test_a_wait_is_said_for_people(seconds, text):
    from writeback.cli._waiting import span

    assert span(seconds) == text


def test_the_waiting_line():
    from writeback.cli._waiting import message

    now = 1796565533.0  # 2026-12-06T13:58:53Z
    assert message(252, 1, now) == (
        "waiting: next attempt of 1 delivery due at 2026-12-06T14:03:05Z (in 4 m 12 s)"
    )
    assert "of 3 deliveries" in message(10, 3, now)


def test_next_due_reads_the_store(tmp_path):
    import time

    from sqlalchemy import insert
    from writeback.cli._waiting import next_due
    from writeback.store import Store
    from writeback.store._schema import deliveries, events

    store = Store.open(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        assert next_due(store.engine) is None
        now = time.time()
        with store.engine.begin() as conn:
            conn.execute(insert(events).values(id="e1", **_event_columns(conn, now)))
            for n, (status, due) in enumerate(
                [
                    ("pending", now + 300),
                    ("pending", now + 300.5),
                    ("pending", now + 900),
                    ("dead", now),
                ]
            ):
                conn.execute(
                    insert(deliveries).values(
                        id=f"d{n}",
                        event_id="e1",
                        connector_name="c",
                        action="create",
                        appointment_key="A",
                        status=status,
                        attempts=1,
                        next_attempt_at=due,
                        created_at=now,
                        updated_at=now,
                    )
                )
        wait, count = next_due(store.engine)
        assert 290 < wait <= 300 and count == 2
    finally:
        store.close()


def _event_columns(conn, now: float) -> dict:
    """Values for the events table's other required columns (its shape is the store's)."""
    from writeback.store._schema import events

    values: dict = {}
    for column in events.columns:
        if column.name == "id" or column.nullable or column.default is not None:
            continue
        if column.server_default is not None:
            continue
        python_type = column.type.python_type
        values[column.name] = now if python_type is float else 0 if python_type is int else "x"
    return values


def test_worker_until_idle_says_when_the_next_attempt_is_due(cli, writeback_receiver):
    from writeback_testing import Step

    from .conftest import appointment_event, webhook_row

    rx = writeback_receiver
    rx.set_plan([Step(503)])
    row = webhook_row("hook", rx.url, retry={"schedule": [9]})
    cli("connectors", "add", cli.file(row))
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    run = cli("worker", "--until-idle")
    waiting = [line for line in run.stderr.splitlines() if line.startswith("waiting: ")]
    assert waiting, run.stderr
    assert waiting[0].startswith("waiting: next attempt of 1 delivery due at 20")
    assert waiting[0].endswith(" s)") and "Z (in " in waiting[0]
    # Said when the wait began, not every time the store was asked.
    assert len(waiting) <= 2
    assert [r.status for r in rx.requests if r.method == "POST"] == [503, 200]


def test_list_and_show_print_the_next_attempt_with_the_id_whole_at_100_columns(
    cli, writeback_receiver
):
    from .conftest import appointment_event, webhook_row

    cli("connectors", "add", cli.file(webhook_row("hook", writeback_receiver.url)))
    [made] = cli("dispatch", cli.file(appointment_event("create", "G1")), "--json").json()
    delivery_id = made["deliveries"][0]["id"]
    cli.env["COLUMNS"] = "100"
    listed = cli("deliveries", "list")
    # The id whole; other columns (the headers too) wrap around it.
    assert "next" in listed.stdout and delivery_id in listed.stdout
    assert max(len(line) for line in listed.stdout.splitlines()) <= 100
    due = cli("deliveries", "list", "--json").json()[0]["next_attempt_at"]
    assert due and due.endswith("Z")
    shown = cli("deliveries", "show", delivery_id)
    assert f"next attempt {due}" in shown.stdout
