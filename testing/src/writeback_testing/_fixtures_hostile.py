"""pytest fixtures: endpoints that redirect, trickle or flood on purpose."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from writeback_testing.hostile import Behaviour, HostileServer


@pytest.fixture
def writeback_hostile_factory(
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., HostileServer]]:
    """Start misbehaving servers on demand: ``factory({"POST": Trickle(b"...")}, tls=False)``.

    Takes a :data:`~writeback_testing.hostile.Behaviour` per HTTP method (``"*"``
    for any other) and returns a started
    :class:`~writeback_testing.hostile.HostileServer`; with ``tls=True`` it
    serves HTTPS with a certificate of ``writeback_test_ca`` (trust it with
    ``writeback_test_ca_bundle``).  Every server is stopped after the test.
    """
    from writeback_testing.hostile import HostileServer, HostileTLSServer

    with contextlib.ExitStack() as stack:

        def make(
            behaviours: Mapping[str, Behaviour | Sequence[Behaviour]], *, tls: bool = False
        ) -> HostileServer:
            if not tls:
                return stack.enter_context(HostileServer(behaviours))
            ca = request.getfixturevalue("writeback_test_ca")
            return stack.enter_context(HostileTLSServer(behaviours, tls=ca.server_context()))

        yield make
