"""Turn pydantic validation errors into sentences a person can act on.

Every sentence names the field, the value given (never for a secret) and what is
allowed, so that ``writeback connectors validate`` can print one line per
problem with no traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from ._uri import mask_uri

__all__ = ["MAX_PROBLEMS", "field_path", "problems_from", "shown"]

#: Sentences reported for one row or event; the rest are counted, not listed.
MAX_PROBLEMS = 20
#: Integers longer than this are described, not written out (Python refuses to
#: write one of more than 4300 digits at all).
_INT_BITS_SHOWN = 200


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
    """A value as quoted in a message, cut short so one bad field cannot flood the screen.

    Only the start of the value is ever written out: a list a YAML alias expands
    to a billion items costs no more than a short one.  A URI is masked.
    """
    parts: list[str] = []
    _repr_into(value, parts, limit + 1)
    text = "".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _repr_into(value: Any, parts: list[str], budget: int) -> int:
    """Append the start of ``repr(value)`` to ``parts``, about ``budget`` characters;
    return what is left of the budget."""
    if budget <= 0:
        return budget
    if isinstance(value, str):
        text = repr(mask_uri(value)[:budget] if "://" in value[:20] else value[:budget])
    elif isinstance(value, int) and not isinstance(value, bool):
        bits = value.bit_length()
        text = (
            repr(value) if bits <= _INT_BITS_SHOWN else f"<an integer of {_digits(value)} digits>"
        )
    elif isinstance(value, Mapping | list | tuple | set | frozenset):
        opening, closing = _BRACKETS.get(type(value), ("{", "}"))
        parts.append(opening)
        budget -= 1
        items = value.items() if isinstance(value, Mapping) else value
        for n, item in enumerate(items):
            if budget <= 0:
                return budget
            if n:
                parts.append(", ")
                budget -= 2
            if isinstance(value, Mapping):
                budget = _repr_into(item[0], parts, budget)
                parts.append(": ")
                budget = _repr_into(item[1], parts, budget - 2)
            else:
                budget = _repr_into(item, parts, budget)
        parts.append(closing)
        return budget - 1
    else:
        try:
            text = repr(value)[:budget]
        except Exception:  # a third-party object's __repr__ is no reason to fail a message
            text = f"<{type(value).__name__}>"
    parts.append(text[:budget])
    return budget - len(text)


_BRACKETS = {list: ("[", "]"), tuple: ("(", ")")}


def _digits(value: int) -> int:
    """How many decimal digits ``value`` has, without writing it out."""
    digits = max(1, int(abs(value).bit_length() * 0.30102999566398120))
    return digits + 1 if abs(value) >= 10**digits else digits


def _allowed_fields(model: type[BaseModel] | None) -> str:
    if model is None or not model.model_fields:
        return "none"
    return ", ".join(model.model_fields)


def _did_you_mean(loc: Sequence[Any], model: type[BaseModel] | None) -> str:
    """`` did you mean 'source_app'?`` for a misspelt key, else nothing."""
    if model is None or not loc or not isinstance(loc[-1], str):
        return ""
    import difflib

    close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.75)
    return f" did you mean {close[0]!r}?" if close else ""


def problems_from(
    exc: ValidationError,
    *,
    prefix: str = "",
    model: type[BaseModel] | None = None,
    secret_fields: Sequence[str] = (),
) -> list[str]:
    """One sentence per error in ``exc``; values of ``secret_fields`` are never quoted."""
    sentences: list[str] = []
    errors = exc.errors(include_url=False)
    for err in errors[:MAX_PROBLEMS]:
        loc = [p for p in err["loc"] if p not in ("function-after", "function-before")]
        path = field_path(prefix, loc)
        kind = err["type"]
        secret = any(str(p) in secret_fields for p in loc)
        value = "a secret value" if secret else shown(err.get("input"))
        if kind == "missing":
            sentences.append(f"{path} is required.")
        elif kind == "extra_forbidden":
            sentences.append(
                f"{path} is not a known field;{_did_you_mean(loc, model)} "
                f"allowed fields: {_allowed_fields(model)}."
            )
        elif kind in ("too_short", "too_long") and isinstance(err.get("input"), str):
            # pydantic counts a SecretStr's length in "items"; a person counts characters.
            sentences.append(_length_sentence(path, kind, err.get("ctx", {}), secret))
        elif kind == "value_error":
            msg = str(err.get("ctx", {}).get("error", err["msg"]))
            # A check of the whole object writes its own sentence, naming the field.
            sentences.append(msg if not loc and not prefix else f"{path}: {msg}")
        else:
            msg = err["msg"]
            msg = msg[0].lower() + msg[1:] if msg else msg
            sentences.append(f"{path} is {value}: {msg}.")
    if len(errors) > MAX_PROBLEMS:
        sentences.append(f"… and {len(errors) - MAX_PROBLEMS} more problem(s) like these.")
    return sentences


def _length_sentence(path: str, kind: str, ctx: Mapping[str, Any], secret: bool) -> str:
    """A text too short or too long, in characters; a secret's own length is not told."""
    actual = ctx.get("actual_length")
    if kind == "too_short":
        limit = ctx.get("min_length", 1)
        if limit == 1:
            return f"{path} must not be empty."
        bound = f"at least {limit}"
    else:
        bound = f"at most {ctx.get('max_length')}"
    given = "" if secret or actual is None else f", not {actual}"
    return f"{path} must have {bound} characters{given}."
