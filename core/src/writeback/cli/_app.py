"""The ``writeback`` command: global options, error handling, exit codes.

Exit codes (docs/cli.md, "Exit codes"): 0 success, 1 the work ran but
something failed, 2 bad input or usage (nothing written).  User errors print
one sentence, never a traceback.  Heavy imports (SQLAlchemy, plugins) happen
inside commands, so ``writeback --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import typer

from .._errors import UserError, WritebackError
from ._output import err
from ._plugin_commands import PluginCommandGroup

if TYPE_CHECKING:
    from .._dispatcher import Dispatcher

app = typer.Typer(
    name="writeback",
    help="Deliver appointment changes to back-office systems, reliably and in order.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # --install-completion / --show-completion (bash, zsh, fish, PowerShell).
    add_completion=True,
    rich_markup_mode=None,
    # Commands from plugins (``writeback_commands``), loaded only when run.
    cls=PluginCommandGroup,
)


@dataclass
class State:
    """What the global options chose; the dispatcher is opened on first use.

    A plugin's command finds it as ``ctx.obj`` (``db``: the ``--db`` URL or
    ``None``; ``dispatcher()``: the store opened on it, closed on exit).
    """

    db: str | None = None
    _dispatcher: Dispatcher | None = field(default=None, repr=False)

    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            from .._dispatcher import Dispatcher

            self._dispatcher = Dispatcher.open(self.db)
        return self._dispatcher

    def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.close()
            self._dispatcher = None


STATE = State()


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"writeback {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL (default: $WRITEBACK_DB, else sqlite:///writeback.db).",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv: debug).")
    ] = 0,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            metavar="text|json",
            help="Log lines as text, or as one JSON object per line (for a log collector).",
        ),
    ] = "text",
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    from ._args import NOT_UTF8, is_utf8

    STATE.db = db or os.environ.get("WRITEBACK_DB") or None
    if STATE.db is not None and not is_utf8(STATE.db):
        raise typer.BadParameter(NOT_UTF8, param_hint="'--db' (or WRITEBACK_DB)")
    from ._logging import LOG_FORMATS, configure_logging

    if log_format not in LOG_FORMATS:
        raise typer.BadParameter(
            f"{log_format!r} is not a log format; use 'text' or 'json'.",
            param_hint="'--log-format'",
        )
    configure_logging(verbose, log_format)
    ctx.obj = STATE


def main() -> None:
    """Entry point of the ``writeback`` script."""
    try:
        app()
    except UserError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(2)
    except WritebackError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
    finally:
        STATE.close()
