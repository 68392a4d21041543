"""Property tests: malformed events and connector rows always give exit 2, a sentence
naming the field, no traceback, and nothing written."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from writeback.cli import main

VALID_EVENT = {"action": "create", "appointment": {"appointmentGuid": "G1", "sourceApp": "APP"}}
VALID_ROW = {
    "name": "hook",
    "type": "webhook",
    "uri": "http://127.0.0.1:9/h",
    "api_type": "json",
    "source_app": "APP",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)

# (field as the message names it, how to break it)
EVENT_BREAKERS: list[tuple[str, Any]] = [
    (
        "action",
        lambda e, v: (
            e.update(action=v) if v not in ("create", "update", "delete") else e.pop("action")
        ),
    ),
    ("action", lambda e, v: e.pop("action")),
    (
        "appointment",
        lambda e, v: e.update(appointment=v) if not isinstance(v, dict) else e.pop("appointment"),
    ),
    (
        "sourceApp",
        lambda e, v: e["appointment"].update(
            sourceApp=v if not isinstance(v, str) else "X" * 31 + v
        ),
    ),
    ("identity", lambda e, v: e["appointment"].pop("appointmentGuid")),
    ("appointment.start", lambda e, v: e["appointment"].update(start=[v])),
    ("appointment.importance", lambda e, v: e["appointment"].update(importance=7)),
    ("occurred_at", lambda e, v: e.update(occurred_at=[v])),
    ("appointmentGuid", lambda e, v: e["appointment"].update(appointmentGuid="G\x00" + str(v)[:5])),
    ("unexpected", lambda e, v: e.update(unexpected=v)),
]

ROW_BREAKERS: list[tuple[str, Any]] = [
    ("type", lambda r, v: r.update(type="no-such-type-" + str(v)[:5])),
    ("uri", lambda r, v: r.update(uri="not a url " + str(v)[:5])),
    ("api_type", lambda r, v: r.update(api_type="soap")),
    ("crud_types", lambda r, v: r.update(crud_types=["create", "upsert"])),
    ("source_app", lambda r, v: r.update(source_app="S" * 31)),
    (
        "auth.method",
        lambda r, v: r.update(auth={"method": "ntlm", "username": "u", "password": "p"}),
    ),
    ("auth.password", lambda r, v: r.update(auth={"method": "basic", "username": "u"})),
    ("retry", lambda r, v: r.update(retry={"schedule": [-1]})),
    ("options", lambda r, v: r.update(options={"payload": "xml"})),
    ("name", lambda r, v: r.pop("name")),
    ("name", lambda r, v: r.update(name="ho\x00ok" + str(v)[:5])),
    ("source_app", lambda r, v: r.update(source_app="A\x00" + str(v)[:5])),
    ("enabled", lambda r, v: r.update(enabled=[v])),
    ("surprise", lambda r, v: r.update(surprise=v)),
]


def run_cli(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["writeback", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _check_refused(code: int, out: str, err: str, field: str) -> None:
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    assert "error:" in err
    if field == "identity":
        assert "appointmentGuid, appointmentNo or id" in err
    else:
        assert field.split(".")[-1] in err, err


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(breaker=st.sampled_from(EVENT_BREAKERS), value=json_values, as_list=st.booleans())
def test_malformed_events_exit_2_and_write_nothing(
    breaker, value, as_list, tmp_path, capsys, monkeypatch
):
    field, breaks = breaker
    event = json.loads(json.dumps(VALID_EVENT))
    breaks(event, value)
    body = [VALID_EVENT, event] if as_list else event
    path = tmp_path / "events.json"
    path.write_text(json.dumps(body))
    db = f"sqlite:///{tmp_path}/prop.db"
    code, out, err = run_cli(["--db", db, "dispatch", str(path)], capsys, monkeypatch)
    _check_refused(code, out, err, field)
    # The valid event before the bad one was not written either: all or nothing.
    code, out, _ = run_cli(["--db", db, "deliveries", "list", "--json"], capsys, monkeypatch)
    assert code == 0 and json.loads(out) == []
    from writeback.store import Store

    store = Store.open(db)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from events").scalar() == 0
    store.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    breaker=st.sampled_from(ROW_BREAKERS),
    value=json_values,
    command=st.sampled_from(["add", "validate"]),
)
def test_malformed_rows_exit_2_and_write_nothing(
    breaker, value, command, tmp_path, capsys, monkeypatch
):
    field, breaks = breaker
    row = json.loads(json.dumps(VALID_ROW))
    breaks(row, value)
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([{**VALID_ROW, "name": "good-one"}, row]))
    db = f"sqlite:///{tmp_path}/prop.db"
    code, out, err = run_cli(["--db", db, "connectors", command, str(path)], capsys, monkeypatch)
    _check_refused(code, out, err, field)
    code, out, _ = run_cli(["--db", db, "connectors", "list", "--json"], capsys, monkeypatch)
    assert code == 0 and json.loads(out) == []


NUL_CASES = [
    ("dispatch", {**VALID_EVENT, "id": "evt\x001"}, "id"),
    (
        "dispatch",
        {**VALID_EVENT, "appointment": {"id": "\x00", "sourceApp": "APP"}},
        "appointment.id",
    ),
    ("connectors", {**VALID_ROW, "name": "ho\x00ok"}, "name"),
    ("connectors", {**VALID_ROW, "source_app": "\x00APP"}, "source_app"),
]


@pytest.mark.parametrize(("command", "data", "field"), NUL_CASES)
def test_a_nul_in_a_stored_key_or_name_is_refused_on_both_engines(
    command, data, field, writeback_any_db_url, tmp_path, capsys, monkeypatch
):
    """Names and keys are columns of their own, not JSON: PostgreSQL's text cannot
    hold NUL, and such an event or row failed there with a traceback."""
    path = tmp_path / "input.json"
    path.write_text(json.dumps(data))
    args = [command, str(path)] if command == "dispatch" else ["connectors", "add", str(path)]
    code, out, err = run_cli(["--db", writeback_any_db_url, *args], capsys, monkeypatch)
    assert code == 2 and "Traceback" not in out + err, (out, err)
    assert f"{field}: holds a NUL character" in err, err
    what = "events" if command == "dispatch" else "connectors"
    from writeback.store import Store

    store = Store.open(writeback_any_db_url)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql(f"select count(*) from {what}").scalar() == 0
    store.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=json_values)
def test_arbitrary_json_as_event_never_tracebacks(value, tmp_path, capsys, monkeypatch):
    path = tmp_path / "junk.json"
    path.write_text(json.dumps(value))
    code, out, err = run_cli(
        ["--db", f"sqlite:///{tmp_path}/j.db", "dispatch", str(path)], capsys, monkeypatch
    )
    assert code == 2 and "Traceback" not in out + err and err.startswith("error:")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["dispatch", "/no/such/file.json"], "no such file"),
        (["connectors", "add", "/no/such/file.yaml"], "no such file"),
        (["deliveries", "list", "--status", "lost"], "--status 'lost' is not a status"),
        (["deliveries", "show", "dlv_missing"], "no delivery with id 'dlv_missing'"),
        (["connectors", "show", "nope"], "no connector named 'nope'"),
        (["deliveries", "retry"], "give delivery ids or --dead, --connector, --since"),
        (["worker", "--concurrency", "0"], "--concurrency"),
    ],
)
def test_usage_errors_exit_2(args, expected, tmp_path, capsys, monkeypatch):
    code, out, err = run_cli(["--db", f"sqlite:///{tmp_path}/u.db", *args], capsys, monkeypatch)
    assert code == 2 and expected in err and "Traceback" not in out + err


def test_bad_db_url_exits_2(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(["--db", "nonsense", "connectors", "list"], capsys, monkeypatch)
    assert code == 2 and "is not a database URL" in err
    code, _, err = run_cli(
        ["--db", f"sqlite:///{tmp_path}/no/such/dir/x.db", "connectors", "list"],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "does not exist" in err
    assert not (Path(tmp_path) / "no").exists()


def test_a_file_that_is_not_a_database_exits_2(tmp_path, capsys, monkeypatch):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    code, out, err = run_cli(
        ["--db", f"sqlite:///{junk}", "connectors", "list"], capsys, monkeypatch
    )
    assert code == 2 and "WB-401" in err and "Traceback" not in out + err


def test_server_database_needs_a_shared_key(capsys, monkeypatch):
    monkeypatch.delenv("WRITEBACK_SECRET_KEY", raising=False)
    url = "postgresql+psycopg://wb:pw@127.0.0.1:1/wb"
    code, _, err = run_cli(["--db", url, "connectors", "list"], capsys, monkeypatch)
    assert code == 2 and ("WRITEBACK_SECRET_KEY" in err or "driver is not installed" in err)
    assert "pw@" not in err
