"""The worker's hot statements, run on the database driver's own connection.

A busy worker claims and records a batch every few deliveries.  Through
``Connection.execute`` SQLAlchemy's bookkeeping cost more than the database's
work on each of those statements (docs/benchmarks.md, "The store's hot
statements").  Here the same Core statements are compiled once for the
engine's dialect, SQLAlchemy expands their parameters
(``construct_expanded_state``, public since 2.0), and the driver runs the SQL;
there is still one set of statements for SQLite and PostgreSQL.

Only statements whose parameters need no type processing belong here (ints,
floats, strings): the driver gets the values as they are.

A unit of work (a claim, say) is written once, as a generator of steps
(:class:`Query`, :class:`Command`) that receives each step's rows; ``run``
drives it on a pooled driver connection, and ``_loop.LoopRunner`` drives the
same generator from an event loop (on PostgreSQL, on an asyncio connection).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["Command", "DriverStatements", "Query", "Steps", "WriteLockBusy"]

T = TypeVar("T")


@dataclass(frozen=True)
class Query:
    """Run ``statement`` once with ``values``; the step receives its rows."""

    statement: ClauseElement
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Command:
    """Run ``statement``, which returns no rows, once with ``values``; the step
    receives ``None``."""

    statement: ClauseElement
    values: Mapping[str, Any]


#: A unit of work in one transaction: yields steps, receives their results, and
#: returns its own result.
Steps = Generator[Query | Command, Any, T]


class WriteLockBusy(Exception):
    """Another connection holds SQLite's write lock, and the caller would not wait."""


class DriverStatements:
    """Runs prebuilt Core statements on a raw driver connection of ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._compiled: dict[int, SQLCompiler] = {}

    @property
    def engine(self) -> Engine:
        """The engine whose pool (and URL) the statements run on."""
        return self._engine

    @property
    def embedded(self) -> bool:
        """True for SQLite: statements wait on no server, only on the file's write lock."""
        return self._sqlite

    @contextmanager
    def transaction(self, *, wait: bool = True) -> Iterator[Any]:
        """A driver cursor inside one transaction: committed when the block ends,
        rolled back if it raises.

        The connection comes from the engine's pool, so its settings (SQLite's
        pragmas, PostgreSQL's ``synchronous_commit``, the pre-ping) apply as
        for any other statement.

        :param wait: False: raise :class:`WriteLockBusy` at once, before anything
            runs, when another connection holds SQLite's write lock, instead of
            waiting for it (the busy timeout).  PostgreSQL always waits.
        :raises WriteLockBusy: see ``wait``.
        """
        connection = self._engine.raw_connection()
        try:
            if self._sqlite:
                _begin_immediate(connection.driver_connection, wait=wait)  # type: ignore[arg-type]
            cursor = connection.cursor()
            try:
                yield cursor
                connection.commit()
            except BaseException:
                try:
                    connection.rollback()
                except Exception:
                    # The connection itself broke (a server restart): the pool drops
                    # it and the next checkout opens a fresh one; the first error is
                    # the one to report.
                    connection.invalidate()
                raise
            finally:
                cursor.close()
        finally:
            connection.close()

    def run(self, steps: Callable[[], Steps[T]], *, wait: bool = True) -> T:
        """Run the unit of work ``steps()`` makes in one transaction (see ``transaction``)."""
        with self.transaction(wait=wait) as cursor:
            work = steps()
            result: Any = None
            while True:
                try:
                    step = work.send(result)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
                cursor.execute(*self.expand(step.statement, step.values))
                result = cursor.fetchall() if isinstance(step, Query) else None

    def expand(self, statement: ClauseElement, values: Mapping[str, Any]) -> tuple[str, Any]:
        """The SQL and driver parameters of ``statement`` with ``values`` (lists for
        expanding ``IN`` parameters)."""
        compiled = self._compile(statement)
        state = compiled.construct_expanded_state(values)
        if compiled.positional:
            return state.statement, tuple(state.parameters[n] for n in state.positiontup or ())
        return state.statement, state.parameters

    def _compile(self, statement: ClauseElement) -> SQLCompiler:
        compiled = self._compiled.get(id(statement))
        if compiled is None:
            compiled = statement.compile(dialect=self._engine.dialect)  # type: ignore[assignment]
            self._compiled[id(statement)] = compiled  # type: ignore[assignment]
        return compiled  # type: ignore[return-value]


def _begin_immediate(connection: sqlite3.Connection, *, wait: bool) -> None:
    # As the engine's "begin" hook does: take the write lock at once, so that a
    # read-then-write cannot fail half-way with "database is locked".  In WAL mode
    # this is the only statement of a transaction that waits for another writer.
    if wait:
        connection.execute("BEGIN IMMEDIATE")
        return
    (timeout_ms,) = connection.execute("PRAGMA busy_timeout").fetchone()
    connection.execute("PRAGMA busy_timeout = 0")
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        # The primary code: BUSY_RECOVERY and the like are waits too.
        if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
            raise WriteLockBusy(str(exc)) from exc
        raise
    finally:
        connection.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
