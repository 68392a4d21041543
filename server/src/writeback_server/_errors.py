"""Errors as the API answers them: ``{"error": {"code", "message"[, "problems"]}}``.

Every failure a request can meet becomes one of these, with the status that
says whose fault it is; nothing ever answers with a stack trace.  Messages are
one sentence and never quote a credential.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["ApiError", "ErrorGuard", "error_response", "handle_api_error"]

log = logging.getLogger("writeback.server")


class ApiError(Exception):
    """An answer other than success, raised from a handler."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        problems: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.problems = list(problems) if problems is not None else None
        self.headers = dict(headers or {})


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    problems: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The JSON answer for an error."""
    body: dict[str, Any] = {"code": code, "message": message}
    if problems is not None:
        body["problems"] = list(problems)
    return JSONResponse({"error": body}, status_code=status, headers=dict(headers or {}))


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(
        exc.status, exc.code, exc.message, problems=exc.problems, headers=exc.headers
    )


class ErrorGuard:
    """ASGI middleware: an exception no handler took becomes a 500 in the API's
    shape, logged by its type alone; it never reaches the server's log as a
    traceback (whose text could quote a row or a credential)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            log.error(
                "%s %s failed: %s", scope.get("method"), scope.get("path"), type(exc).__name__
            )
            if started:
                return
            response = error_response(500, "WB-900", "the service failed to answer; see its log.")
            await response(scope, receive, send)
