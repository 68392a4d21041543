"""Reading a request's JSON body: bounded, typed, UTF-8, one sentence per refusal."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from ._errors import ApiError

__all__ = ["DEFAULT_MAX_BODY", "read_events_body", "read_json_body"]

#: ``--max-body``'s default: 1 MiB.
DEFAULT_MAX_BODY = 1024 * 1024
#: Media types of a body holding JSON (``+json`` types count too).
JSON_TYPES = frozenset({"application/json"})
#: Media types of a body holding JSON Lines, one event per line.
LINES_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/jsonlines"})
#: Integers longer than this are refused while parsing (Python refuses >4300 digits
#: with a traceback; validation names the field of a shorter one beyond 64 bits).
_MAX_INT_TEXT = 100
_LINE_END = re.compile(r"\r\n?|\n")


class _Refused(Exception):
    pass


def media_type(request: Request) -> str:
    """The request's media type, lowercase, without parameters ('' when none)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _check_type(request: Request, allowed: frozenset[str]) -> str:
    kind = media_type(request)
    if kind in allowed or (kind.startswith("application/") and kind.endswith("+json")):
        return kind
    shown = kind or "none"
    raise ApiError(
        415,
        "WB-904",
        f"content-type {shown[:80]!r} is not accepted here; send {', '.join(sorted(allowed))}.",
    )


async def _read_bounded(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "WB-905",
        f"the body is larger than {limit} bytes, the most this service reads at once "
        "(--max-body); send fewer events per request.",
    )


def _int_text(text: str) -> int:
    if len(text) > _MAX_INT_TEXT:
        raise _Refused(f"holds an integer of {len(text)} characters; numbers are at most 100")
    return int(text)


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text, parse_int=_int_text)
    except _Refused as exc:
        raise ApiError(400, "WB-903", f"{where} {exc}.") from None
    except RecursionError:
        raise ApiError(400, "WB-903", f"{where} nests too deeply to read; flatten it.") from None


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400,
            "WB-903",
            f"the body is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "send it as UTF-8.",
        ) from None


async def read_json_body(request: Request, limit: int) -> Any:
    """The body as one JSON value.

    :raises ApiError: 415 not JSON's media type, 413 over ``limit``, 400 not JSON.
    """
    _check_type(request, JSON_TYPES)
    text = _text(await _read_bounded(request, limit))
    if not text.strip():
        raise ApiError(400, "WB-903", "the body is empty; send a JSON object.")
    try:
        return _loads(text, "the body")
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            "WB-903",
            f"the body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}).",
        ) from None


async def read_events_body(request: Request, limit: int) -> list[Any]:
    """Events as ``writeback dispatch`` reads them: one JSON object, a list, or
    (as ``application/x-ndjson``, or a JSON body that is not one value) JSON Lines.

    :raises ApiError: 415, 413 or 400 as :func:`read_json_body`; 422 when it holds
        no event.
    """
    kind = _check_type(request, JSON_TYPES | LINES_TYPES)
    text = _text(await _read_bounded(request, limit))
    if not text.strip():
        raise ApiError(
            422,
            "WB-102",
            "the body is empty; send an event object, a list of them, or JSON Lines.",
            problems=["the body holds no event."],
        )
    try:
        if kind in LINES_TYPES:
            raise json.JSONDecodeError("JSON Lines", text, 0)
        loaded = _loads(text, "the body")
        events = loaded if isinstance(loaded, list) else [loaded]
    except json.JSONDecodeError as whole:
        events = []
        for number, line in enumerate(_LINE_END.split(text), start=1):
            if not line.strip():
                continue
            try:
                events.append(_loads(line, f"line {number}"))
            except json.JSONDecodeError as exc:
                reason = (whole if number == 1 and kind not in LINES_TYPES else exc).msg
                raise ApiError(
                    400,
                    "WB-903",
                    f"line {number} of the body is not valid JSON ({reason}); send one JSON "
                    "object, a list, or one object per line.",
                ) from None
    if not events:
        raise ApiError(
            422,
            "WB-102",
            "the body holds no events; send an event object or a list of them.",
            problems=["the body holds no event."],
        )
    return events
