"""Fixtures for the nav type's tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from writeback.plugin import PluginRegistry

NAV_SOAP = "https://nav.example.com:7047/DynamicsNAV110/WS/CRONUS/Page/Appointment"


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    return PluginRegistry.load()


@pytest.fixture
def nav_row() -> Callable[..., dict[str, Any]]:
    def make(api_type: str = "soap", auth: dict[str, Any] | None = None, **options: Any):
        return {
            "name": "nav",
            "type": "nav",
            "api_type": api_type,
            "uri": NAV_SOAP,
            "source_app": "CRONUSNAV",
            "auth": auth or {"method": "basic", "username": "NAVUSER", "password": "pw-0123"},
            "options": options,
        }

    return make
