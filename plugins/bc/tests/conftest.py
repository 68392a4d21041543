"""Fixtures for the bc type's tests: validated rows and deliveries."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from writeback.plugin import Delivery, PluginRegistry, ValidatedConnector, validate_connector

ONPREM_JSON = (
    "https://bc.example.com:7048/BC/api/dimeSoftware/dimeScheduler/v1.0/"
    "companies(4f1c0000-0000-4000-8000-000000000001)/appointments"
)
ONLINE_JSON = (
    "https://api.businesscentral.dynamics.com/v2.0/tenant-1/Production/api/dimeSoftware/"
    "dimeScheduler/v1.0/companies(4f1c0000-0000-4000-8000-000000000001)/appointments"
)
ONPREM_SOAP = "https://bc.example.com:7047/BC/WS/CRONUS%20US/Page/Appointment"

#: Every field the staging row takes, plus ones it does not.
APPOINTMENT: dict[str, Any] = {
    "appointmentGuid": "6f0c2f4e-0000-4000-8000-000000000017",
    "appointmentNo": 17,
    "sourceApp": "CRONUSUS",
    "sourceType": "SERVICE",
    "jobNo": "SO100",
    "taskNo": "10",
    "subject": "Kessel prüfen",
    "body": "Bring the spare valve",
    "start": "2026-11-24T09:00:00+01:00",
    "end": "2026-11-24T10:00:00Z",
    "isAllDayEvent": False,
    "importance": 1,
    "locked": False,
    "category": "Urgent",
    "timeMarker": "Confirmed",
    "planningQuantity": 2.5,
    "planningUom": "H",
    "useFixPlanningQty": True,
    "roundToUom": False,
    "resources": [{"resourceNo": "R-ANNA", "displayName": "Anna"}, {"resourceNo": "R-BEN"}],
    "fieldValues": [{"name": "Customer", "value": "Adatum"}],
    "backOfficeId": None,
    "backOfficeParentId": 4711,
    "x-custom": {"kept": "for webhooks only"},
}

BASIC = {"method": "basic", "username": "WEBUSER", "password": "access-key-0123"}


@pytest.fixture
def appointment() -> dict[str, Any]:
    return copy.deepcopy(APPOINTMENT)


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    return PluginRegistry.load()


@pytest.fixture
def bc_row() -> Callable[..., dict[str, Any]]:
    """``bc_row(api_type=…, uri=…, auth=…, **options)``: a raw bc connector row."""

    def make(
        api_type: str = "json",
        uri: str | None = None,
        auth: dict[str, Any] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        return {
            "name": "bc",
            "type": "bc",
            "api_type": api_type,
            "uri": uri or (ONPREM_SOAP if api_type == "soap" else ONPREM_JSON),
            "source_app": "CRONUSUS",
            "auth": auth or dict(BASIC),
            "options": options,
        }

    return make


@pytest.fixture
def make_connector(
    registry: PluginRegistry, bc_row: Callable[..., dict[str, Any]]
) -> Callable[..., ValidatedConnector]:
    def make(*args: Any, **kwargs: Any) -> ValidatedConnector:
        return validate_connector(bc_row(*args, **kwargs), registry)

    return make


@pytest.fixture
def make_delivery() -> Callable[..., Delivery]:
    def make(action: str = "update", appointment: dict[str, Any] | None = None) -> Delivery:
        return Delivery(
            id="dlv_01JD7Y3Z",
            event_id="evt-0001",
            action=action,
            appointment=copy.deepcopy(APPOINTMENT) if appointment is None else appointment,
            occurred_at=None,
        )

    return make
