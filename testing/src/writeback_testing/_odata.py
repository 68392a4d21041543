"""The staging page's schema and BC's checks on a request body, for :mod:`.bc_api`.

What Business Central answers when a client sends a property its page does not
define, a value of the wrong Edm type, or a text longer than the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = ["DEFAULTS", "ERROR_CODES", "SCHEMA", "ODataError", "parse_properties"]

EMPTY_DATE = "0001-01-01T00:00:00Z"

#: The staging page's properties: name -> (Edm kind, max length for texts). Lengths from
#: the planning application's documented import limits where known, generous otherwise.
SCHEMA: Mapping[str, tuple[str, int | None]] = {
    "databaseAction": ("enum", None),
    "sourceApp": ("string", 30),
    "sourceType": ("string", 10),
    "jobNo": ("string", 50),
    "taskNo": ("string", 50),
    "appointmentGuid": ("string", 50),
    "appointmentNo": ("string", 50),
    "subject": ("string", 250),
    "body": ("string", 2048),
    "startDateTime": ("datetime", None),
    "endDateTime": ("datetime", None),
    "isAllDayEvent": ("bool", None),
    "importance": ("int", None),
    "locked": ("bool", None),
    "category": ("string", 100),
    "timeMarker": ("string", 100),
    "planningQuantity": ("decimal", None),
    "planningUom": ("string", 20),
    "useFixPlanningQty": ("bool", None),
    "roundToUom": ("bool", None),
    "backOfficeId": ("string", 250),
    "backOfficeParentId": ("string", 250),
}
DEFAULTS = {"string": "", "bool": False, "int": 0, "decimal": 0, "datetime": EMPTY_DATE}
_EDM = {
    "string": "Edm.String",
    "bool": "Edm.Boolean",
    "int": "Edm.Int32",
    "decimal": "Edm.Decimal",
    "datetime": "Edm.DateTimeOffset",
}
_ACTIONS = ("I", "U", "D")
_REQUIRED = ("databaseAction", "sourceApp")
#: Properties the server fills in; a client may send them, they are ignored.
_READ_ONLY = frozenset({"id", "lastModifiedDateTime"})
ERROR_CODES = {
    400: "BadRequest",
    401: "Authentication_InvalidCredentials",
    403: "Authorization_InsufficientPermissions",
    404: "BadRequest_NotFound",
    408: "Request_Timeout",
    409: "Request_EntityChanged",
    413: "Request_EntityTooLarge",
    429: "Application_TooManyRequests",
    503: "Internal_ServiceUnavailable",
    504: "Internal_GatewayTimeout",
}


class ODataError(Exception):
    """An answer in BC's error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _check_value(name: str, kind: str, limit: int | None, value: Any) -> None:
    if value is None:
        return
    ok = {
        "string": isinstance(value, str),
        "enum": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "decimal": isinstance(value, int | float) and not isinstance(value, bool),
        "datetime": isinstance(value, str),
    }[kind]
    if ok and kind == "datetime":
        try:
            ok = datetime.fromisoformat(value).tzinfo is not None
        except ValueError:
            ok = False
    if not ok:
        edm = _EDM.get(kind, "Edm.String")
        raise ODataError(
            400, "BadRequest", f"Cannot convert the literal '{value}' to the expected type '{edm}'."
        )
    if kind == "enum" and value not in _ACTIONS:
        raise ODataError(
            400,
            "BadRequest",
            f"The value '{value}' is not valid for {name}; allowed: {', '.join(_ACTIONS)}.",
        )
    if limit is not None and len(value) > limit:
        raise ODataError(
            400,
            "Application_StringExceededLength",
            f"The length of the string is {len(value)}, but it must be less than or equal to "
            f"{limit} characters. Value: {value}",
        )


def parse_properties(data: Any, *, creating: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Check a body as BC does: (fields, resources), or raise :class:`ODataError`."""
    if not isinstance(data, dict):
        raise ODataError(400, "BadRequest", "The request body must be a JSON object.")
    fields: dict[str, Any] = {}
    resources: list[dict[str, Any]] = []
    for name, value in data.items():
        if name.startswith("@odata.") or name in _READ_ONLY:
            continue
        if name == "resources":
            if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
                raise ODataError(400, "BadRequest", "resources must be an array of objects.")
            for item in value:
                for key, val in item.items():
                    if key != "resourceNo":
                        raise _not_found(key, "resource")
                    _check_value(key, "string", 50, val)
                resources.append({"resourceNo": item.get("resourceNo", "")})
            continue
        if name not in SCHEMA:
            raise _not_found(name, "appointment")
        kind, limit = SCHEMA[name]
        _check_value(name, kind, limit, value)
        fields[name] = value
    if creating:
        for name in _REQUIRED:
            if fields.get(name) in (None, ""):
                raise ODataError(
                    400, "Application_FieldValidation", f"{name} must have a value in Appointment."
                )
    return fields, resources


def _not_found(name: str, entity: str) -> ODataError:
    return ODataError(
        400,
        "BadRequest_PropertyNotFound",
        f"The property '{name}' does not exist on type 'Microsoft.NAV.{entity}'. Make sure to "
        "only use property names that are defined by the type.",
    )
