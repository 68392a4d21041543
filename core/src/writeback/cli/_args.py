"""Checks shared by command-line arguments that name stored things."""

from __future__ import annotations

import re
from typing import TypeVar

import typer

__all__ = ["utf8_text"]

_SURROGATE = re.compile("[\ud800-\udfff]")
T = TypeVar("T", str, list[str], None)


def utf8_text(value: T) -> T:
    """A typer callback: refuses a name or id that is not UTF-8 text.

    Bytes that are not UTF-8 reach Python's ``sys.argv`` as lone surrogates,
    which no database driver can send: the lookup failed with a traceback.
    """
    for item in [value] if isinstance(value, str) else value or []:
        if _SURROGATE.search(item):
            raise typer.BadParameter("is not UTF-8 text; give the name or id as it was printed.")
    return value
