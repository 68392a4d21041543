"""``writeback plugin new``: start a plugin distribution from the template.

A group, so that later plugin-author commands can sit beside ``new``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from writeback import UserError

app = typer.Typer(
    name="plugin",
    help="Tools for plugin authors.",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.callback()
def _group() -> None:
    """Tools for plugin authors."""


@app.command("new")
def new(
    name: Annotated[
        str, typer.Argument(help="The plugin's short name (teams, api-key): lower-case words.")
    ],
    kind: Annotated[
        str | None,
        typer.Option("--kind", metavar="type|format|auth", help="What the plugin adds."),
    ] = None,
    folder: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            metavar="DIR",
            help="Where to create writeback-NAME/ (default: the current folder).",
        ),
    ] = None,
) -> None:
    """Create writeback-NAME/: a plugin distribution that installs and passes its tests."""
    from .scaffold import KINDS, new_plugin

    if kind is None:
        raise UserError("--kind is required: type, format or auth.")
    if kind not in KINDS:
        raise UserError(f"--kind {kind!r} is not a plugin kind; use type, format or auth.")
    try:
        target = new_plugin(name, kind, folder or Path.cwd())
    except ValueError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write {exc.filename or 'the plugin'}: {exc.strerror}.") from None
    shown = _shown(target)
    typer.echo(f"created {shown}/ ({KINDS[kind].human} {name!r}). Next:")
    typer.echo(f"  cd {shown}")
    typer.echo('  pip install -e ".[test]"   # with writeback installed (docs/plugin-authoring.md)')
    typer.echo("  pytest                     # the contract suite, against loopback servers")


def _shown(target: Path) -> str:
    try:
        return str(target.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(target)
