"""Pages as answers: the Jinja2 templates, the guard every page goes through,
and the headers that keep a page to itself.

Templates autoescape everything they print.  Every answer is ``no-store`` (a
page shows deliveries and connector settings) and carries a Content Security
Policy that allows no script at all and this site's stylesheet only.
"""

from __future__ import annotations

import functools
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .._auth import ALLOWED
from .._errors import ApiError
from .._host import Service
from .._keys import ApiKey, api_keys
from ._session import Session, fingerprint

__all__ = ["Context", "page", "read_form", "redirect", "render"]

HERE = Path(__file__).parent
#: The largest form body read (a sign-in or an action's form is a few hundred bytes).
MAX_FORM = 16 * 1024

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, float(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp))


def _q(text: str) -> str:
    """A path segment: a connector name may hold spaces or slashes."""
    return urllib.parse.quote(text, safe="")


env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(age=_age, when=_when, q=_q)
env.globals["urlencode"] = urllib.parse.urlencode


@dataclass
class Context:
    """What a page knows: the service, the session and the signed-in key."""

    request: Request
    service: Service
    session: Session
    key: ApiKey | None

    @property
    def admin(self) -> bool:
        """The key may act (retry, pause, resume, test), not only look."""
        return self.key is not None and self.key.scope in ALLOWED["admin"]


def render(ctx: Context, template: str, status: int = 200, /, **values: Any) -> Response:
    """The template filled in (``values`` may hold a ``status`` of their own: the
    argument is positional), with the session's message taken for it."""
    html = env.get_template(template).render(
        key=ctx.key,
        admin=ctx.admin,
        csrf=ctx.session.csrf,
        flash=ctx.session.take_flash(),
        **values,
    )
    response = HTMLResponse(html, status_code=status, headers=HEADERS)
    ctx.session.save(ctx.request, response)
    return response


def redirect(ctx: Context, to: str) -> Response:
    """See other (after a POST): the browser GETs ``to``."""
    response = RedirectResponse(to, status_code=303, headers=HEADERS)
    ctx.session.save(ctx.request, response)
    return response


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, each field once.

    :raises ApiError: 413 past :data:`MAX_FORM`; 415 another content type.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not kind and request.headers.get("content-length", "0") == "0":
        return {}
    if kind != "application/x-www-form-urlencoded":
        raise ApiError(415, "WB-904", "the dashboard's forms are sent as url-encoded form data.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise ApiError(413, "WB-905", f"the form is larger than {MAX_FORM} bytes.")
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=20
        )
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "WB-908", "the form is not valid url-encoded UTF-8.") from None
    return dict(pairs)


async def _signed_in(service: Service, session: Session) -> ApiKey | None:
    """The session's key, when it is still active and its hash unchanged."""
    if session.name is None or session.fingerprint is None:
        return None

    def lookup() -> Any:
        with service.engine.begin() as conn:
            return conn.execute(select(api_keys).where(api_keys.c.name == session.name)).first()

    row = await run_in_threadpool(lookup)
    if row is None or row.revoked_at is not None:
        return None
    if fingerprint(row.key_hash) != session.fingerprint:
        return None
    return ApiKey(row.name, row.scope, row.created_at, row.revoked_at, row.last_used_at)


Handler = Callable[[Context], Awaitable[Response]]


def page(need: str | None) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A dashboard handler: the session loaded, the key checked against ``need``
    (``read`` or ``admin``; ``None``: anyone), and every refusal an HTML page.

    Not signed in: to the sign-in page (a POST answers 401 instead: a form
    posted after the session ended must not be redone silently).
    """

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            service: Service = request.app.state.service
            session = Session.load(request)
            ctx = Context(request, service, session, None)
            try:
                ctx.key = await _signed_in(service, session)
                if need is not None and ctx.key is None:
                    if session.name is not None:
                        session.name = session.fingerprint = None
                        session.changed = True
                    if request.method == "GET":
                        return redirect(ctx, "/ui/sign-in")
                    raise ApiError(401, "WB-901", "you are not signed in any more; sign in again.")
                if need is not None and ctx.key is not None and ctx.key.scope not in ALLOWED[need]:
                    raise ApiError(
                        403,
                        "WB-902",
                        f"your key {ctx.key.name!r} has scope {ctx.key.scope!r}; this needs "
                        f"{' or '.join(sorted(ALLOWED[need]))}. Sign in with an admin key to act.",
                    )
                return await handler(ctx)
            except ApiError as exc:
                return render(ctx, "error.html", exc.status, error=exc)

        return endpoint

    return wrap
