"""The store a command or the service works on, opened through the host API."""

from __future__ import annotations

from typing import Any

import typer
from writeback import Dispatcher


def open_dispatcher(ctx: typer.Context) -> Dispatcher:
    """The dispatcher the core's global options chose (``--db`` / ``WRITEBACK_DB``).

    The core's command line hands plugin commands its state as ``ctx.obj``
    (``dispatcher()`` opens the store once and closes it on exit); run on its own
    (a test invoking the command directly), the default store is opened.
    """
    state: Any = ctx.find_root().obj
    if state is not None and hasattr(state, "dispatcher"):
        return state.dispatcher()
    return Dispatcher.open(None)


def db_url(ctx: typer.Context) -> str | None:
    """The ``--db`` URL given to the command line, or None for the default."""
    state: Any = ctx.find_root().obj
    return getattr(state, "db", None)
