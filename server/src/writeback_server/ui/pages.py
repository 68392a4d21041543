"""The dashboard's pages (GET): the overview, the delivery log, one delivery,
one connector.  They read through the host API, as the HTTP API does."""

from __future__ import annotations

from starlette.responses import Response

from writeback_server._errors import ApiError

from ._render import Context, page, render

__all__ = [
    "PAGE_SIZE",
    "STATUSES",
    "connector",
    "deliveries",
    "delivery",
    "not_found",
    "overview",
]

#: Deliveries on one page of the log.
PAGE_SIZE = 50
#: The statuses the log can be filtered by.
STATUSES = ("pending", "delivered", "dead", "superseded")


@page("read")
async def overview(ctx: Context) -> Response:
    """Every connector: enabled, paused, its circuit in this process's worker, its
    deliveries by status, the oldest pending."""
    host = ctx.service.dispatcher
    views = await ctx.service.call(host.connectors.list)
    stats = await ctx.service.call(host.deliveries.stats)
    by_name = {s.connector: s for s in stats.connectors}
    rows = [(v, by_name.pop(v.name, None)) for v in views]
    # Deliveries of removed connectors still count; they are listed without a row.
    gone = sorted(by_name.values(), key=lambda s: s.connector)
    return render(
        ctx,
        "overview.html",
        rows=rows,
        gone=gone,
        totals=stats.totals,
        statuses=STATUSES,
        circuits=ctx.service.circuits(),
    )


@page("read")
async def deliveries(ctx: Context) -> Response:
    """The log, oldest first, ``?status=&connector=&after=``; a page ends with a next link."""
    params = ctx.request.query_params
    unknown = sorted(set(params) - {"status", "connector", "after"})
    if unknown:
        raise ApiError(400, "WB-908", f"the log has no filter {unknown[0][:60]!r}.")
    status = params.get("status") or None
    name = params.get("connector") or None
    if status is not None and status not in STATUSES:
        raise ApiError(
            400, "WB-908", f"status {status[:40]!r} is not one of {', '.join(STATUSES)}."
        )
    host = ctx.service.dispatcher
    found = await ctx.service.call(
        host.deliveries.list,
        status=status,
        connector=name,
        limit=PAGE_SIZE,
        after=params.get("after") or None,
    )
    names = sorted(v.name for v in await ctx.service.call(host.connectors.list))
    filters = {k: v for k, v in (("status", status), ("connector", name)) if v}
    return render(
        ctx,
        "deliveries.html",
        items=found.items,
        next=found.next,
        filters=filters,
        status=status,
        connector=name,
        names=names,
        statuses=STATUSES,
        first_page="after" in params,
    )


@page("read")
async def delivery(ctx: Context) -> Response:
    """One delivery and every attempt (time, status code, outcome, code, error)."""
    host = ctx.service.dispatcher
    view = await ctx.service.call(host.deliveries.get, ctx.request.path_params["id"])
    return render(ctx, "delivery.html", d=view)


@page("read")
async def connector(ctx: Context) -> Response:
    """One connector: its row as shown (secrets ``***``), its counts, and the
    pause/resume and test forms."""
    host = ctx.service.dispatcher
    name = ctx.request.path_params["name"]
    view = await ctx.service.call(host.connectors.get, name)
    stats = await ctx.service.call(host.deliveries.stats)
    counts = next((s for s in stats.connectors if s.connector == name), None)
    return render(ctx, "connector.html", c=view, counts=counts, statuses=STATUSES)


@page(None)
async def not_found(ctx: Context) -> Response:
    """Any other path under ``/ui``: a 404 page (the API's are JSON)."""
    raise ApiError(404, "WB-906", f"the dashboard has no page {ctx.request.url.path[:120]!r}.")
