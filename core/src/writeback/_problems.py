"""Turn pydantic validation errors into sentences a person can act on.

Every sentence names the field, the value given (never for a secret) and what is
allowed, so that ``writeback connectors validate`` can print one line per
problem with no traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["field_path", "problems_from", "shown"]


def field_path(prefix: str, loc: Iterable[Any]) -> str:
    """``auth.password``, ``crud_types[1]``: the field as a person would write it."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path or "(the whole object)"


def shown(value: Any, limit: int = 60) -> str:
    """A value as quoted in a message, cut short so one bad field cannot flood the screen."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _allowed_fields(model: type[BaseModel] | None) -> str:
    if model is None or not model.model_fields:
        return "none"
    return ", ".join(model.model_fields)


def problems_from(
    exc: ValidationError,
    *,
    prefix: str = "",
    model: type[BaseModel] | None = None,
    secret_fields: Sequence[str] = (),
) -> list[str]:
    """One sentence per error in ``exc``; values of ``secret_fields`` are never quoted."""
    sentences = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if p not in ("function-after", "function-before")]
        path = field_path(prefix, loc)
        kind = err["type"]
        secret = any(str(p) in secret_fields for p in loc)
        value = "a secret value" if secret else shown(err.get("input"))
        if kind == "missing":
            sentences.append(f"{path} is required.")
        elif kind == "extra_forbidden":
            sentences.append(
                f"{path} is not a known field; allowed fields: {_allowed_fields(model)}."
            )
        elif kind == "value_error":
            msg = str(err.get("ctx", {}).get("error", err["msg"]))
            sentences.append(f"{path}: {msg}")
        else:
            msg = err["msg"]
            msg = msg[0].lower() + msg[1:] if msg else msg
            sentences.append(f"{path} is {value}: {msg}.")
    return sentences
