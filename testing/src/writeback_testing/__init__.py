"""Loopback simulators of back offices and pytest fixtures for testing writeback.

Names are imported on first use (PEP 562), so that loading the pytest plugin
costs a test run nothing until a fixture is actually used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from writeback_testing._server import LoopbackHandler, LoopbackServer
    from writeback_testing.webhook import ReceivedRequest, Step, WebhookReceiver

__all__ = ["LoopbackHandler", "LoopbackServer", "ReceivedRequest", "Step", "WebhookReceiver"]

_HOMES = {
    "LoopbackHandler": "writeback_testing._server",
    "LoopbackServer": "writeback_testing._server",
    "ReceivedRequest": "writeback_testing.webhook",
    "Step": "writeback_testing.webhook",
    "WebhookReceiver": "writeback_testing.webhook",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
