"""Shared fixtures for the writeback-testing tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A keep-alive client for loopback ``http://``.

    ``verify=False`` only because loading the CA bundle costs ~35 ms a client and
    these servers never speak TLS.
    """
    with httpx.Client(timeout=5, verify=False) as c:
        yield c
