"""The vendor extension's staging row: what Business Central and NAV receive.

Every appointment change becomes one *create* of a staging row, whose
``databaseAction`` says insert, modify or delete; the back office processes the
row afterwards (docs/connectors.md, "The bc type").  The JSON API page takes the row with camelCase
keys; the SOAP page ``Appointment`` takes the same fields in page style
(``Source_App``) with the resources joined into one text field.

Public because ``writeback-nav`` builds the very same row: NAV runs the same
extension, reached only over SOAP.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from writeback.plugin import AttemptError

__all__ = [
    "DATABASE_ACTIONS",
    "PAGE_FIELDS",
    "ROW_FIELDS",
    "database_action",
    "json_body",
    "page_record",
    "rename_problems",
    "staging_row",
]

#: Appointment event action -> the staging row's ``databaseAction``.
DATABASE_ACTIONS: Mapping[str, str] = {"create": "I", "update": "U", "delete": "D"}

#: Row field (camelCase, the JSON key) -> SOAP page field, in the order of
#: docs/connectors.md, "What BC receives".
PAGE_FIELDS: Mapping[str, str] = {
    "databaseAction": "Database_Action",
    "sourceApp": "Source_App",
    "sourceType": "Source_Type",
    "jobNo": "Job_No",
    "taskNo": "Task_No",
    "appointmentGuid": "Appointment_Guid",
    "appointmentNo": "Appointment_No",
    "subject": "Subject",
    "body": "Body",
    "startDateTime": "Start_Date_Time",
    "endDateTime": "End_Date_Time",
    "isAllDayEvent": "Is_All_Day_Event",
    "importance": "Importance",
    "locked": "Locked",
    "category": "Category",
    "timeMarker": "Time_Marker",
    "planningQuantity": "Planning_Quantity",
    "planningUom": "Planning_UOM",
    "useFixPlanningQty": "Use_Fix_Planning_Qty",
    "roundToUom": "Round_To_UOM",
    "backOfficeId": "Back_Office_Id",
    "backOfficeParentId": "Back_Office_Parent_Id",
    "resources": "Resource_Nos",
}

#: Every row field, in the order they are sent; ``options.fields`` may rename these.
ROW_FIELDS: tuple[str, ...] = tuple(PAGE_FIELDS)

#: Row fields whose appointment field has another name.
_SOURCE = {"startDateTime": "start", "endDateTime": "end"}
_DATE_TIMES = frozenset(_SOURCE)
_BOOLEANS = frozenset({"isAllDayEvent", "locked", "useFixPlanningQty", "roundToUom"})
_NUMBERS = frozenset({"importance", "planningQuantity"})


def database_action(action: str) -> str:
    """``I``, ``U`` or ``D`` for an event action.

    :raises AttemptError: ``WB-334`` for an action the staging table cannot take.
    """
    try:
        return DATABASE_ACTIONS[action]
    except KeyError:
        raise AttemptError(
            f"the staging row cannot carry action {action!r}; known actions: "
            f"{', '.join(DATABASE_ACTIONS)}.",
            code="WB-334",
        ) from None


def _utc_z(field: str, value: Any) -> str:
    when: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            when = None
    if when is None:
        raise AttemptError(
            f"appointment.{_SOURCE[field]} is {value!r}, not an ISO-8601 date-time; "
            "the staging row needs one.",
            code="WB-335",
        )
    if when.tzinfo is None:
        # The event model reads a date-time without offset as UTC; so do we.
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _value(field: str, value: Any) -> Any:
    if field in _DATE_TIMES:
        return _utc_z(field, value)
    if field in _BOOLEANS or field in _NUMBERS:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # appointmentNo and the back-office ids may arrive as numbers; the
        # staging table stores them as text (Code/Text fields).
        return str(value)
    return value


def staging_row(action: str, appointment: Mapping[str, Any]) -> dict[str, Any]:
    """The staging row for one change: camelCase keys, in :data:`ROW_FIELDS` order.

    Appointment fields that are absent or null are left out; fields the row does
    not have (``fieldValues``, unknown ones) are not sent, since BC refuses
    properties its page does not define.  ``resources`` keeps only each
    ``resourceNo`` (the deep insert's one key).
    """
    row: dict[str, Any] = {"databaseAction": database_action(action)}
    for field in ROW_FIELDS[1:]:
        value = appointment.get(_SOURCE.get(field, field))
        if value is None:
            continue
        if field == "resources":
            row[field] = [
                {"resourceNo": str(item["resourceNo"])}
                for item in value
                if isinstance(item, Mapping) and item.get("resourceNo") not in (None, "")
            ]
            continue
        row[field] = _value(field, value)
    return row


def json_body(row: Mapping[str, Any], renames: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON API page's body: the row with ``options.fields`` renames applied."""
    renames = renames or {}
    return {renames.get(field, field): value for field, value in row.items()}


def page_record(row: Mapping[str, Any], renames: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The SOAP page record: page-style names (or the renames, verbatim), resources joined."""
    renames = renames or {}
    record: dict[str, Any] = {}
    for field, value in row.items():
        if field == "resources":
            value = ",".join(item["resourceNo"] for item in value)
        record[renames.get(field, PAGE_FIELDS[field])] = value
    return record


def rename_problems(renames: Mapping[str, str], api_format: str) -> list[str]:
    """Sentences for renames that would put two fields under one wire name.

    The wire names differ per format (camelCase for json, page style for soap),
    so this runs once the row's format is known.
    """
    names = {
        field: renames.get(field, field if api_format != "soap" else PAGE_FIELDS[field])
        for field in ROW_FIELDS
    }
    problems = []
    for field, target in renames.items():
        clash = [other for other, name in names.items() if name == target and other != field]
        if clash:
            problems.append(
                f"options.fields maps {field!r} to {target!r}, which {clash[0]!r} is also "
                f"sent as with api_type {api_format!r}; choose a name no other field uses."
            )
    return problems
