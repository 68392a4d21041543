"""``/v1/connectors``: read, put, remove, test, pause and resume connector rows."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._body import read_json_body
from ._errors import ApiError
from ._routing import answer, query_params, require, service_of

__all__ = ["routes"]


async def list_connectors(request: Request) -> Response:
    """Every row, as ``connectors list --json`` (secrets ``***``)."""
    await require(request, "read")
    query_params(request, ())
    service = service_of(request)
    views = await service.call(service.dispatcher.connectors.list)
    return answer([v.to_dict() for v in views])


async def get_connector(request: Request) -> Response:
    """One row, as ``connectors show --json``."""
    await require(request, "read")
    query_params(request, ())
    service = service_of(request)
    view = await service.call(service.dispatcher.connectors.get, request.path_params["name"])
    return answer(view.to_dict())


async def put_connector(request: Request) -> Response:
    """Validate the row and store it under the name (as ``connectors add --replace``)."""
    await require(request, "admin")
    query_params(request, ())
    service = service_of(request)
    row = await read_json_body(request, service.max_body)
    if not isinstance(row, dict):
        raise ApiError(
            422,
            "WB-101",
            "the body is not a connector row; send one JSON object.",
            problems=["the body is not a connector row; send one JSON object."],
        )
    view = await service.call(service.dispatcher.connectors.put, request.path_params["name"], row)
    return answer(view.to_dict())


async def delete_connector(request: Request) -> Response:
    """Remove the row; its pending deliveries go dead (kept in the log)."""
    await require(request, "admin")
    query_params(request, ())
    service = service_of(request)
    name = request.path_params["name"]
    given_up = await service.call(service.dispatcher.connectors.remove, name)
    return answer({"removed": name, "deliveries_given_up": given_up})


async def test_connector(request: Request) -> Response:
    """Reach the endpoint and authenticate, writing nothing: ``{"ok", "message"}``."""
    await require(request, "admin")
    query_params(request, ())
    service = service_of(request)
    report = await service.call(service.dispatcher.connectors.test, request.path_params["name"])
    return answer({"ok": bool(report.ok), "message": report.detail})


async def pause_connector(request: Request) -> Response:
    """Send nothing more to it; its deliveries wait, new events still queue.
    An optional ``?reason=`` is kept with it."""
    await require(request, "admin")
    params = query_params(request, ("reason",))
    reason = params.get("reason") or None
    if reason is not None and len(reason) > 500:
        raise ApiError(400, "WB-908", "reason is longer than 500 characters; shorten it.")
    service = service_of(request)
    view = await service.call(
        service.dispatcher.connectors.pause, request.path_params["name"], reason
    )
    return answer(view.to_dict())


async def resume_connector(request: Request) -> Response:
    """Send its deliveries again, in order."""
    await require(request, "admin")
    query_params(request, ())
    service = service_of(request)
    view = await service.call(service.dispatcher.connectors.resume, request.path_params["name"])
    return answer(view.to_dict())


def routes() -> list[BaseRoute]:
    return [
        Route("/v1/connectors", list_connectors, methods=["GET"]),
        Route("/v1/connectors/{name}", get_connector, methods=["GET"]),
        Route("/v1/connectors/{name}", put_connector, methods=["PUT"]),
        Route("/v1/connectors/{name}", delete_connector, methods=["DELETE"]),
        Route("/v1/connectors/{name}/test", test_connector, methods=["POST"]),
        Route("/v1/connectors/{name}/pause", pause_connector, methods=["POST"]),
        Route("/v1/connectors/{name}/resume", resume_connector, methods=["POST"]),
    ]
