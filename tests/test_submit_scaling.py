"""Submitting among many connectors, and in batches, on SQLite and PostgreSQL.

Matching reads only the rows of the event's source application (an indexed
query) and parses a row again only when it changed; these tests hold it to
what a scan of every row gave: only enabled connectors of the event's
``sourceApp`` whose ``crud_types`` hold its action get a delivery, and a row
changed, disabled or removed by another process counts at the very next submit.
Batches (``submit_many``, ``writeback dispatch``) keep resubmission idempotent.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from writeback import Dispatcher

from .conftest import Cli, appointment_event, webhook_row

URI = "http://127.0.0.1:9/hook"  # nothing is delivered in these tests


@pytest.fixture
def url(writeback_any_db_url: str) -> str:
    return writeback_any_db_url


@pytest.fixture
def other_process(tmp_path: Any, url: str) -> Cli:
    """The CLI in processes of its own, on the same store and secrets key."""
    cli = Cli(tmp_path, url)
    if os.environ.get("WRITEBACK_SECRET_KEY"):  # set by the PostgreSQL fixture
        cli.env["WRITEBACK_SECRET_KEY"] = os.environ["WRITEBACK_SECRET_KEY"]
    return cli


def many_connectors(count: int) -> list[dict[str, Any]]:
    """``count`` rows: five of them for CRONUSUS (three of which take updates and
    are enabled), the rest for other source applications, two by two."""
    rows = [
        webhook_row("cron-a", URI),
        webhook_row("cron-b", URI, crud_types=["update", "delete"]),
        webhook_row("cron-c", URI),
        webhook_row("cron-creates-only", URI, crud_types=["create"]),
        webhook_row("cron-disabled", URI, enabled=False),
    ]
    rows += [webhook_row(f"t{i:05d}", URI, f"T{i // 2:05d}") for i in range(count - len(rows))]
    return rows


def connectors_of(wb: Dispatcher, event: dict[str, Any]) -> list[str]:
    return sorted(name for _, name in wb.submit_detailed(event).deliveries)


def test_among_2000_connectors_only_the_matching_ones_get_deliveries(url: str) -> None:
    with Dispatcher.open(url) as wb:
        wb.connectors.add(many_connectors(2000))
        assert connectors_of(wb, appointment_event("update", "G1")) == [
            "cron-a",
            "cron-b",
            "cron-c",
        ]
        assert connectors_of(wb, appointment_event("create", "G2")) == [
            "cron-a",
            "cron-c",
            "cron-creates-only",
        ]
        assert connectors_of(wb, appointment_event("delete", "G3", "T00042")) == [
            "t00084",
            "t00085",
        ]
        assert connectors_of(wb, appointment_event("create", "G4", "NOBODY")) == []
        results = wb.submit_many(
            [appointment_event("update", f"B{i}", f"T{i:05d}") for i in range(600)]
        )
        assert [sorted(name for _, name in r.deliveries) for r in results] == [
            [f"t{2 * i:05d}", f"t{2 * i + 1:05d}"] for i in range(600)
        ]
        assert wb.deliveries.counts() == {"pending": 3 + 3 + 2 + 1200}


def test_a_row_changed_by_another_process_counts_at_the_next_submit(
    url: str, other_process: Cli
) -> None:
    with Dispatcher.open(url) as wb:
        wb.connectors.add(many_connectors(50))
        update = appointment_event("update", "G1")
        assert connectors_of(wb, {**update, "id": "e1"}) == ["cron-a", "cron-b", "cron-c"]

        other_process("connectors", "disable", "cron-a")
        assert connectors_of(wb, {**update, "id": "e2"}) == ["cron-b", "cron-c"]

        changed = webhook_row("cron-b", URI, crud_types=["delete"])
        other_process("connectors", "add", other_process.file(changed), "--replace")
        assert connectors_of(wb, {**update, "id": "e3"}) == ["cron-c"]

        moved = webhook_row("cron-c", URI, "ELSEWHERE")
        other_process("connectors", "add", other_process.file(moved), "--replace")
        assert connectors_of(wb, {**update, "id": "e4"}) == []
        assert connectors_of(wb, appointment_event("update", "G1", "ELSEWHERE")) == ["cron-c"]

        other_process("connectors", "enable", "cron-a")
        other_process("connectors", "remove", "cron-a")
        other_process("connectors", "add", other_process.file(webhook_row("cron-new", URI)))
        assert connectors_of(wb, {**update, "id": "e5"}) == ["cron-new"]


def test_submit_many_in_batches_is_idempotent_and_durable_on_return(
    url: str, other_process: Cli
) -> None:
    events = [{**appointment_event("update", f"G{i % 7}"), "id": f"e{i}"} for i in range(1100)]
    with Dispatcher.open(url) as wb:
        wb.connectors.add([webhook_row("a", URI), webhook_row("b", URI)])
        first = wb.submit_many(events[:600], batch_size=250)
        assert all(r.created and len(r.deliveries) == 2 for r in first)
        # What submit_many returned is committed: another process lists every delivery.
        assert pending(other_process) == 1200

        again = wb.submit_many(events, batch_size=250)
        assert [r.deliveries for r in again[:600]] == [r.deliveries for r in first]
        assert not any(r.created for r in again[:600])
        assert all(r.created for r in again[600:])
        assert wb.deliveries.counts() == {"pending": 2200}


def test_a_batch_holding_an_event_id_twice_creates_it_once(url: str) -> None:
    from writeback._dispatcher import parse_event
    from writeback.store import Target

    with Dispatcher.open(url) as wb:
        wb.connectors.add(webhook_row("a", URI))
        [stored] = wb.connectors.list()
        target = [Target(stored.id, stored.name)]
        known = parse_event({**appointment_event("create", "G0"), "id": "known"})
        wb.submit(known)
        one = parse_event({**appointment_event("create", "G1"), "id": "twice"})
        again = parse_event({**appointment_event("update", "G1"), "id": "twice"})
        results = wb.store.outbox.submit_many([known, one, again], [target, target, target])
        (known_made, known_created), (made, created), (made_again, created_again) = results
        assert not known_created and len(known_made) == 1
        assert created and len(made) == 1
        assert (made_again, created_again) == (made, False)
        assert wb.deliveries.counts() == {"pending": 2}


def test_dispatch_of_a_file_larger_than_a_batch(other_process: Cli) -> None:
    cli = other_process
    cli("connectors", "add", cli.file([webhook_row("a", URI), webhook_row("b", URI)]))
    lines = [
        json.dumps({**appointment_event("create", f"G{i}"), "id": f"e{i}"}) for i in range(1200)
    ]
    source = cli.file("\n".join(lines) + "\n", suffix=".jsonl")
    first = cli("dispatch", source, "--json").json()
    assert [r["event_id"] for r in first] == [f"e{i}" for i in range(1200)]
    assert all(len(r["deliveries"]) == 2 for r in first)

    again = cli("dispatch", source, "--json").json()
    assert again == first
    assert pending(cli) == 2400

    broken = cli.file("\n".join([*lines[:1100], "{not json", *lines[1100:]]) + "\n", ".jsonl")
    refused = cli("dispatch", broken, check=2)
    assert "1101" in refused.stderr and "Traceback" not in refused.stderr
    fresh = [json.dumps(appointment_event("create", f"N{i}")) for i in range(1000)]
    bad_last = cli.file("\n".join([*fresh, '{"action": "create"}']) + "\n", ".jsonl")
    cli("dispatch", bad_last, check=2)
    assert pending(cli) == 2400  # nothing written


def pending(cli: Cli) -> int:
    stats = cli("deliveries", "stats", "--json").json()
    assert stats["totals"]["submitted"] == stats["totals"]["pending"]
    return int(stats["totals"]["pending"])
