"""``--log-format json``: one JSON object per log line, naming the delivery, never a secret."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from writeback_testing import Step

from .conftest import appointment_event, webhook_row

PASSWORD = "j50n-L0g-Pa55word!"
BASIC = base64.b64encode(f"ops:{PASSWORD}".encode()).decode()


def _lines(stderr: str) -> list[dict]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def test_worker_logs_json_lines_naming_the_delivery_and_no_secret(cli, writeback_receiver):
    rx = writeback_receiver
    # The back office quotes the credentials back, as refusing servers do.
    rx.set_plan([Step(400, body=f"refused user ops password {PASSWORD} header Basic {BASIC}")])
    auth = {"method": "basic", "username": "ops", "password": PASSWORD}
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url, auth=auth)))
    [made] = cli("dispatch", cli.file(appointment_event("create", "G1")), "--json").json()
    delivery_id = made["deliveries"][0]["id"]
    run = cli("--log-format", "json", "-vv", "worker", "--until-idle")
    assert PASSWORD not in run.stderr + run.stdout and BASIC not in run.stderr + run.stdout
    lines = _lines(run.stderr)
    assert lines and all({"time", "level", "logger", "message"} <= set(x) for x in lines)
    assert all(x["time"].endswith("Z") and "T" in x["time"] for x in lines)
    [dead] = [x for x in lines if "is dead" in x["message"]]
    assert dead["level"] == "WARNING" and dead["logger"] == "writeback.worker"
    assert dead["delivery_id"] == delivery_id and dead["connector"] == "hook"
    assert "***" in dead["message"]
    # Lines logged during the attempt by others (httpx at -vv) name the delivery too.
    others = [x for x in lines if x["logger"] != "writeback.worker" and "delivery_id" in x]
    assert others and {x["delivery_id"] for x in others} == {delivery_id}


def test_an_unmatched_event_is_one_json_line(cli):
    event = appointment_event("create", "G1", source_app="NOBODY")
    run = cli("--log-format", "json", "dispatch", cli.file(event))
    [line] = _lines(run.stderr)
    assert line["level"] == "WARNING" and "no enabled connector" in line["message"]


def test_text_stays_the_default(cli):
    run = cli("dispatch", cli.file(appointment_event("create", "G1", source_app="NOBODY")))
    [line] = [x for x in run.stderr.splitlines() if x.strip()]
    assert " WARNING writeback.dispatch: event " in line
    assert "no enabled connector for sourceApp 'NOBODY'" in line


def test_an_unknown_log_format_is_one_sentence_and_exit_2(cli):
    run = cli("--log-format", "xml", "deliveries", "list", check=2)
    assert "'xml' is not a log format; use 'text' or 'json'." in run.stderr
    assert "Traceback" not in run.stderr


@pytest.fixture
def captured_json_logging():
    from writeback.cli._logging import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging(0, "json")
    handler = root.handlers[0]
    records: list[str] = []
    handler.emit = lambda record: records.append(handler.format(record))  # type: ignore[method-assign]
    yield records
    root.handlers[:], level = saved
    root.setLevel(level)


def test_a_traceback_is_a_field_and_redacted(captured_json_logging):
    from writeback._redaction import REDACTOR

    secret = "tr4ceback-S3cret-value"
    REDACTOR.add(secret)
    log = logging.getLogger("writeback.test")
    try:
        raise RuntimeError(f"the server said {secret}")
    except RuntimeError:
        # As the handler would: its filters first, then the formatter.
        record = log.makeRecord(log.name, logging.ERROR, __file__, 1, "failed: %s", (secret,), None)
        import sys

        record.exc_info = sys.exc_info()
    handler = logging.getLogger().handlers[0]
    assert handler.filter(record)
    line = json.loads(handler.format(record))
    assert secret not in json.dumps(line)
    assert line["message"] == "failed: ***" and "RuntimeError" in line["exception"]


def test_fields_given_through_extra_are_kept(captured_json_logging):
    from writeback._log_context import delivery_logging

    handler = logging.getLogger().handlers[0]
    log = logging.getLogger("writeback.test")
    with delivery_logging("d-context", "conn-a"):
        inside = log.makeRecord(log.name, logging.WARNING, __file__, 1, "in", (), None)
        given = log.makeRecord(
            log.name, logging.WARNING, __file__, 1, "x", (), None, extra={"delivery_id": "d-own"}
        )
        # The handler filters as the record is emitted, inside the attempt.
        assert handler.filter(inside) and handler.filter(given)
    outside = log.makeRecord(log.name, logging.WARNING, __file__, 1, "out", (), None)
    assert handler.filter(outside)
    assert json.loads(handler.format(inside))["delivery_id"] == "d-context"
    assert json.loads(handler.format(given))["delivery_id"] == "d-own"
    assert "delivery_id" not in json.loads(handler.format(outside))
