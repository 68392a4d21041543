"""The staging row (docs/connectors.md, "What BC receives"): field for field, JSON and SOAP."""

from __future__ import annotations

from typing import Any

import pytest
from writeback.plugin import AttemptError
from writeback_bc.staging import (
    PAGE_FIELDS,
    ROW_FIELDS,
    json_body,
    page_record,
    rename_problems,
    staging_row,
)


def test_every_field_maps_absent_and_null_left_out(appointment: dict[str, Any]) -> None:
    assert staging_row("update", appointment) == {
        "databaseAction": "U",
        "sourceApp": "CRONUSUS",
        "sourceType": "SERVICE",
        "jobNo": "SO100",
        "taskNo": "10",
        "appointmentGuid": "6f0c2f4e-0000-4000-8000-000000000017",
        "appointmentNo": "17",
        "subject": "Kessel prüfen",
        "body": "Bring the spare valve",
        "startDateTime": "2026-11-24T08:00:00Z",
        "endDateTime": "2026-11-24T10:00:00Z",
        "isAllDayEvent": False,
        "importance": 1,
        "locked": False,
        "category": "Urgent",
        "timeMarker": "Confirmed",
        "planningQuantity": 2.5,
        "planningUom": "H",
        "useFixPlanningQty": True,
        "roundToUom": False,
        "backOfficeParentId": "4711",
        "resources": [{"resourceNo": "R-ANNA"}, {"resourceNo": "R-BEN"}],
    }


def test_keys_follow_the_staging_row_order(appointment: dict[str, Any]) -> None:
    row = staging_row("create", appointment)
    assert list(row) == [f for f in ROW_FIELDS if f in row]


@pytest.mark.parametrize(("action", "letter"), [("create", "I"), ("update", "U"), ("delete", "D")])
def test_database_action(action: str, letter: str) -> None:
    row = staging_row(action, {"sourceApp": "APP", "appointmentGuid": "G"})
    assert row == {"databaseAction": letter, "sourceApp": "APP", "appointmentGuid": "G"}


def test_unknown_action_is_an_attempt_error_with_its_code() -> None:
    with pytest.raises(AttemptError) as caught:
        staging_row("move", {"sourceApp": "APP"})
    assert caught.value.code == "WB-334" and not caught.value.retryable
    assert "'move'" in caught.value.message and "create, update, delete" in caught.value.message


def test_naive_date_time_is_utc_and_garbage_is_refused() -> None:
    row = staging_row("update", {"sourceApp": "A", "start": "2026-11-24T08:00:00"})
    assert row["startDateTime"] == "2026-11-24T08:00:00Z"
    with pytest.raises(AttemptError) as caught:
        staging_row("update", {"sourceApp": "A", "end": "tomorrow"})
    assert caught.value.code == "WB-335" and "appointment.end" in caught.value.message


def test_empty_resources_are_sent_as_empty() -> None:
    row = staging_row("update", {"sourceApp": "A", "resources": []})
    assert row["resources"] == []
    assert page_record(row)["Resource_Nos"] == ""


def test_page_record_uses_page_names_and_joins_resources(appointment: dict[str, Any]) -> None:
    record = page_record(staging_row("delete", appointment))
    assert record["Database_Action"] == "D"
    assert record["Start_Date_Time"] == "2026-11-24T08:00:00Z"
    assert record["Planning_UOM"] == "H" and record["Round_To_UOM"] is False
    assert record["Resource_Nos"] == "R-ANNA,R-BEN"
    assert record["Back_Office_Parent_Id"] == "4711"
    assert "Back_Office_Id" not in record
    assert set(record) <= set(PAGE_FIELDS.values())


def test_renames_are_used_verbatim_per_format(appointment: dict[str, Any]) -> None:
    row = staging_row("create", appointment)
    renames = {"subject": "description", "resources": "Resource_List"}
    body = json_body(row, renames)
    assert body["description"] == "Kessel prüfen" and "subject" not in body
    assert body["Resource_List"] == [{"resourceNo": "R-ANNA"}, {"resourceNo": "R-BEN"}]
    record = page_record(row, renames)
    assert record["description"] == "Kessel prüfen" and "Subject" not in record
    assert record["Resource_List"] == "R-ANNA,R-BEN"


def test_rename_clashes_depend_on_the_format() -> None:
    # 'body' is a JSON key but not a page field name ('Body' is).
    [problem] = rename_problems({"subject": "body"}, "json")
    assert "options.fields" in problem and "'subject'" in problem and "'body'" in problem
    assert rename_problems({"subject": "body"}, "soap") == []
    assert rename_problems({"subject": "Body"}, "soap") != []
    assert rename_problems({"subject": "body", "body": "text"}, "json") == []
