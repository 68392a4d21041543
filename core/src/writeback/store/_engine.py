"""Opening the database: the engine, SQLite's settings, and the schema's revision.

A new store is created at the schema this release works with; an existing one
is only ever upgraded by ``writeback db upgrade`` (:func:`migrate`): opening a
store at another revision is refused (:func:`ensure_schema`), so that a release
never changes the schema under the feet of workers that still run the old one.

SQLite is the embedded default; PostgreSQL serves several workers on several
hosts.  Both go through the same SQLAlchemy Core statements.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.exc import DatabaseError as SQLAlchemyDatabaseError

from .._errors import DatabaseError, SchemaVersionError, UserError
from ._schema import SCHEMA_REVISION

__all__ = [
    "DB_ENV",
    "DEFAULT_DB_URL",
    "create_store_engine",
    "current_revision",
    "ensure_schema",
    "key_file_for",
    "migrate",
    "schema_mismatch",
]

DB_ENV = "WRITEBACK_DB"
DEFAULT_DB_URL = "sqlite:///writeback.db"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, worker: bool = False) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE (below) instead of
    # pysqlite's deferred BEGIN: a deferred transaction that reads and then
    # writes can fail at once with "database is locked" when another process
    # wrote in between, whatever the busy timeout.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: every commit reaches the disk before it returns (a power cut loses
    # nothing). NORMAL (WAL): a power cut may lose the last commits, never corrupts.
    cursor.execute(f"PRAGMA synchronous={'NORMAL' if worker else 'FULL'}")
    cursor.close()


#: PostgreSQL's settings for the worker's engine (``worker=True``):
#: - a commit returns before the WAL reaches the disk (a crash may lose the last
#:   commits, never corrupts; at-least-once allows it, see ``Outbox``);
#: - no sorts (where another plan exists): the claim must walk
#:   ``ix_deliveries_due`` in its order and stop after ``limit`` queue heads.
#:   With statistics that are missing or stale (a new table; a backlog after a
#:   quiet spell) the planner estimates one due row, and then a bitmap scan or
#:   an unordered scan, followed by a sort, costs about the same on paper; both
#:   read and sort every due row.  In the three-worker benchmark one worker's
#:   claims did, just when a backlog built up, at many times the cost of a
#:   walk (docs/benchmarks.md, "The store's hot statements").  Without the sort
#:   only the walk is left.  The worker's other statements look rows up by key,
#:   or group (which hashing does as well).
WORKER_OPTIONS = "-c synchronous_commit=off -c enable_sort=off"


def _query_value(url: URL, name: str) -> str:
    value = url.query.get(name, "")
    return " ".join(value) if isinstance(value, tuple) else value


def _sqlite_begin(connection: Any) -> None:
    # Straight to the driver: through exec_driver_sql this one statement cost a
    # busy worker as much as two of its claim's queries (docs/benchmarks.md).
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE")


def create_store_engine(url: str, *, worker: bool = False) -> Engine:
    """An engine for ``url`` with the settings writeback relies on.

    ``worker=True`` is for the worker's bookkeeping only (see ``Outbox``):
    commits return before they reach the disk, and on PostgreSQL the planner
    keeps to the claim's index (:data:`WORKER_OPTIONS`).

    :raises UserError: for a URL that is not a database URL or needs a missing driver.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UserError(
            f"--db {url!r} is not a database URL; use sqlite:///path/to/file.db "
            "or postgresql+psycopg://user@host/dbname."
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.drivername.split("+")[0] in ("postgres", "pg", "psql"):
        # The scheme libpq and Heroku write; SQLAlchemy knows only "postgresql",
        # and said the driver was not installed.
        raise UserError(
            f"--db {shown!r}: the scheme {parsed.drivername + '://'!r} is not one writeback "
            "knows; write postgresql+psycopg://user@host/dbname (postgresql://, not postgres://)."
        )
    try:
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database
            if database and database != ":memory:":
                folder = Path(database).expanduser().resolve().parent
                if not folder.is_dir():
                    raise UserError(
                        f"--db {shown!r}: the folder {str(folder)!r} does not exist; "
                        "create it first."
                    )
            engine = create_engine(url)
            event.listen(engine, "connect", functools.partial(_sqlite_pragmas, worker=worker))
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        if worker:
            # In the URL, not connect_args: the worker's asyncio connection
            # (``_loop.LoopRunner``) is made from the same URL.
            options = " ".join(filter(None, [_query_value(parsed, "options"), WORKER_OPTIONS]))
            parsed = parsed.update_query_dict({"options": options})
        return create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        hint = (
            " run 'pip install \"writeback[postgresql]\"'."
            if parsed.get_backend_name() == "postgresql"
            else " install its driver."
        )
        raise UserError(
            f"--db {shown!r}: the database driver is not installed ({exc});{hint}"
        ) from None


def key_file_for(url: str) -> Path | None:
    """Where the secrets key lives when ``WRITEBACK_SECRET_KEY`` is not set.

    Beside a SQLite file (``writeback.db`` -> ``writeback.db.key``); for a server
    database, in the user's config folder; ``None`` for an in-memory database.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            return None
        path = Path(database).expanduser().resolve()
        return path.with_name(path.name + ".key")
    # Several hosts share a server database; a key file per host would seal rows
    # with keys the others lack, so the key must come from WRITEBACK_SECRET_KEY.
    from .._errors import SecretKeyError
    from .._secrets import KEY_ENV

    if not os.environ.get(KEY_ENV):
        raise SecretKeyError(
            f"--db {parsed.render_as_string(hide_password=True)!r} is a server database: set "
            f"{KEY_ENV} to one Fernet key shared by every host that uses it."
        )
    return None


def _read_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def current_revision(engine: Engine) -> str | None:
    """The store's schema revision; ``None`` for a new (empty) store.

    :raises DatabaseError: when the database cannot be read.
    """
    try:
        with engine.connect() as conn:
            return _read_revision(conn)
    except SQLAlchemyDatabaseError as exc:
        raise DatabaseError(f"the database cannot be opened: {exc.orig}") from None


def _alembic_config() -> Any:
    # Alembic is imported only when the schema is not the expected one.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "writeback.store:migrations")
    return config


def schema_mismatch(found: str) -> SchemaVersionError:
    """The error for a store at ``found``, which is not :data:`SCHEMA_REVISION`."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    older = {rev.revision for rev in script.iterate_revisions(SCHEMA_REVISION, "base")}
    if found in older:
        return SchemaVersionError(
            f"the database schema is at revision {found!r}, older than the {SCHEMA_REVISION!r} "
            "this writeback works with; back the database up, run 'writeback db upgrade', "
            "then try again.",
            found=found,
            expected=SCHEMA_REVISION,
            newer=False,
        )
    return SchemaVersionError(
        f"the database schema is at revision {found!r}, newer than the {SCHEMA_REVISION!r} "
        "this writeback works with (a later release upgraded it); upgrade writeback on "
        "this host.",
        found=found,
        expected=SCHEMA_REVISION,
        newer=True,
    )


def ensure_schema(engine: Engine) -> None:
    """Check that the store's schema is :data:`SCHEMA_REVISION`; create it in a new store.

    A new, empty store is created at :data:`SCHEMA_REVISION`.  A store at
    another revision is left untouched: only ``writeback db upgrade``
    (:func:`migrate`) changes an existing schema.

    :raises SchemaVersionError: when the store is older or newer than this release.
    :raises DatabaseError: when the database cannot be read.
    """
    found = current_revision(engine)
    if found == SCHEMA_REVISION:
        return
    if found is not None:
        raise schema_mismatch(found)
    _upgrade(engine, new_only=True)


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema up to :data:`SCHEMA_REVISION` (``writeback db upgrade``).

    Safe with several processes or hosts at once: one upgrades, the others wait
    and then find nothing left to do.

    :returns: the revision found (``None`` for a new store) and the one now.
    :raises SchemaVersionError: when the store is newer than this release.
    :raises DatabaseError: when the database cannot be read.
    """
    found = current_revision(engine)
    if found == SCHEMA_REVISION:
        return found, SCHEMA_REVISION
    return _upgrade(engine, new_only=False), SCHEMA_REVISION


def _upgrade(engine: Engine, *, new_only: bool) -> str | None:
    """Upgrade to :data:`SCHEMA_REVISION` in one transaction; the revision found first.

    :param new_only: only create a new store's schema; a store another process
        made meanwhile at another revision is refused, not upgraded.
    """
    config = _alembic_config()
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                # A migration that rebuilds a table (alembic's batch mode drops and
                # recreates it) would fire ON DELETE SET NULL with foreign keys on:
                # every delivery lost its connector_id.  The pragma only takes
                # effect outside a transaction, hence on the driver's connection
                # before the transaction, and back on after it.
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            try:
                return _upgrade_in(conn, config, new_only=new_only)
            finally:
                if engine.dialect.name == "sqlite":
                    conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
    except SQLAlchemyDatabaseError as exc:
        raise DatabaseError(f"the database cannot be opened: {exc.orig}") from None


def _upgrade_in(conn: Connection, config: Any, *, new_only: bool) -> str | None:
    from alembic import command

    with conn.begin():
        if conn.dialect.name == "postgresql":
            # Several hosts may open a new database, or upgrade, at once: one
            # migrates, the others wait here and then find nothing left to do.
            # (On SQLite the transaction's BEGIN IMMEDIATE serialises them.)
            conn.execute(text("SELECT pg_advisory_xact_lock(7207316)"))
        found = _read_revision(conn)
        if found == SCHEMA_REVISION:
            return found
        if found is not None and (new_only or schema_mismatch(found).newer):
            raise schema_mismatch(found)
        config.attributes["connection"] = conn
        command.upgrade(config, SCHEMA_REVISION)
    return found
