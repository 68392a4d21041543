"""The dashboard at ``/ui/``: server-rendered pages over the service's store.

Mounted by :func:`writeback_server.create_app` because this module exists
(``routes()``).  Sign in with an API key (``read`` to look, ``admin`` to act);
the session is a signed cookie (:mod:`._session`), every form that changes
something carries a CSRF token, and no page uses JavaScript.  docs/service.md,
"Dashboard", describes the pages.
"""

from __future__ import annotations

from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from . import actions, pages
from ._render import HEADERS, HERE

__all__ = ["routes"]


async def _to_overview(request: object) -> Response:
    return RedirectResponse("/ui/", status_code=307)


async def _style(request: object) -> Response:
    headers = {**HEADERS, "Cache-Control": "max-age=3600"}
    return FileResponse(HERE / "static" / "style.css", media_type="text/css", headers=headers)


def routes() -> list[BaseRoute]:
    """The dashboard's routes, under ``/ui``."""
    # Connector names may hold '/', so their routes take the rest of the path;
    # the action routes come first, ending in their verb.
    return [
        Route("/ui", _to_overview, methods=["GET"]),
        Mount(
            "/ui",
            routes=[
                Route("/", pages.overview, methods=["GET"]),
                Route("/style.css", _style, methods=["GET"]),
                Route("/sign-in", actions.sign_in_form, methods=["GET"]),
                Route("/sign-in", actions.sign_in, methods=["POST"]),
                Route("/sign-out", actions.sign_out, methods=["POST"]),
                Route("/deliveries", pages.deliveries, methods=["GET"]),
                Route("/deliveries/{id}", pages.delivery, methods=["GET"]),
                Route("/deliveries/{id}/retry", actions.retry, methods=["POST"]),
                Route("/connectors/{name:path}/pause", actions.pause, methods=["POST"]),
                Route("/connectors/{name:path}/resume", actions.resume, methods=["POST"]),
                Route("/connectors/{name:path}/test", actions.test, methods=["POST"]),
                Route("/connectors/{name:path}", pages.connector, methods=["GET"]),
                Route("/{rest:path}", pages.not_found),
            ],
        ),
    ]
