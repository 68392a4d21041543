"""The ASGI application: ``create_app(...)`` mounts the routes of each route module.

A route module has ``routes() -> list[BaseRoute]``.  The API's modules are
listed in :data:`ROUTE_MODULES`; another part of the service (the dashboard,
``writeback_server.ui``) adds its own module by being importable: when it is,
its routes are mounted too, and more modules can be passed as ``extra_modules``.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Sequence
from types import ModuleType

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ._body import DEFAULT_MAX_BODY
from ._errors import ApiError, ErrorGuard, error_response, handle_api_error
from ._host import Service, WorkerOptions

__all__ = ["ROUTE_MODULES", "create_app"]

#: The modules whose routes make the API, in the order they are matched.
ROUTE_MODULES = (
    "writeback_server.routes_ops",
    "writeback_server.routes_events",
    "writeback_server.routes_deliveries",
    "writeback_server.routes_connectors",
)
#: Mounted when importable: the dashboard's module.
OPTIONAL_MODULES = ("writeback_server.ui",)

_HTTP_CODES = {404: "WB-906", 405: "WB-907"}


def create_app(
    db_url: str | None = None,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    worker: WorkerOptions | None = None,
    extra_modules: Sequence[str | ModuleType] = (),
) -> Starlette:
    """The service over the store at ``db_url`` (else ``WRITEBACK_DB``, else the default).

    The store is opened when the app starts (its lifespan) and closed when it
    stops, after the worker (``worker``: run one on the app's loop) has stopped
    gracefully.

    :param max_body: the largest request body read, in bytes (larger: 413).
    :param extra_modules: more route modules (names or modules with ``routes()``).
    """
    service = Service(db_url, max_body, worker)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with service.running():
            yield

    routes: list[BaseRoute] = []
    for module in [*ROUTE_MODULES, *_optional_modules(), *extra_modules]:
        loaded = importlib.import_module(module) if isinstance(module, str) else module
        routes.extend(loaded.routes())
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(ErrorGuard)],
        exception_handlers={ApiError: handle_api_error, HTTPException: _handle_http},
    )
    app.state.service = service
    return app


def _optional_modules() -> list[str]:
    found = []
    for name in OPTIONAL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        found.append(name)
    return found


async def _handle_http(request: Request, exc: Exception) -> Response:
    """Starlette's own answers (no such path, wrong method) in the API's shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no such path: {request.url.path[:200]!r}; /openapi.json lists the API."
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path[:200]!r}."
    else:
        message = str(exc.detail)[:200]
    return error_response(
        exc.status_code,
        _HTTP_CODES.get(exc.status_code, "WB-908"),
        message,
        headers=exc.headers,
    )
