"""What a test does when a service it needs (PostgreSQL, a KDC, a plugin) is missing.

Locally a missing service skips the test with the reason, so a contributor
without PostgreSQL can still run the rest. Under CI (the ``CI`` variable set)
the same absence fails the test: CI installs every service, and a silent skip
there would hide exactly the breakage it exists to catch.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["service_unavailable"]


def service_unavailable(reason: str) -> NoReturn:
    """Skip with ``reason``; fail instead when ``CI`` is set."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)
