"""``writeback api-keys create|list|revoke``: the keys the service accepts."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from ._keys import SCOPES, ApiKeys
from ._store import open_dispatcher

app = typer.Typer(
    name="api-keys",
    help="API keys for 'writeback serve': create (shown once), list, revoke.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _keys(ctx: typer.Context) -> ApiKeys:
    return ApiKeys(open_dispatcher(ctx).store.engine)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name to know the key by (its holder).")],
    scope: Annotated[
        str,
        typer.Option("--scope", help="ingest (POST /v1/events), read (GET /v1/...) or admin."),
    ],
) -> None:
    """Make a new key and print it once: the store keeps only its hash."""
    key = _keys(ctx).create(name, scope)
    typer.echo(key)
    typer.echo(
        f"created API key {name!r} with scope {scope}; it is shown this once, store it now.",
        err=True,
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List the keys by name and scope (never the key itself)."""
    keys = [k.to_dict() for k in _keys(ctx).list()]
    if as_json:
        sys.stdout.write(json.dumps(keys, indent=2, ensure_ascii=True) + "\n")
        return
    if not keys:
        typer.echo("no API keys yet; make one with 'writeback api-keys create NAME --scope S'.")
        return
    width = max(len(k["name"]) for k in keys)
    for k in keys:
        state = "active" if k["active"] else f"revoked {k['revoked_at']}"
        used = k["last_used_at"] or "never used"
        typer.echo(f"{k['name']:<{width}}  {k['scope']:<6}  {state:<28}  {used}")


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The key's name.")],
) -> None:
    """Revoke a key: requests carrying it are refused from now on (401)."""
    if _keys(ctx).revoke(name):
        typer.echo(f"revoked API key {name!r}")
    else:
        typer.echo(f"API key {name!r} was revoked already")


__all__ = ["SCOPES", "app"]
