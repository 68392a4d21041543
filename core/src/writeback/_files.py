"""Reading connector rows and events from files (JSON, YAML, JSON Lines) or stdin.

What is read is bounded (see :mod:`writeback._limits`): at most
``MAX_ROWS_BYTES`` of connector rows and ``MAX_EVENTS_BYTES`` of events, UTF-8
only, integers short enough to read, nesting that a parser can follow, and YAML
aliases that do not expand past ``MAX_YAML_VALUES`` values.  Each refusal is
one sentence (``WB-109``), never a traceback.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from ._errors import InputFileError
from ._limits import MAX_EVENTS_BYTES, MAX_ROWS_BYTES, depth_sentence, int_sentence

__all__ = ["read_events", "read_rows"]

#: Longer integers are refused while parsing, before Python is asked to read them
#: (it refuses more than 4300 digits with a traceback); shorter ones beyond 64
#: bits are refused by validation, which names the field.
_MAX_INT_TEXT = 100
#: What ends a line of JSON Lines.  Not str.splitlines(), which also breaks at
#: U+2028, U+2029 and NEL: JSON allows them raw inside a string, and an event
#: holding one was refused as two lines of broken JSON.
_LINE_END = re.compile(r"\r\n?|\n")


class _Refused(Exception):
    """Raised inside a parser's hook; its text becomes the WB-109 sentence."""


def _label(source: str) -> str:
    return "stdin" if source == "-" else source


def _read_text(source: str, limit: int) -> str:
    """The text of ``source`` (``-``: stdin), refused past ``limit`` bytes or when
    it is not UTF-8.  At most ``limit + 1`` bytes are read: ``/dev/zero`` ends there."""
    label = _label(source)
    try:
        if source == "-":
            if sys.stdin is None:
                raise InputFileError("stdin: is closed; give the input on stdin or as a file.")
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with Path(source).open("rb") as handle:
                data = handle.read(limit + 1)
    except FileNotFoundError:
        raise InputFileError(f"{label}: no such file.") from None
    except IsADirectoryError:
        raise InputFileError(f"{label}: is a folder, not a file.") from None
    except OSError as exc:
        raise InputFileError(f"{label}: cannot be read ({exc.strerror or exc}).") from None
    if len(data) > limit:
        raise InputFileError(
            f"{label}: is larger than {limit // (1024 * 1024)} MiB, the most read at once; "
            "split it into smaller files."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputFileError(
            f"{label}: is not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); "
            "save it as UTF-8."
        ) from None


def _int_text(text: str) -> int:
    if len(text) > _MAX_INT_TEXT:
        digits = sum(c.isdigit() for c in text)
        raise _Refused(int_sentence(f"holds an integer of {digits} digits"))
    return int(text)


def _json(text: str, label: str) -> Any:
    """``json.loads`` that refuses, in one sentence, what it cannot follow.

    :raises json.JSONDecodeError: for text that is not JSON.
    """
    try:
        return json.loads(text, parse_int=_int_text)
    except _Refused as exc:
        raise InputFileError(f"{label}: {exc}") from None
    except RecursionError:
        raise InputFileError(f"{label}: {depth_sentence('its content')}") from None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def read_rows(source: str) -> list[Any]:
    """Connector rows from a JSON or YAML file holding one object or a list."""
    label = _label(source)
    text = _read_text(source, MAX_ROWS_BYTES)
    if not text.strip():
        raise InputFileError(f"{label}: is empty; give a connector object or a list of them.")
    try:
        loaded = _json(text, label)
    except json.JSONDecodeError as json_error:
        from ._yaml import load_yaml

        loaded = load_yaml(
            text, label, f"is neither JSON ({json_error.msg} at line {json_error.lineno}) nor YAML"
        )
    if not isinstance(loaded, dict | list):
        raise InputFileError(
            f"{label}: holds no connector object; give an object or a list of them."
        )
    return _as_list(loaded)


def read_events(source: str) -> list[Any]:
    """Events from a file or stdin (``-``): one JSON object, a list, or JSON Lines."""
    label = _label(source)
    text = _read_text(source, MAX_EVENTS_BYTES)
    if not text.strip():
        raise InputFileError(f"{label}: is empty; give an event object, a list, or JSON Lines.")
    try:
        events = _as_list(_json(text, label))
    except json.JSONDecodeError as whole_error:
        events = []
        for number, line in enumerate(_LINE_END.split(text), start=1):
            if not line.strip():
                continue
            try:
                events.append(_json(line, f"{label}: line {number}"))
            except json.JSONDecodeError as line_error:
                # On line 1 the whole-text error is the more telling one.
                reason = (whole_error if number == 1 else line_error).msg
                raise InputFileError(
                    f"{label}: line {number} is not valid JSON ({reason}); give one JSON "
                    "object, a list, or one object per line."
                ) from None
    if not events:
        raise InputFileError(f"{label}: holds no events; give an event object or a list of them.")
    return events
