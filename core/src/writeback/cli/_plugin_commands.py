"""The root command group: the core's commands, then those plugins add, lazily.

Click's lazy-group pattern: ``list_commands`` reads the plugins' ``CommandSpec``
descriptors and ``get_command`` calls a factory only for the command being run,
so ``writeback --help`` lists every command without importing any of the
plugins' command modules; once listed, the names and summaries are remembered
(``_command_cache``) and later listings load no plugin at all.  A core command
never loads the plugins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

from .._errors import PluginLoadError

if TYPE_CHECKING:
    from .._commands import CommandSpec

__all__ = ["PluginCommandGroup"]

#: Click's ``Command`` as typer uses it (its own copy in typer 0.2x, ``click`` before).
COMMAND = TyperCommand.__base__


class PluginCommandGroup(TyperGroup):
    """``writeback``: core commands first, then plugin commands sorted by name."""

    _specs: dict[str, CommandSpec] | None = None
    _listing: dict[str, str] | None = None

    def plugin_commands(self) -> dict[str, CommandSpec]:
        """The commands installed plugins add (loaded once, on first need)."""
        if self._specs is None:
            from .._registry import PluginRegistry
            from . import _command_cache

            self._specs = PluginRegistry.load().commands
            _command_cache.write(self._specs)
        return self._specs

    def plugin_summaries(self) -> dict[str, str]:
        """Each plugin command's name and summary: from the cache of the last
        full load while it holds (``_command_cache``), else by loading the plugins."""
        if self._listing is None:
            from . import _command_cache

            self._listing = _command_cache.read()
            if self._listing is None:
                self._listing = {n: s.summary for n, s in self.plugin_commands().items()}
        return self._listing

    def list_commands(self, ctx: Any) -> list[str]:
        core = super().list_commands(ctx)
        return [*core, *sorted(n for n in self.plugin_summaries() if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        spec = self.plugin_commands().get(cmd_name)
        return None if spec is None else build(spec)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """As click's, but a plugin command's line is its descriptor's summary:
        listing does not call its factory."""
        summaries = self.plugin_summaries()
        entries: list[tuple[str, Any]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None:
                entries.append((name, summaries[name]))
            elif not command.hidden:
                entries.append((name, command))
        if not entries:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in entries)
        rows = [
            (name, _short(item, limit) if isinstance(item, str) else item.get_short_help_str(limit))
            for name, item in entries
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def build(spec: CommandSpec) -> Any:
    """The command ``spec``'s factory makes; a broken one is one sentence naming
    its distribution."""
    where = f"{spec.distribution} {spec.version}".strip()
    try:
        made = spec.factory()
    except Exception as exc:
        from .._load_advice import load_advice

        advice = load_advice(spec.distribution, f"writeback_commands failed: {exc!r}")
        if "No module named" not in repr(exc):
            advice = (
                f"the factory of the command {spec.name!r} in {spec.distribution} raised: fix "
                "it (it should only import the command's module and return its typer.Typer)"
            )
        raise PluginLoadError(
            f"the command {spec.name!r} from {where} could not be loaded ({exc!r}); {advice}."
        ) from None
    if isinstance(made, typer.Typer):
        made = typer.main.get_command(made)
    if not isinstance(made, COMMAND):
        raise PluginLoadError(
            f"the command {spec.name!r} from {where} could not be loaded: its factory "
            f"returned a {type(made).__name__}, not a typer.Typer or a command; "
            f"report it to the authors of {spec.distribution}."
        )
    return made


def _short(text: str, limit: int) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: max(limit - 3, 1)].rstrip() + "..."
