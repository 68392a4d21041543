"""``writeback demo``: the command around :func:`writeback_testing.demo.run_demo`."""

from __future__ import annotations

import typer
from writeback.cli._output import err, markup_console, out

app = typer.Typer(add_completion=False, rich_markup_mode=None)


@app.command("demo")
def demo(ctx: typer.Context) -> None:
    """The whole flow against local simulators, on a throwaway database unless --db is given."""
    from .demo import run_demo

    # ``ctx.obj`` is the core's global options (``--db``).
    db = getattr(ctx.obj, "db", None)
    # The demo's own text carries markup; the data it prints is its own rows.
    code = run_demo(db, out=markup_console(out), err=markup_console(err))
    if code:
        raise typer.Exit(code)
