"""Bounds through the Python API: what the CLI refuses, ``Dispatcher`` refuses too."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from writeback import InvalidConnectorError, InvalidEventError
from writeback._limits import unsendable
from writeback._problems import shown
from writeback.plugin import mask_uri

ROW = {
    "name": "hook",
    "type": "webhook",
    "uri": "http://127.0.0.1:9/h",
    "api_type": "json",
    "source_app": "APP",
}


def event(**extra: Any) -> dict[str, Any]:
    return {
        "action": "create",
        "appointment": {"appointmentGuid": "G", "sourceApp": "APP", **extra},
    }


@pytest.fixture
def wb(tmp_path: Any) -> Any:
    from writeback import Dispatcher

    with Dispatcher.open(f"sqlite:///{tmp_path}/bounds.db") as dispatcher:
        dispatcher.connectors.add(ROW)
        yield dispatcher


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({1, 2}, "(Python set), which JSON cannot hold"),
        (b"raw", "(Python bytes)"),
        (object(), "(Python object)"),
        ({(1, 2): "x"}, "has the key (1, 2)"),
        (float("nan"), "finite number"),
        (2**64, "64 bits"),
        ("\udc80", "lone surrogate"),
    ],
)
def test_submit_refuses_what_json_cannot_hold(wb: Any, value: Any, needle: str) -> None:
    with pytest.raises(InvalidEventError, match=r"appointment\.x") as info:
        wb.submit(event(x=value))
    assert needle in info.value.message
    assert wb.deliveries.list() == []


def test_dates_in_unknown_fields_are_stored_as_text(wb: Any) -> None:
    moment = datetime.datetime(
        2026, 1, 1, 10, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    wb.submit(event(x=moment, y=[datetime.date(2026, 1, 2)]))
    with wb.store.engine.connect() as conn:
        (record,) = conn.exec_driver_sql("select payload from events").scalars()
    stored = json.loads(record)["appointment"]
    assert stored["x"] == "2026-01-01T08:00:00Z" and stored["y"] == ["2026-01-02"]


def test_submit_many_refuses_a_reused_id_naming_both(wb: Any) -> None:
    batch = [{**event(), "id": "e1"}, {**event(), "id": "e2"}, {**event(), "id": "e1"}]
    with pytest.raises(InvalidEventError, match=r"events #1 and #3 both have id 'e1'"):
        wb.submit_many(batch)
    assert wb.deliveries.list() == []


@pytest.mark.parametrize(
    "changes",
    [
        {"retry": {"schedule": [float("inf")]}},
        {"options": {"timeout": float("nan")}},
        {"uri": "https://alice:pw@127.0.0.1/h"},
        {"auth": {"method": "basic", "username": "u", "password": "env:"}},
    ],
)
def test_connectors_add_refuses_the_same_as_the_cli(wb: Any, changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidConnectorError) as info:
        wb.connectors.add({**ROW, "name": "other", **changes})
    assert "pw" not in info.value.message
    assert [c.name for c in wb.connectors.list()] == ["hook"]


def test_a_python_value_nested_100000_deep_is_refused_without_recursing() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    problem = unsendable({"appointment": {"x": deep}})
    assert problem is not None and "nested more than 64 levels deep" in problem
    assert problem.startswith("appointment.x[0][0]…")


def test_shown_quotes_only_the_start_of_any_value() -> None:
    shared: list[Any] = ["lol"] * 9
    for _ in range(12):
        shared = [shared] * 9  # aliases: 9**12 leaves, one object per level
    assert len(shown(shared)) == 60 and shown(shared).endswith("…")
    assert shown(10**5000) == "<an integer of 5001 digits>"
    assert shown("x" * 10**6) == repr("x" * 58)[:59] + "…"
    assert shown("https://u:p@h/x?token=t") == "'https://***@h/x?token=***'"


@pytest.mark.parametrize(
    ("uri", "masked"),
    [
        ("https://h/p?a=1&api_key=k&code=c#frag", "https://h/p?a=1&api_key=***&code=***#frag"),
        ("https://u:p@h/x", "https://***@h/x"),
        (
            "https://h/x?X-Api-Key=k&Subscription-Key=s",
            "https://h/x?X-Api-Key=***&Subscription-Key=***",
        ),
        ("https://h/cb#access_token=t&state=s", "https://h/cb#access_token=***&state=s"),
        ("https://h/x?token=", "https://h/x?token="),
        ("not a uri at all", "not a uri at all"),
    ],
)
def test_mask_uri(uri: str, masked: str) -> None:
    assert mask_uri(uri) == masked


def test_a_python_caller_may_hand_over_parsed_parts():
    from writeback import Connector, Throttle

    row = Connector(
        name="t",
        type="webhook",
        uri="https://example.test/h",
        api_type="json",
        source_app="APP",
        throttle=Throttle(max_concurrency=2),
    )
    assert row.throttle == Throttle(max_concurrency=2)
