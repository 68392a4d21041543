from __future__ import annotations

import pytest
from writeback import InvalidEventError
from writeback._dispatcher import parse_event

PASCAL = {
    "action": "update",
    "appointment": {
        "AppointmentGuid": "g-1",
        "appointmentNo": "A-17",
        "Subject": "Boiler check",
        "StartDate": "2026-11-24T09:00:00+01:00",
        "EndDate": "2026-11-24T11:00:00+01:00",
        "PlanningQty": 2,
        "PlanningUOM": "H",
        "Task": {
            "TaskNo": "10",
            "Job": {"SourceApp": "CRONUSUS", "SourceType": "SERVICE", "JobNo": "SO100"},
        },
        "Category": {"DisplayName": "Urgent", "Color": "#ff0000"},
        "TimeMarker": {"Name": "Confirmed"},
        "Assignments": [{"Resource": {"ResourceNo": "R-ANNA"}}],
        "AppointmentUrls": ["https://x"],
    },
}


def test_nested_pascal_shape_is_flattened():
    appointment = parse_event(PASCAL).appointment.as_dict()
    assert appointment["sourceApp"] == "CRONUSUS"
    assert appointment["sourceType"] == "SERVICE" and appointment["jobNo"] == "SO100"
    assert appointment["taskNo"] == "10"
    assert appointment["start"] == "2026-11-24T08:00:00Z"
    assert appointment["planningQuantity"] == 2 and appointment["planningUom"] == "H"
    assert appointment["category"] == "Urgent" and appointment["timeMarker"] == "Confirmed"
    assert appointment["resources"] == [{"resourceNo": "R-ANNA"}]
    # What we did not map is kept: the colour, the urls.
    assert appointment["Category"] == {"Color": "#ff0000"}
    assert appointment["AppointmentUrls"] == ["https://x"]
    assert "Task" not in appointment and "TimeMarker" not in appointment


def test_flat_shape_keeps_unknown_fields_and_nulls():
    raw = {
        "action": "create",
        "appointment": {
            "appointmentGuid": "g",
            "sourceApp": "X",
            "myField": {"a": 1},
            "backOfficeId": None,
        },
    }
    appointment = parse_event(raw).appointment.as_dict()
    assert appointment["myField"] == {"a": 1}
    assert "backOfficeId" in appointment and appointment["backOfficeId"] is None


def test_identity_preference_and_generated_id():
    e = parse_event(
        {"action": "delete", "appointment": {"appointmentNo": 5, "id": 9, "sourceApp": "X"}}
    )
    assert e.appointment_key == "5"
    assert e.id.startswith("evt_") and len(e.id) > 10
    assert (
        parse_event(
            {"id": "mine", "action": "delete", "appointment": {"id": 9, "sourceApp": "X"}}
        ).id
        == "mine"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"appointment": {"id": 1, "sourceApp": "X"}}, "action is required"),
        ({"action": "upsert", "appointment": {"id": 1, "sourceApp": "X"}}, "action is 'upsert'"),
        ({"action": "create", "appointment": {"id": 1}}, "appointment.sourceApp is required"),
        ({"action": "create", "appointment": {"sourceApp": "X"}}, "no identity"),
        (
            {"action": "create", "appointment": {"id": 1, "sourceApp": "X", "start": "soon"}},
            "appointment.start",
        ),
        (
            {"action": "create", "appointment": {"id": 1, "sourceApp": "X"}, "extra": 1},
            "extra is not a known field",
        ),
        ([1, 2], "must be an object"),
    ],
)
def test_bad_events_name_the_field(raw, expected):
    with pytest.raises(InvalidEventError) as info:
        parse_event(raw)
    assert expected in info.value.message
