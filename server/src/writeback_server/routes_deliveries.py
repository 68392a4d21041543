"""``/v1/deliveries``: pages of the log, one delivery, replay; ``/v1/stats``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._errors import ApiError
from ._routing import answer, query_params, require, service_of

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "routes"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ApiError(
            400,
            "WB-908",
            f"limit {text[:40]!r} is not allowed; give a whole number from 1 to {MAX_LIMIT}.",
        )
    return int(text)


async def list_deliveries(request: Request) -> Response:
    """``?status=&connector=&limit=&after=``: ``{"items": [...], "next": CURSOR|null}``."""
    await require(request, "read")
    params = query_params(request, ("status", "connector", "limit", "after"))
    service = service_of(request)
    page = await service.call(
        service.dispatcher.deliveries.list,
        status=params.get("status") or None,
        connector=params.get("connector") or None,
        limit=_limit(params.get("limit")),
        after=params.get("after") or None,
    )
    return answer(page.to_dict())


async def get_delivery(request: Request) -> Response:
    """One delivery with every attempt, as ``deliveries show --json``."""
    await require(request, "read")
    query_params(request, ())
    service = service_of(request)
    view = await service.call(service.dispatcher.deliveries.get, request.path_params["id"])
    return answer(view.to_dict())


async def retry_delivery(request: Request) -> Response:
    """Re-queue the delivery (same id, history continuing); answers it."""
    await require(request, "admin")
    query_params(request, ())
    service = service_of(request)
    delivery_id = request.path_params["id"]
    await service.call(service.dispatcher.deliveries.retry, [delivery_id])
    view = await service.call(service.dispatcher.deliveries.get, delivery_id)
    return answer(view.to_dict())


async def stats(request: Request) -> Response:
    """As ``deliveries stats --json``."""
    await require(request, "read")
    query_params(request, ())
    service = service_of(request)
    view = await service.call(service.dispatcher.deliveries.stats)
    return answer(view.to_dict())


def routes() -> list[BaseRoute]:
    return [
        Route("/v1/deliveries", list_deliveries, methods=["GET"]),
        Route("/v1/deliveries/{id}", get_delivery, methods=["GET"]),
        Route("/v1/deliveries/{id}/retry", retry_delivery, methods=["POST"]),
        Route("/v1/stats", stats, methods=["GET"]),
    ]
