"""Untrusted text prints as text: connector names, event ids and back offices'
answers, through the real CLI against a real receiver.  Rich markup in them is
shown as written (it once crashed ``connectors add`` after storing the row, and
every listing after it), and terminal control sequences are shown escaped, never
sent to the terminal; ``--json`` keeps the data exactly (JSON-escaped)."""

from __future__ import annotations

import re
from typing import Any

from writeback_testing import Step

from .conftest import Cli, appointment_event, webhook_row

#: Markup that is not well formed (it raised rich's MarkupError), markup that is,
#: an emoji code, a colour change, a window title change, a C1 control sequence
#: introducer, a carriage return and a bidi override that would rewrite the line.
HOSTILE = (
    "[/x] [bold]boom[/bold] :thumbs_up: \x1b[31mred\x1b[0m \x1b]0;pwned\x07 \x9b2J "
    "over\rwrite \u202egnp.exe"
)
#: What may never reach a terminal from untrusted text: ESC, BEL, CR, C1, bidi.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def no_raw_controls(*outputs: str) -> None:
    for output in outputs:
        found = RAW.findall(output)
        assert not found, (found, output)


def test_a_back_offices_answer_prints_as_text(cli: Cli, writeback_receiver_factory: Any) -> None:
    rx = writeback_receiver_factory(plan=lambda request: Step(400, body=HOSTILE))
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url)))
    [made] = cli("dispatch", cli.file(appointment_event("create", "A")), "--json").json()
    delivery_id = made["deliveries"][0]["id"]
    worker = cli("worker", "--until-idle")
    listed = cli("deliveries", "list")
    shown = cli("deliveries", "show", delivery_id)
    stats = cli("deliveries", "stats")
    as_json = cli("deliveries", "show", delivery_id, "--json")
    no_raw_controls(*cli.outputs)
    # Markup is shown as written, controls as escapes (a listing cuts the text short).
    for output in (listed.stdout, shown.stdout):
        assert "[/x] [bold]boom[/bold] :thumbs_up: \\x1b[31mred" in output, output
    assert "\\x1b]0;pwned\\x07 \\x9b2J over\\rwrite \\u202egnp.exe" in shown.stdout
    assert "[/x] [bold]boom[/bold]" in worker.stderr  # the worker's log of the dead delivery
    assert "hook" in stats.stdout
    # The data itself is kept exactly; JSON escapes it.
    data = as_json.json()
    assert (
        data["last_error"].endswith(HOSTILE) and data["history"][0]["error"] == data["last_error"]
    )
    assert "\\u001b[31m" in as_json.stdout and "\\u009b2J" in as_json.stdout


def test_a_connector_named_with_markup_is_stored_and_listed(
    cli: Cli, writeback_receiver_factory: Any
) -> None:
    rx = writeback_receiver_factory()
    name = "[/x] [bold]hook[/bold] :thumbs_up:"
    added = cli("connectors", "add", cli.file(webhook_row(name, rx.url, description=HOSTILE)))
    assert f"added 1 connector(s): {name}" in added.stdout
    listed = cli("connectors", "list")
    assert name in listed.stdout
    shown = cli("connectors", "show", name)
    assert name in shown.stdout
    dispatched = cli("dispatch", cli.file(appointment_event("create", "[red]A[/red]")))
    assert name in dispatched.stdout
    cli("worker", "--until-idle")
    deliveries = cli("deliveries", "list", "--connector", name)
    assert name in deliveries.stdout and "[red]A[/red]" in deliveries.stdout
    assert name in cli("deliveries", "stats").stdout
    for command in ("disable", "enable"):
        assert name in cli("connectors", command, name).stdout
    [row] = cli("connectors", "list", "--json").json()
    assert row["name"] == name and rx.wait_for(1)
    assert cli("connectors", "show", name, "--json").json()["description"] == HOSTILE
    no_raw_controls(*cli.outputs)
    assert name in cli("connectors", "remove", name).stdout
