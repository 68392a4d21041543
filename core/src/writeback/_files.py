"""Reading connector rows and events from files (JSON, YAML, JSON Lines) or stdin."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ._errors import InputFileError

__all__ = ["read_events", "read_rows"]


def _read_text(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(f"{source}: no such file.") from None
    except IsADirectoryError:
        raise InputFileError(f"{source}: is a folder, not a file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{source}: cannot be read ({exc}).") from None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def read_rows(source: str) -> list[Any]:
    """Connector rows from a JSON or YAML file holding one object or a list."""
    text = _read_text(source)
    if not text.strip():
        raise InputFileError(f"{source}: is empty; give a connector object or a list of them.")
    try:
        loaded = json.loads(text)
    except ValueError as json_error:
        import yaml

        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise InputFileError(
                f"{source}: is neither JSON ({json_error.msg} at line {json_error.lineno}) "
                f"nor YAML{where}."
            ) from None
    if not isinstance(loaded, dict | list):
        raise InputFileError(
            f"{source}: holds no connector object; give an object or a list of them."
        )
    return _as_list(loaded)


def read_events(source: str) -> list[Any]:
    """Events from a file or stdin (``-``): one JSON object, a list, or JSON Lines."""
    text = _read_text(source)
    if not text.strip():
        raise InputFileError(f"{source}: is empty; give an event object, a list, or JSON Lines.")
    try:
        events = _as_list(json.loads(text))
    except json.JSONDecodeError as whole_error:
        events = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError as line_error:
                # On line 1 the whole-text error is the more telling one.
                reason = (whole_error if number == 1 else line_error).msg
                raise InputFileError(
                    f"{source}: line {number} is not valid JSON ({reason}); give one JSON "
                    "object, a list, or one object per line."
                ) from None
    if not events:
        raise InputFileError(f"{source}: holds no events; give an event object or a list of them.")
    return events
