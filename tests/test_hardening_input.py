"""Hostile event input through the real CLI: every event that could never be sent
is refused at submit (exit 2, one sentence, nothing written), and what is read
is bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import Cli, Run, appointment_event, webhook_row

MIB = 1024 * 1024


def run_bytes(cli: Cli, args: list[str], data: bytes) -> Run:
    """The CLI with raw bytes on stdin (the ``cli`` fixture only passes text)."""
    proc = subprocess.run(
        [sys.executable, "-m", "writeback", "--db", cli.db_url, *args],
        input=data,
        capture_output=True,
        env=cli.env,
        timeout=120,
    )
    run = Run(
        proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    )
    cli.outputs += [run.stdout, run.stderr]
    return run


def assert_refused(run: Run, *needles: str) -> None:
    """Exit 2, one ``error:`` sentence on stderr naming what is wrong, no traceback."""
    assert run.code == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    assert run.stderr.startswith("error: WB-1"), run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    for needle in needles:
        assert needle in run.stderr, run.stderr


def assert_nothing_written(cli: Cli) -> None:
    assert cli("deliveries", "list", "--json").json() == []


@pytest.fixture
def hook(cli: Cli, writeback_receiver_factory: Any) -> Any:
    """A webhook connector for sourceApp CRONUSUS pointed at a real loopback receiver."""
    receiver = writeback_receiver_factory()
    cli("connectors", "add", cli.file(webhook_row("hook", receiver.url)))
    return receiver


def _event_text(**fields: Any) -> str:
    return json.dumps(appointment_event("create", "G-1", **fields))


# -- item 8: events that can never be sent ---------------------------------------


def test_invalid_utf8_on_stdin_is_refused_at_submit(cli: Cli, hook: Any) -> None:
    data = (
        _event_text(subject="boiler")
        .replace("boiler", "boi\udcffler")
        .encode("utf-8", "surrogateescape")
    )
    run = run_bytes(cli, ["dispatch", "-"], data)
    assert_refused(run, "not UTF-8", "line 1")
    assert_nothing_written(cli)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('"subject": "\\ud800"', "appointment.subject"),
        ('"Surprise": {"deep": ["ok", "\\udfff"]}', "appointment.Surprise.deep[1]"),
        ('"\\ud83d": "a key"', "appointment"),
    ],
)
def test_a_lone_surrogate_in_an_event_is_refused_at_submit(
    cli: Cli, hook: Any, text: str, field: str
) -> None:
    body = '{"action": "create", "appointment": {"appointmentGuid": "G-1", '
    body += f'"sourceApp": "CRONUSUS", {text}}}}}'
    run = cli("dispatch", "-", input=body, check=None)
    assert_refused(run, field, "surrogate")
    assert_nothing_written(cli)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('"planningQuantity": NaN', "appointment.planningQuantity"),
        ('"Extra": [1, Infinity]', "appointment.Extra[1]"),
        ('"Extra": -Infinity', "appointment.Extra"),
        ('"Extra": 1e400', "appointment.Extra"),
    ],
)
def test_nan_or_infinity_in_an_event_is_refused_and_nothing_is_sent(
    cli: Cli, hook: Any, text: str, field: str
) -> None:
    body = '{"action": "create", "appointment": {"appointmentGuid": "G-1", '
    body += f'"sourceApp": "CRONUSUS", {text}}}}}'
    run = cli("dispatch", "-", input=body, check=None)
    assert_refused(run, field, "finite number")
    assert_nothing_written(cli)
    cli("worker", "--until-idle")
    assert hook.requests == []


# -- item 13: deep nesting and huge integers -------------------------------------


def test_an_event_nested_100000_deep_is_one_sentence(cli: Cli, hook: Any) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    body = _event_text(Extra="DEEP").replace('"DEEP"', deep)
    run = cli("dispatch", cli.file(body), check=None)
    assert_refused(run, "nested more than 64 levels deep")
    assert_nothing_written(cli)


def test_an_event_nested_past_the_limit_names_the_field(cli: Cli, hook: Any) -> None:
    body = _event_text(Extra="DEEP").replace('"DEEP"', "[" * 70 + "]" * 70)
    run = cli("dispatch", cli.file(body), check=None)
    assert_refused(run, "appointment.Extra", "nested more than 64 levels deep")
    assert_nothing_written(cli)


@pytest.mark.parametrize("digits", [5000, 30])
def test_an_event_integer_beyond_64_bits_is_one_sentence(cli: Cli, hook: Any, digits: int) -> None:
    body = _event_text(appointmentNo="NUMBER").replace('"NUMBER"', "9" * digits)
    run = cli("dispatch", cli.file(body), check=None)
    assert_refused(run, "64 bits")
    assert_nothing_written(cli)


def test_a_huge_integer_in_json_lines_is_one_sentence(cli: Cli, hook: Any) -> None:
    good = _event_text()
    bad = _event_text(Extra="NUMBER").replace('"NUMBER"', "-" + "1" * 5000)
    run = cli("dispatch", cli.file(f"{good}\n{bad}\n"), check=None)
    assert_refused(run, "64 bits")
    assert_nothing_written(cli)


# -- item 15: bounded reading, duplicate ids -------------------------------------


def test_dispatch_of_an_endless_file_is_refused_after_the_limit(cli: Cli, hook: Any) -> None:
    run = cli("dispatch", "/dev/zero", check=None)
    assert_refused(run, "/dev/zero", "larger than 32 MiB")
    assert_nothing_written(cli)


def test_dispatch_of_a_file_over_the_limit_is_refused(cli: Cli, hook: Any, tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    event = _event_text()
    path.write_text(event + " " * (32 * MIB - len(event) + 1))
    run = cli("dispatch", str(path), check=None)
    assert_refused(run, "larger than 32 MiB")
    assert_nothing_written(cli)


def test_stdin_over_the_limit_is_refused(cli: Cli, hook: Any) -> None:
    run = run_bytes(cli, ["dispatch", "-"], b" " * (32 * MIB + 1))
    assert_refused(run, "stdin", "larger than 32 MiB")
    assert_nothing_written(cli)


def test_a_file_at_the_limit_is_read(cli: Cli, hook: Any, tmp_path: Path) -> None:
    path = tmp_path / "full.json"
    event = _event_text()
    path.write_text(event + " " * (32 * MIB - len(event)))
    assert cli("dispatch", str(path), "--json").json()[0]["deliveries"]


def test_an_event_id_reused_in_one_batch_refuses_the_batch(cli: Cli, hook: Any) -> None:
    events = [
        {**appointment_event("create", "G-1"), "id": "evt-1"},
        {**appointment_event("create", "G-2"), "id": "evt-2"},
        {**appointment_event("update", "G-1", subject="changed"), "id": "evt-1"},
    ]
    run = cli("dispatch", cli.file(events), check=None)
    assert_refused(run, "events #1 and #3", "'evt-1'")
    assert_nothing_written(cli)


def test_a_known_event_id_in_a_later_batch_is_still_idempotent(cli: Cli, hook: Any) -> None:
    event = {**appointment_event("create", "G-1"), "id": "evt-1"}
    first = cli("dispatch", cli.file([event]), "--json").json()
    again = cli("dispatch", cli.file([event]), "--json").json()
    assert first == again and len(first[0]["deliveries"]) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["connectors", "show", b"\xff"],
        ["connectors", "remove", b"hook\xff"],
        ["deliveries", "show", b"\xff"],
        ["deliveries", "retry", b"\xff"],
        ["deliveries", "list", "--connector", b"\xff"],
    ],
    ids=lambda a: " ".join(x for x in a if isinstance(x, str)),
)
def test_a_name_or_id_that_is_not_utf8_is_a_usage_error(cli: Cli, args: list[Any]) -> None:
    """Bytes that are not UTF-8 reach sys.argv as lone surrogates, which no
    database driver can send: the lookup failed with a traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "writeback", "--db", cli.db_url, *args],
        capture_output=True,
        env=cli.env,
        timeout=120,
    )
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert "is not UTF-8 text" in err


def test_a_database_path_that_is_not_utf8_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    url = b"sqlite:///" + bytes(tmp_path) + b"/\xff.db"
    proc = subprocess.run(
        [sys.executable, "-m", "writeback", "--db", url, "connectors", "list"],
        capture_output=True,
        env=cli.env,
        timeout=120,
    )
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert "'--db' (or WRITEBACK_DB): is not UTF-8 text" in err


def test_dispatch_from_a_closed_stdin_is_one_sentence(cli: Cli) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "writeback", "--db", cli.db_url, "dispatch", "-"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=cli.env,
        timeout=120,
        preexec_fn=lambda: os.close(0),
    )
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert "stdin: is closed" in err
