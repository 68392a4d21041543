"""The appointment event and its normalisation.

Two shapes arrive: the flat camelCase one and the nested PascalCase one the
planning application publishes to Power Platform.  Both become one flat
camelCase appointment; fields we do not know are kept as they came.  Users
read about both in docs/architecture.md, "The appointment event".
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from ._models import no_nul, refuse_unsendable

__all__ = ["ACTIONS", "AppointmentEvent", "normalise_appointment"]

ACTIONS = ("create", "update", "delete")

#: Nested PascalCase path -> flat camelCase field.
_PASCAL_PATHS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("Subject",), "subject"),
    (("Body",), "body"),
    (("StartDate",), "start"),
    (("EndDate",), "end"),
    (("Importance",), "importance"),
    (("AppointmentGuid",), "appointmentGuid"),
    (("AppointmentNo",), "appointmentNo"),
    (("Id",), "id"),
    (("Locked",), "locked"),
    (("IsAllDayEvent",), "isAllDayEvent"),
    (("PlanningUOM",), "planningUom"),
    (("PlanningQty",), "planningQuantity"),
    (("UseFixPlanningQty",), "useFixPlanningQty"),
    (("RoundToUOM",), "roundToUom"),
    (("BackOfficeId",), "backOfficeId"),
    (("BackOfficeParentId",), "backOfficeParentId"),
    (("AppointmentFieldValues",), "fieldValues"),
    (("Task", "TaskNo"), "taskNo"),
    (("Task", "Job", "SourceApp"), "sourceApp"),
    (("Task", "Job", "SourceType"), "sourceType"),
    (("Task", "Job", "JobNo"), "jobNo"),
    (("Category", "DisplayName"), "category"),
    (("TimeMarker", "Name"), "timeMarker"),
)


def _pop_path(data: dict[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    node: Any = data
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict) and path[-1] in node:
        return True, node.pop(path[-1])
    return False, None


def normalise_appointment(raw: dict[str, Any]) -> dict[str, Any]:
    """Flatten the nested PascalCase shape into camelCase; leave camelCase as it is."""
    data = dict(raw)
    for key in ("Task", "Category", "TimeMarker"):
        if isinstance(data.get(key), dict):
            data[key] = _deep_copy(data[key])
    for path, flat in _PASCAL_PATHS:
        found, value = _pop_path(data, path)
        if found and flat not in data:
            data[flat] = value
    for key in ("Task", "Category", "TimeMarker"):
        if isinstance(data.get(key), dict):
            data[key] = _drop_empty(data[key])
            if not data[key]:
                del data[key]
    assignments = data.get("Assignments")
    if isinstance(assignments, list) and "resources" not in data:
        resources, rest = [], []
        for item in assignments:
            item = _deep_copy(item) if isinstance(item, dict) else item
            found, number = (
                _pop_path(item, ("Resource", "ResourceNo"))
                if isinstance(item, dict)
                else (False, None)
            )
            if found:
                resources.append({"resourceNo": number})
            if isinstance(item, dict):
                item = _drop_empty(item)
            if item:
                rest.append(item)
        data["resources"] = resources
        if rest:
            data["Assignments"] = rest
        else:
            del data["Assignments"]
    return data


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _drop_empty(value: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in value.items():
        if isinstance(v, dict):
            v = _drop_empty(v)
            if not v:
                continue
        out[k] = v
    return out


def _jsonable(value: Any) -> Any:
    """``value`` with every date-time as a UTC ``Z`` string and every date in ISO form.

    A Python caller may hand over ``datetime`` objects in fields we do not know
    too; JSON has no such type, and storing the event failed with a TypeError.
    Nesting is bounded by the event's own check, so recursion is safe here.
    """
    if isinstance(value, datetime):
        return _utc_z(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _utc_z(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _Resource(BaseModel):
    model_config = ConfigDict(extra="allow")
    resourceNo: str = Field(min_length=1, max_length=50)


class Appointment(BaseModel):
    """The known appointment fields, typed; anything else is kept as it came."""

    model_config = ConfigDict(extra="allow")

    sourceApp: str = Field(min_length=1, max_length=30)
    appointmentGuid: str | None = Field(default=None, max_length=50)
    appointmentNo: str | int | None = None
    id: str | int | None = None
    sourceType: str | None = None
    jobNo: str | None = None
    taskNo: str | None = None
    subject: str | None = None
    body: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    isAllDayEvent: StrictBool | None = None
    importance: int | None = Field(default=None, ge=0, le=2)
    locked: StrictBool | None = None
    category: str | None = None
    timeMarker: str | None = None
    planningQuantity: float | None = None
    planningUom: str | None = None
    useFixPlanningQty: StrictBool | None = None
    roundToUom: StrictBool | None = None
    resources: list[_Resource] | None = None
    backOfficeId: str | int | None = None
    backOfficeParentId: str | int | None = None

    # Stored as columns of their own (the ordering key, the routing key).
    _keys_without_nul = field_validator("sourceApp", "appointmentGuid", "appointmentNo", "id")(
        no_nul
    )

    @field_validator("appointmentNo", "id")
    @classmethod
    def _key_fits(cls, value: str | int | None) -> str | int | None:
        # The identity is stored as the appointment_key column, 200 characters: a
        # longer one failed on PostgreSQL with a traceback (SQLite took it).
        if isinstance(value, str) and len(value) > 200:
            raise ValueError(f"has {len(value)} characters; give at most 200.")
        return value

    @field_validator("sourceApp")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("appointment.sourceApp is blank; give the back office's source app.")
        return value

    @model_validator(mode="after")
    def _has_identity(self) -> Appointment:
        if not any(
            v not in (None, "") for v in (self.appointmentGuid, self.appointmentNo, self.id)
        ):
            raise ValueError(
                "the appointment has no identity; give appointmentGuid, appointmentNo or id."
            )
        return self

    def identity(self) -> str:
        """``appointmentGuid``, else ``appointmentNo``, else ``id``: the ordering key."""
        for value in (self.appointmentGuid, self.appointmentNo, self.id):
            if value not in (None, ""):
                return str(value)
        raise AssertionError("validated appointments always have an identity")

    def as_dict(self) -> dict[str, Any]:
        """The appointment as given (explicit nulls kept), date-times as UTC ``Z`` strings."""
        data = self.model_dump(mode="python", exclude_unset=True)
        return {key: _jsonable(value) for key, value in data.items()}


class AppointmentEvent(BaseModel):
    """One change to one appointment, as the planning application hands it over."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Event id for idempotency; generated when absent.
    id: str = Field(default_factory=lambda: f"evt_{uuid.uuid4().hex}", min_length=1, max_length=200)
    #: ``create``, ``update`` or ``delete``.
    action: Literal["create", "update", "delete"]
    #: When the change happened, if known.
    occurred_at: datetime | None = None
    #: The appointment, normalised to flat camelCase.
    appointment: Appointment

    _id_without_nul = field_validator("id")(no_nul)
    # Checked before anything else: an event that could not be sent as JSON (NaN,
    # a lone surrogate, a 5000-digit integer) is refused at submit, not at send.
    _sendable = model_validator(mode="before")(refuse_unsendable)

    @field_validator("appointment", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return normalise_appointment(value)
        return value

    @field_validator("action", mode="before")
    @classmethod
    def _action_lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def appointment_key(self) -> str:
        return self.appointment.identity()

    @property
    def source_app(self) -> str:
        return self.appointment.sourceApp

    def to_record(self) -> dict[str, Any]:
        """JSON-ready form stored in the outbox."""
        return {
            "id": self.id,
            "action": self.action,
            "occurred_at": _utc_z(self.occurred_at) if self.occurred_at else None,
            "appointment": self.appointment.as_dict(),
        }
