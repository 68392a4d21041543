"""Printing: rich tables for people, JSON for scripts, messages on stderr.

Much of what the CLI prints is not its own: connector names and descriptions,
event ids, and above all what back offices answered (kept as attempt errors).
So every string prints as the text it is:

- no rich markup and no emoji codes: a name like ``[/x]`` once crashed
  ``connectors add`` after the row was stored, and every listing after it;
- control characters (ESC, BEL, CR, C1, bidi overrides) shown escaped
  (``\\x1b``), never sent: an answer holding ``\\x1b]0;…\\x07`` retitled the
  user's terminal, ``\\x1b[2J`` cleared it;
- ``--json`` keeps the data exactly, JSON-escaped (C1 and bidi controls too,
  which JSON would allow raw).

Log lines get the same treatment (:class:`SafeFormatter`).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

__all__ = [
    "SafeFormatter",
    "err",
    "iso",
    "markup_console",
    "one_line",
    "out",
    "print_json",
    "real_console",
    "table",
    "visible",
]

#: Beyond C0: DEL, C1, the bidi controls that reorder what follows them on the
#: line, and the Unicode line and paragraph separators.
_WIDE = "\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
#: Characters a terminal acts on rather than shows: C0 but tab and newline, and _WIDE.
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f{_WIDE}]")
#: The same, newline and tab, for text that must stay on its line: rich sizes a
#: table's column before it expands a tab, so a cell holding one was folded onto
#: a second line however wide the terminal.
_CONTROL_OR_NEWLINE = re.compile(f"[\x00-\x1f{_WIDE}]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every control character shown as its escape (``\\x1b``);
    newlines and tabs kept."""
    return _CONTROL.sub(_escape, text)


def one_line(text: str) -> str:
    """:func:`visible`, newlines and tabs escaped too: a value that cannot start a
    line of its own (and so pass for another field)."""
    return _CONTROL_OR_NEWLINE.sub(_escape, text)


@functools.cache
def _text_console_class() -> type[Console]:
    from rich.console import Console

    class _TextConsole(Console):
        """A console that renders every string it is given as text: no markup or
        emoji unless asked for, control characters escaped (:func:`visible`)."""

        def render_str(self, text: str, **options: Any) -> Text:
            return super().render_str(visible(text), **options)

    return _TextConsole


def _console(*, stderr: bool = False, markup: bool = False) -> Console:
    return _text_console_class()(
        stderr=stderr, highlight=False, soft_wrap=True, markup=markup, emoji=markup
    )


class _LazyConsole:
    """A console made on first use: importing rich costs ``writeback --help``
    (which prints through click) a quarter of its start-up."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._made: Console | None = None

    @property
    def console(self) -> Console:
        """The rich console itself (for rich's own widgets, which want the class)."""
        if self._made is None:
            self._made = _console(stderr=self._stderr)
        return self._made

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


out = cast("Console", _LazyConsole(stderr=False))
err = cast("Console", _LazyConsole(stderr=True))


def real_console(console: Console) -> Console:
    """``console`` itself when it is one of the lazy :data:`out`/:data:`err`."""
    return console.console if isinstance(console, _LazyConsole) else console


def markup_console(console: Console) -> Console:
    """A console on the same stream that renders rich markup: for text the CLI
    writes itself (the demo's), never for data."""
    return _console(stderr=console.stderr, markup=True)


def iso(timestamp: float | None) -> str | None:
    """Unix seconds as ISO-8601 UTC with ``Z``."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, tz=UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


_JSON_CONTROL = re.compile(f"[{_WIDE}]")


def print_json(value: Any) -> None:
    """``value`` as JSON on stdout, exactly; characters a terminal acts on are
    ``\\u``-escaped (JSON escapes C0 itself; the rest it would let through)."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    sys.stdout.write(_JSON_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")


#: Columns of ids, kept on one line whatever the width, so that an id can be
#: copied with a double click: rich folded a 30-character delivery id in two at
#: 100 columns.  The other columns wrap around them.
UNBROKEN = frozenset({"id", "delivery", "event"})


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    """A table of ``rows``; each cell prints on its own line(s) as text (:func:`one_line`);
    an id column (:data:`UNBROKEN`) never folds."""
    from rich.table import Table
    from rich.text import Text

    cells = [[Text("" if v is None else one_line(str(v))) for v in row] for row in rows]
    grid = Table(title=title, title_justify="left", show_lines=False)
    for n, column in enumerate(columns):
        if column in UNBROKEN:
            widest = max([len(column), *(row[n].cell_len for row in cells)])
            grid.add_column(column, no_wrap=True, min_width=widest)
        else:
            grid.add_column(column, overflow="fold")
    for row in cells:
        grid.add_row(*row)
    console = real_console(out)
    if console.is_terminal:
        console.print(grid)
        return
    # No terminal: COLUMNS as it is now (rich reads it once, when the console is
    # made), else the table's natural width. Rich would assume 80 columns, which
    # folds a name into a few characters a line in a pipe or a file, where a long
    # line costs nothing (print(width=) can only narrow).
    asked = os.environ.get("COLUMNS", "")
    if asked.isdigit() and int(asked) > 0:
        width = int(asked)
    else:
        from rich.measure import Measurement

        measured = Measurement.get(console, console.options.update(width=10_000), grid)
        width = max(console.width, measured.maximum)
    assumed = console.width
    console.width = width
    try:
        console.print(grid)
    finally:
        console.width = assumed


class SafeFormatter(logging.Formatter):
    """A log formatter whose lines show control characters escaped: log messages
    carry back offices' answers (a dead delivery's error) to a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record))
