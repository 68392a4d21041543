"""One shape: the CLI's ``--json`` is the views' ``to_dict()``, and pages of the listing.

Through the real CLI (subprocesses) and ``Dispatcher`` on the same database.
"""

from __future__ import annotations

import base64
import os

import pytest
from writeback import ConnectorView, DeliveryView, Dispatcher, StatsView
from writeback_testing import Step

from .conftest import Cli, appointment_event, webhook_row


def _cli(tmp_path, url: str) -> Cli:
    cli = Cli(tmp_path, url)
    if url.startswith("postgresql"):  # a server's key comes from the environment
        cli.env["WRITEBACK_SECRET_KEY"] = os.environ["WRITEBACK_SECRET_KEY"]
    return cli


def test_the_cli_prints_the_views(tmp_path, writeback_any_db_url, writeback_receiver):
    rx = writeback_receiver
    rx.set_plan([Step(400, body="no such job")])
    cli = _cli(tmp_path, writeback_any_db_url)
    row = webhook_row("hook", rx.url, auth={"method": "basic", "username": "u", "password": "pw1"})
    cli("connectors", "add", cli.file([row, webhook_row("idle", rx.url, source_app="NOBODY")]))
    events = [appointment_event("create", "V1"), appointment_event("update", "V2")]
    cli("dispatch", cli.file(events))
    cli("worker", "--until-idle")  # the first sent dead (400), the other delivered
    cli("dispatch", cli.file(appointment_event("update", "V3")))  # pending

    with Dispatcher.open(writeback_any_db_url) as wb:
        listed = [DeliveryView.of(r).to_dict() for r in wb.deliveries.list()]
        # Either may be sent first (the worker sends them concurrently): the dead one.
        dead_id = next(d["id"] for d in listed if d["status"] == "dead")
        shown = DeliveryView.of(*wb.deliveries.get(dead_id)).to_dict()
        connectors = [ConnectorView.of(c, wb.registry).to_dict() for c in wb.connectors.list()]
        stats = StatsView.of(wb.deliveries.stats()).to_dict()

    assert cli("deliveries", "list", "--json").json() == listed
    assert cli("deliveries", "show", dead_id, "--json").json() == shown
    assert cli("connectors", "list", "--json").json() == connectors
    assert cli("connectors", "show", "hook", "--json").json() == connectors[0]
    printed = cli("deliveries", "stats", "--json").json()
    assert {**printed, "connectors": None, "totals": None} == {
        **stats,
        "connectors": None,
        "totals": None,
    }
    # Ages move on between the two reads; everything else is the same.
    ours_all = [*stats["connectors"], stats["totals"]]
    for ours, theirs in zip(ours_all, [*printed["connectors"], printed["totals"]], strict=True):
        assert {**ours, "oldest_pending_age_s": 0} == {**theirs, "oldest_pending_age_s": 0}

    by_status = {d["status"]: d for d in listed}
    assert by_status["pending"]["next_attempt_at"].endswith("Z")
    assert by_status["dead"]["next_attempt_at"] is None
    assert by_status["delivered"]["next_attempt_at"] is None
    assert shown["history"][0]["code"] == "WB-360"
    assert connectors[0]["auth"]["password"] == "***"
    assert "pw1" not in "".join(cli.outputs)
    assert connectors[0]["paused"] is False and connectors[0]["paused_reason"] is None


def _pages(cli: Cli, *args: str) -> tuple[list[list[str]], list[str]]:
    """Every page of ``deliveries list --json ARGS``, following the cursors."""
    pages, cursors, after = [], [], []
    while True:
        run = cli("deliveries", "list", "--json", *args, *after)
        pages.append([d["id"] for d in run.json()])
        if "--after " not in run.stderr:
            return pages, cursors
        cursor = run.stderr.rsplit("--after ", 1)[1].split()[0]
        cursors.append(cursor)
        after = ["--after", cursor]


def test_deliveries_list_pages_by_limit_and_after(tmp_path, writeback_db_url, writeback_receiver):
    cli = _cli(tmp_path, writeback_db_url)
    cli("connectors", "add", cli.file(webhook_row("hook", writeback_receiver.url)))
    cli("dispatch", cli.file([appointment_event("create", f"P{n}") for n in range(7)]))
    everything = [d["id"] for d in cli("deliveries", "list", "--json", "--limit", "0").json()]
    assert len(everything) == 7

    pages, cursors = _pages(cli, "--limit", "3")
    assert [len(p) for p in pages] == [3, 3, 1] and len(cursors) == 2
    assert [i for p in pages for i in p] == everything
    # Submitted between two pages: the next page still starts where the last ended.
    cli("dispatch", cli.file(appointment_event("create", "P-late")))
    later = cli("deliveries", "list", "--json", "--limit", "3", "--after", cursors[0]).json()
    assert [d["id"] for d in later] == everything[3:6]

    pages, _ = _pages(cli, "--limit", "2", "--status", "pending", "--connector", "hook")
    assert [i for p in pages for i in p] == [*everything, pages[-1][-1]]
    assert "more deliveries" not in cli("deliveries", "list", "--limit", "0").stderr


def test_the_default_limit_is_1000(tmp_path, writeback_db_url, writeback_receiver):
    cli = _cli(tmp_path, writeback_db_url)
    cli("connectors", "add", cli.file(webhook_row("hook", writeback_receiver.url)))
    lines = "\n".join(
        f'{{"action": "create", "appointment": {{"appointmentGuid": "D{n}", "sourceApp": '
        f'"CRONUSUS"}}}}'
        for n in range(1001)
    )
    cli("dispatch", cli.file(lines, suffix=".jsonl"))
    run = cli("deliveries", "list", "--json")
    assert len(run.json()) == 1000 and "--after " in run.stderr
    cursor = run.stderr.rsplit("--after ", 1)[1].strip()
    rest = cli("deliveries", "list", "--json", "--after", cursor)
    assert len(rest.json()) == 1


def _altered(cursor: str) -> str:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    seq, rest = raw.split(".", 1)
    return base64.urlsafe_b64encode(f"{int(seq) + 1}.{rest}".encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (_altered, [], "is not a cursor a listing gave"),
        (lambda c: c[:-3], [], "is not a cursor a listing gave"),
        (lambda c: "\u00e9" + c, [], "is not a cursor a listing gave"),
        (lambda c: c, ["--status", "dead"], "was given by a listing with other filters"),
    ],
)
def test_a_bad_cursor_is_refused_in_one_sentence(
    tmp_path, writeback_db_url, writeback_receiver, make, extra, message
):
    cli = _cli(tmp_path, writeback_db_url)
    cli("connectors", "add", cli.file(webhook_row("hook", writeback_receiver.url)))
    cli("dispatch", cli.file([appointment_event("create", f"C{n}") for n in range(3)]))
    cursor = cli("deliveries", "list", "--limit", "1").stderr.rsplit("--after ", 1)[1].strip()
    run = cli("deliveries", "list", "--after", make(cursor), *extra, check=2)
    assert message in run.stderr and "Traceback" not in run.stderr
    assert run.stderr.startswith("error: WB-100: --after ") and run.stdout == ""
    assert cli("deliveries", "list", "--limit", "-1", check=2).stdout == ""


def test_submit_result_to_dict_is_dispatch_json_with_created(tmp_path, writeback_db_url):
    cli = Cli(tmp_path, writeback_db_url)
    cli("connectors", "add", cli.file(webhook_row("hook", "http://127.0.0.1:9/h")))
    event = {**appointment_event("create", "S1"), "id": "evt-s1"}
    [printed] = cli("dispatch", cli.file(event), "--json").json()
    with Dispatcher.open(writeback_db_url) as wb:
        [again] = wb.submit_many([event])  # a known id: nothing new
        [fresh] = wb.submit_many([{**event, "id": "evt-s2"}])
    assert again.to_dict() == {**printed, "created": False}
    made = fresh.to_dict()
    assert made["created"] is True and made["event_id"] == "evt-s2"
    assert [d["connector"] for d in made["deliveries"]] == ["hook"]
    assert made["deliveries"][0]["id"].startswith("dlv_")
