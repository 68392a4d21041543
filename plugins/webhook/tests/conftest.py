"""Fixtures for the webhook's tests: validated connectors and deliveries."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from writeback.plugin import Delivery, PluginRegistry, ValidatedConnector, validate_connector

#: A signing secret in the Standard Webhooks form (24 random bytes, base64).
SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"

APPOINTMENT: dict[str, Any] = {
    "appointmentGuid": "6f0c2f4e-0000-4000-8000-000000000017",
    "appointmentNo": "A-17",
    "sourceApp": "CRONUSUS",
    "subject": "Kessel prüfen",
    "start": "2026-11-24T08:00:00Z",
    "resources": [{"resourceNo": "R-ANNA"}],
    "fieldValues": [{"name": "Customer", "value": "Adatum"}],
    # Not a field writeback knows: a receiver must get it unchanged.
    "x-custom": {"nested": [1, None, True], "note": "kept"},
    "backOfficeId": None,
}


@pytest.fixture
def signing_secret() -> str:
    return SECRET


@pytest.fixture
def appointment() -> dict[str, Any]:
    return copy.deepcopy(APPOINTMENT)


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    return PluginRegistry.load()


@pytest.fixture
def make_connector(registry: PluginRegistry) -> Callable[..., ValidatedConnector]:
    """``make_connector(uri=…, auth=…, **options)``: a validated webhook row."""

    def make(
        uri: str = "https://hooks.example.com/appointments",
        auth: dict[str, Any] | None = None,
        **options: Any,
    ) -> ValidatedConnector:
        row = {
            "name": "hook",
            "type": "webhook",
            "api_type": "json",
            "uri": uri,
            "source_app": "CRONUSUS",
            "auth": auth or {"method": "none"},
            "options": options,
        }
        return validate_connector(row, registry)

    return make


@pytest.fixture
def make_delivery() -> Callable[..., Delivery]:
    def make(
        action: str = "update",
        *,
        occurred_at: datetime | None = None,
        attempt: int = 1,
        appointment: dict[str, Any] | None = None,
    ) -> Delivery:
        return Delivery(
            id="dlv_01JD7Y3Z",
            event_id="evt-0001",
            action=action,
            appointment=copy.deepcopy(APPOINTMENT) if appointment is None else appointment,
            occurred_at=occurred_at,
            attempt=attempt,
        )

    return make
