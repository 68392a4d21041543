"""Which delivery a log line is about, for log lines written while it is attempted.

The worker runs each attempt inside :func:`delivery_logging`; every record
logged meanwhile in that task (the worker's, a plugin's, httpx's) then carries
``delivery_id`` and ``connector`` attributes, which ``--log-format json`` prints
as fields.  A record given them through ``extra=`` keeps its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

__all__ = ["DeliveryContextFilter", "delivery_logging"]

_CURRENT: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "writeback_delivery", default=None
)


@contextlib.contextmanager
def delivery_logging(delivery_id: str, connector: str) -> Iterator[None]:
    """Log records made inside the block (in this task) name this delivery."""
    token = _CURRENT.set((delivery_id, connector))
    try:
        yield
    finally:
        _CURRENT.reset(token)


class DeliveryContextFilter(logging.Filter):
    """Sets ``delivery_id`` and ``connector`` on each record made during an attempt."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = _CURRENT.get()
        if current is not None:
            if getattr(record, "delivery_id", None) is None:
                record.delivery_id = current[0]
            if getattr(record, "connector", None) is None:
                record.connector = current[1]
        return True
