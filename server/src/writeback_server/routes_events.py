"""``POST /v1/events``: submit events, as ``writeback dispatch`` does."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._body import read_events_body
from ._metrics import EVENTS_SUBMITTED
from ._routing import answer, require, service_of

__all__ = ["routes"]


async def post_events(request: Request) -> Response:
    """One event, a list, or JSON Lines; 202 with what each became.

    All are validated before any is written: one invalid event is a 422 and
    nothing is stored.  A known event id creates nothing and answers its
    deliveries with ``created`` false.
    """
    await require(request, "ingest")
    service = service_of(request)
    raws = await read_events_body(request, service.max_body)
    results = await service.call(service.dispatcher.submit_many, raws)
    created = sum(1 for r in results if r.created)
    if created:
        EVENTS_SUBMITTED.inc(created)
    return answer(
        {"events": [r.to_dict() for r in results]},
        202,
    )


def routes() -> list[BaseRoute]:
    return [Route("/v1/events", post_events, methods=["POST"])]
