"""pytest fixtures: the Business Central API page simulator (``writeback_testing.bc_api``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from writeback_testing.bc_api import BcApiServer


@pytest.fixture
def writeback_bc_api() -> Iterator[BcApiServer]:
    """A started :class:`~writeback_testing.bc_api.BcApiServer` with no auth.

    Its ``endpoint`` is the staging entity set's URL (a ``bc`` row's ``uri``);
    give it failures with ``set_plan([BcStep(429, retry_after=1)])``. Stopped
    after the test.
    """
    from writeback_testing.bc_api import BcApiServer

    with BcApiServer() as server:
        yield server


@pytest.fixture
def writeback_bc_api_factory() -> Iterator[Callable[..., BcApiServer]]:
    """Start BC API pages on demand: ``factory(auth=BasicAcceptor({...}), plan=[...], ...)``.

    Takes the :class:`~writeback_testing.bc_api.BcApiServer` arguments; every
    server it started is stopped after the test.
    """
    from writeback_testing.bc_api import BcApiServer

    with contextlib.ExitStack() as stack:

        def make(**kwargs: Any) -> BcApiServer:
            return stack.enter_context(BcApiServer(**kwargs))

        yield make
