"""The dashboard's forms (POST): sign in and out, retry a delivery, pause,
resume and test a connector.

Each checks the session's CSRF token before anything else, needs an ``admin``
key to act (``read`` looks only: 403), and answers with a redirect to the page
that shows the outcome (Post/Redirect/Get, so a reload repeats nothing).
"""

from __future__ import annotations

import urllib.parse

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from writeback_server._auth import ALLOWED
from writeback_server._errors import ApiError
from writeback_server._keys import hash_key

from ._render import Context, page, read_form, redirect, render
from ._session import Session, check_csrf

__all__ = ["pause", "resume", "retry", "sign_in", "sign_in_form", "sign_out", "test"]

#: The longest pause reason kept (as the API's ``?reason=``).
MAX_REASON = 500


async def _form(ctx: Context) -> dict[str, str]:
    """The form, once its CSRF token matches the session's.

    :raises ApiError: 403 without the token or with another session's.
    """
    form = await read_form(ctx.request)
    if not check_csrf(ctx.session, form):
        raise ApiError(
            403,
            "WB-910",
            "the form's CSRF token is missing or not this session's; reload the page "
            "and send the form again.",
        )
    return form


def _connector_page(name: str) -> str:
    return "/ui/connectors/" + urllib.parse.quote(name, safe="")


@page(None)
async def sign_in_form(ctx: Context) -> Response:
    """The sign-in form (its CSRF token is the anonymous session's)."""
    if ctx.key is not None:
        return redirect(ctx, "/ui/")
    return render(ctx, "sign_in.html")


@page(None)
async def sign_in(ctx: Context) -> Response:
    """Check the key; on success the session names it (the key is not kept)."""
    form = await _form(ctx)
    key = form.get("key", "").strip()
    found = await ctx.service.verify_key(key) if key else None
    if found is None:
        return render(
            ctx, "sign_in.html", 401, error="That key is not known or was revoked; check it."
        )
    if found.scope not in ALLOWED["read"]:
        return render(
            ctx,
            "sign_in.html",
            403,
            error=f"The key {found.name!r} has scope {found.scope!r}; the dashboard needs "
            "a read or an admin key.",
        )
    ctx.session.sign_in(found.name, await run_in_threadpool(hash_key, key))
    return redirect(ctx, "/ui/")


@page(None)
async def sign_out(ctx: Context) -> Response:
    """Forget the cookie (the form carries the CSRF token too: no forced sign-out)."""
    await _form(ctx)
    response = redirect(ctx, "/ui/sign-in")
    Session.clear(response)
    return response


@page("admin")
async def retry(ctx: Context) -> Response:
    """Send a dead delivery again (same id, its history continuing)."""
    await _form(ctx)
    delivery_id = ctx.request.path_params["id"]
    host = ctx.service.dispatcher
    await ctx.service.call(host.deliveries.get, delivery_id)
    requeued = await ctx.service.call(host.deliveries.retry, [delivery_id])
    if requeued:
        ctx.session.say("ok", "Queued again; it is sent as soon as a worker takes it.")
    else:
        ctx.session.say("error", "Nothing to retry: the delivery is not dead.")
    return redirect(ctx, "/ui/deliveries/" + urllib.parse.quote(delivery_id, safe=""))


@page("admin")
async def pause(ctx: Context) -> Response:
    """Send nothing more to the connector; its deliveries wait."""
    form = await _form(ctx)
    name = ctx.request.path_params["name"]
    reason = form.get("reason", "").strip() or None
    if reason is not None and len(reason) > MAX_REASON:
        raise ApiError(400, "WB-908", f"the reason is longer than {MAX_REASON} characters.")
    await ctx.service.call(ctx.service.dispatcher.connectors.pause, name, reason)
    ctx.session.say("ok", "Paused: its deliveries wait until it is resumed.")
    return redirect(ctx, _connector_page(name))


@page("admin")
async def resume(ctx: Context) -> Response:
    """Send the connector's deliveries again, in order."""
    await _form(ctx)
    name = ctx.request.path_params["name"]
    await ctx.service.call(ctx.service.dispatcher.connectors.resume, name)
    ctx.session.say("ok", "Resumed: its deliveries are sent again, in order.")
    return redirect(ctx, _connector_page(name))


@page("admin")
async def test(ctx: Context) -> Response:
    """Reach the endpoint and authenticate, writing nothing."""
    await _form(ctx)
    name = ctx.request.path_params["name"]
    report = await ctx.service.call(ctx.service.dispatcher.connectors.test, name)
    if report.ok:
        ctx.session.say("ok", f"Test passed: {report.detail}")
    else:
        ctx.session.say("error", f"Test failed: {report.detail}")
    return redirect(ctx, _connector_page(name))
