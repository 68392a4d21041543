"""What every route module uses: the running service, the caller's key, answers."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ._auth import check_scope, key_from_header
from ._errors import ApiError
from ._host import Service
from ._keys import ApiKey

__all__ = ["answer", "query_params", "require", "service_of"]


def service_of(request: Request) -> Service:
    """The service the app was made for (``create_app``)."""
    return request.app.state.service


async def require(request: Request, need: str) -> ApiKey:
    """The caller's key, when its scope allows a call that needs ``need``
    (``ingest``, ``read`` or ``admin``).

    :raises ApiError: 401 no or unknown key, 403 the scope does not allow it.
    """
    key = key_from_header(request.headers.get("authorization"))
    return check_scope(await service_of(request).verify_key(key), need)


def answer(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def query_params(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query's parameters, each at most once and each one of ``allowed``.

    :raises ApiError: 400 for an unknown or repeated parameter.
    """
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise ApiError(
                400,
                "WB-908",
                f"query parameter {name[:60]!r} is not known here; allowed: "
                f"{', '.join(allowed) or 'none'}.",
            )
        if name in found:
            raise ApiError(400, "WB-908", f"query parameter {name!r} is given twice; give it once.")
        found[name] = value
    return found
