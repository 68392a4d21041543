"""Bounds on what writeback reads and accepts, so that every value it takes in
can be stored and sent, and no input can make it hang, swell or crash.

The figures are documented in docs/connectors.md ("Limits on input") and
docs/cli.md; change them together.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel

from ._problems import field_path, shown
from ._schedule import MAX_RETRY_AFTER

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "MAX_DEPTH",
    "MAX_EVENTS_BYTES",
    "MAX_ROWS_BYTES",
    "MAX_SCHEDULE_WAIT",
    "MAX_YAML_VALUES",
    "depth_sentence",
    "int_sentence",
    "unsendable",
]

#: The most ``dispatch`` reads from a file or stdin.
MAX_EVENTS_BYTES = 32 * 1024 * 1024
#: The most ``connectors add``/``validate`` read: a thousand rows of a few hundred bytes fit.
MAX_ROWS_BYTES = 1024 * 1024
#: Objects and lists nested deeper than this are refused (an event is four levels deep).
MAX_DEPTH = 64
#: Values (scalars, lists, objects) a connector file may hold once YAML aliases are expanded.
MAX_YAML_VALUES = 100_000
#: Integers are signed 64-bit: the largest a back office's number field holds.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
#: The longest retry wait, the same day that caps an endpoint's ``Retry-After``.
MAX_SCHEDULE_WAIT = MAX_RETRY_AFTER

_SURROGATE = re.compile("[\ud800-\udfff]")


def depth_sentence(where: str) -> str:
    """The refusal of a value nested past :data:`MAX_DEPTH`, ``where`` naming it."""
    return f"{where} is nested more than {MAX_DEPTH} levels deep; flatten it."


def int_sentence(where: str) -> str:
    """The refusal of an integer beyond 64 bits, ``where`` naming it and its value."""
    return f"{where}: integers must fit in 64 bits ({INT_MIN} to {INT_MAX})."


def _where(prefix: str, loc: tuple[Any, ...]) -> str:
    # A path 64 levels long would drown the sentence; its start says where to look.
    if len(loc) > 4:
        return field_path(prefix, loc[:4]) + "…"
    return field_path(prefix, loc)


#: What a parsed value may hold besides lists and objects: JSON's scalars, and the
#: dates and date-times a Python caller hands over for ``start`` or ``occurred_at``.
_SCALARS = (str, int, float, bool, type(None), date)
#: Keys ``json.dumps`` can write.
_KEYS = (str, int, float, bool, type(None))


def _scalar_problem(value: Any, where: str) -> str | None:
    if not isinstance(value, _SCALARS):
        return (
            f"{where} is {shown(value)} (Python {type(value).__name__}), which JSON cannot "
            "hold; give text, a number, true or false, null, a list or an object."
        )
    if isinstance(value, str):
        found = _SURROGATE.search(value)
        if found is not None:
            return (
                f"{where} holds a lone surrogate ({found.group()!r}), which is not Unicode "
                "text; give valid UTF-8 text."
            )
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            return int_sentence(f"{where} is {shown(value)}")
    elif isinstance(value, float) and not math.isfinite(value):
        return (
            f"{where} is {shown(value)}: give a finite number; NaN and infinity cannot be "
            "stored or sent as JSON."
        )
    return None


def unsendable(value: Any, prefix: str = "") -> str | None:
    """The first part of ``value`` (parsed JSON or YAML) that could not be stored and
    sent as JSON, as one sentence naming where it is; ``None`` when there is none.

    Refused: lone surrogates in strings and keys, NaN and infinity, integers
    beyond 64 bits, nesting deeper than :data:`MAX_DEPTH`, and values JSON has
    no form for (a set, bytes, any other object; dates are allowed).  Walked without
    recursion, so a value nested arbitrarily deep costs one pass to its limit.
    """
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        node, loc = stack.pop()
        if isinstance(node, BaseModel):
            # A Python caller may hand over a part already parsed (``Throttle(...)``).
            node = node.model_dump(mode="python")
        if isinstance(node, Mapping | list | tuple):
            if len(loc) >= MAX_DEPTH:
                return depth_sentence(_where(prefix, loc))
            if isinstance(node, Mapping):
                children = []
                for key, child in node.items():
                    if not isinstance(key, _KEYS):
                        return (
                            f"{_where(prefix, loc)} has the key {shown(key)} (Python "
                            f"{type(key).__name__}), which JSON cannot hold; give keys as text."
                        )
                    if isinstance(key, str) and _SURROGATE.search(key):
                        return (
                            f"{_where(prefix, loc)} has a key holding a lone surrogate, which "
                            "is not Unicode text; give valid UTF-8 text."
                        )
                    children.append((child, (*loc, key)))
            else:
                children = [(child, (*loc, i)) for i, child in enumerate(node)]
            stack.extend(reversed(children))
            continue
        problem = _scalar_problem(node, _where(prefix, loc))
        if problem is not None:
            return problem
    return None
