"""Where the command line's log lines go and how they look: ``--log-format``.

Both formats pass every record through the same filters first: known secrets
removed (:class:`RedactingFilter`, the message and any traceback), URIs masked,
and the delivery an attempt is about added (:class:`DeliveryContextFilter`).

- ``text`` (the default): ``TIME LEVEL LOGGER: MESSAGE``, control characters
  shown escaped (a back office's answer reaches a terminal).
- ``json``: one JSON object per line, for a log collector: ``time`` (ISO-8601
  UTC), ``level``, ``logger``, ``message``, then ``delivery_id`` and
  ``connector`` when the line is about a delivery, and ``exception`` (the
  traceback, redacted) when one was logged.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from ._output import SafeFormatter

__all__ = ["LOG_FORMATS", "JsonFormatter", "configure_logging"]

LOG_FORMATS = ("text", "json")
#: Fields a record may carry (``extra=`` or the delivery context) that JSON lines print.
_CONTEXT_FIELDS = ("delivery_id", "connector", "event_id")
#: Characters JSON lets through raw that a terminal acts on (as ``print_json``).
_JSON_CONTROL = re.compile("[\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class JsonFormatter(logging.Formatter):
    """One JSON object per record (the fields are in the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, tz=UTC)
        line: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        text = json.dumps(line, ensure_ascii=False)
        return _JSON_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def configure_logging(verbose: int, log_format: str = "text") -> None:
    """Send log records to stderr in ``log_format``, at the level ``-v`` chose."""
    from .._log_context import DeliveryContextFilter
    from .._secrets import RedactingFilter
    from .._uri import UriMaskingFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.addFilter(UriMaskingFilter())
    handler.addFilter(DeliveryContextFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    root.setLevel(level)
    # httpx logs every request at INFO, URL included; keep it for -vv only.
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)
