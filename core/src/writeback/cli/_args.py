"""Checks shared by command-line arguments that name stored things or a database."""

from __future__ import annotations

import re
from typing import TypeVar

import typer

__all__ = ["NOT_UTF8", "is_utf8", "utf8_text"]

NOT_UTF8 = "is not UTF-8 text; give it in UTF-8."
_SURROGATE = re.compile("[\ud800-\udfff]")
T = TypeVar("T", str, list[str], None)


def is_utf8(text: str) -> bool:
    """False for text that came from bytes that are not UTF-8.

    Python hands such bytes in ``sys.argv`` and ``os.environ`` over as lone
    surrogates, which no database driver can send: a lookup failed with a
    traceback.
    """
    return _SURROGATE.search(text) is None


def utf8_text(value: T) -> T:
    """A typer callback: refuses a name or id that is not UTF-8 text (exit 2)."""
    for item in [value] if isinstance(value, str) else value or []:
        if not is_utf8(item):
            raise typer.BadParameter(NOT_UTF8)
    return value
