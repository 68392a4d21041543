"""``/healthz``, ``/readyz``, ``/metrics`` and ``/openapi.json``: no key needed."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._errors import error_response
from ._metrics import exposition
from ._openapi import openapi_document
from ._routing import answer, service_of

__all__ = ["routes"]


async def healthz(request: Request) -> Response:
    """200 while the process runs."""
    return answer({"status": "ok"})


async def readyz(request: Request) -> Response:
    """200 when the store answers and its schema is current, else 503 with the reason."""
    reason = await service_of(request).readiness()
    if reason is not None:
        return error_response(503, "WB-909", reason)
    return answer({"status": "ready"})


async def metrics(request: Request) -> Response:
    """The Prometheus text: this process's counters and the store's gauges."""
    registry = service_of(request).metrics_registry
    # Reading the gauges queries the store: in a thread, as every store call.
    body = await run_in_threadpool(exposition, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    """The OpenAPI 3 document of the API."""
    return answer(openapi_document())


def routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
