"""pytest fixtures for testing writeback against loopback back offices.

Loaded through the ``pytest11`` entry point. Nothing here is autouse, and the
simulators are imported inside the fixtures, so having this package installed
changes nothing for a test that does not ask for a ``writeback_`` fixture.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

# Each family of simulators keeps its fixtures in a module of its own.
pytest_plugins = [
    "writeback_testing._fixtures_tokens",
    "writeback_testing._fixtures_soap",
    "writeback_testing._fixtures_bc",
    "writeback_testing._fixtures_windows",
    "writeback_testing._fixtures_postgres",
    "writeback_testing._fixtures_hostile",
]

if TYPE_CHECKING:
    from pathlib import Path

    from writeback.plugin import PluginRegistry

    from writeback_testing.webhook import WebhookReceiver


@pytest.fixture
def writeback_receiver() -> Iterator[WebhookReceiver]:
    """A started :class:`~writeback_testing.WebhookReceiver` that answers 200 to everything.

    Give it failures with ``writeback_receiver.set_plan([...])``; it is stopped
    after the test. For auth, signing or several receivers, use
    ``writeback_receiver_factory``.
    """
    from writeback_testing.webhook import WebhookReceiver

    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def writeback_receiver_factory() -> Iterator[Callable[..., WebhookReceiver]]:
    """Start receivers on demand: ``factory(plan=..., basic_auth=..., signing_secret=...)``.

    Takes the :class:`~writeback_testing.WebhookReceiver` arguments and returns
    a started receiver; every receiver it made is stopped after the test, even
    when stopping one of them fails.
    """
    from writeback_testing.webhook import WebhookReceiver

    with contextlib.ExitStack() as stack:

        def make(**kwargs: Any) -> WebhookReceiver:
            return stack.enter_context(WebhookReceiver(**kwargs))

        yield make


@pytest.fixture
def writeback_registry() -> Callable[..., PluginRegistry]:
    """``writeback_registry(only=[...], plugins={...})``: a registry of the built-ins and
    the named plugins only, so a plugin's tests do not depend on what else is installed.

    See :func:`writeback_testing.registry.writeback_registry`.
    """
    from writeback_testing.registry import writeback_registry

    return writeback_registry


@pytest.fixture
def writeback_db_url(tmp_path: Path) -> str:
    """A SQLAlchemy URL for a fresh SQLite file in the test's ``tmp_path``.

    A file rather than ``:memory:``, so that a CLI subprocess or a second
    engine sees the same database.
    """
    return f"sqlite:///{(tmp_path / 'writeback.db').as_posix()}"
