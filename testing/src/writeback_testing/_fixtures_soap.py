"""pytest fixtures: the SOAP page web service of Business Central / NAV."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from writeback_testing.soap_page import SoapPageServer


@pytest.fixture
def writeback_soap_page() -> Iterator[SoapPageServer]:
    """A started :class:`~writeback_testing.soap_page.SoapPageServer` without auth.

    Page ``Appointment`` of company ``CRONUS US``; its connector ``uri`` is
    ``writeback_soap_page.page_url``. Faults and statuses on demand with
    ``set_plan([...])``; stopped after the test. For auth (any acceptor),
    a subset of fields or several pages, use ``writeback_soap_page_factory``.
    """
    from writeback_testing.soap_page import SoapPageServer

    with SoapPageServer() as server:
        yield server


@pytest.fixture
def writeback_soap_page_factory() -> Iterator[Callable[..., SoapPageServer]]:
    """Start page servers on demand: ``factory(auth=BasicAcceptor({...}), fields=[...])``.

    Takes the :class:`~writeback_testing.soap_page.SoapPageServer` arguments and
    returns a started server; every server it made is stopped after the test.
    """
    from writeback_testing.soap_page import SoapPageServer

    with contextlib.ExitStack() as stack:

        def make(**kwargs: Any) -> SoapPageServer:
            return stack.enter_context(SoapPageServer(**kwargs))

        yield make
