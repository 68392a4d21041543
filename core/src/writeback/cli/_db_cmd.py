"""``writeback db …``: the store's schema revision, and upgrading it.

Every other command refuses a store whose schema is older or newer than this
release (exit 2, nothing changed); ``db upgrade`` is the one way forward.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ._app import STATE, app
from ._output import out, print_json

db_app = typer.Typer(help="The store's schema: status and upgrade.", no_args_is_help=True)
app.add_typer(db_app, name="db")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _url() -> str:
    from ..store import DEFAULT_DB_URL

    return STATE.db or DEFAULT_DB_URL


def _missing_sqlite_file(url: str) -> bool:
    """True for a SQLite file that does not exist yet (asking would create it)."""
    from pathlib import Path

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return False  # create_store_engine names the problem
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database
    return bool(database) and database != ":memory:" and not Path(database).expanduser().exists()


@db_app.command("status")
def status(as_json: JsonFlag = False) -> None:
    """The store's schema revision and whether it needs 'db upgrade' (exit 0 current, 1 older)."""
    from ..store import SCHEMA_REVISION, create_store_engine, current_revision
    from ..store._engine import schema_mismatch

    url = _url()
    found = None
    if not _missing_sqlite_file(url):
        engine = create_store_engine(url)
        try:
            found = current_revision(engine)
        finally:
            engine.dispose()
    mismatch = schema_mismatch(found) if found not in (None, SCHEMA_REVISION) else None
    state = (
        "new"
        if found is None
        else "current"
        if mismatch is None
        else "newer"
        if mismatch.newer
        else "older"
    )
    if as_json:
        print_json({"revision": found, "expected": SCHEMA_REVISION, "state": state})
    elif state == "new":
        out.print(f"no schema yet: a new store; it is created at {SCHEMA_REVISION} on first use.")
    elif state == "current":
        out.print(f"schema revision {found}: current.")
    elif state == "older":
        out.print(
            f"schema revision {found}, older than {SCHEMA_REVISION}: run 'writeback db upgrade'.",
            markup=False,
        )
    if mismatch is not None and mismatch.newer:
        if as_json:
            raise typer.Exit(2)
        raise mismatch
    if state == "older":
        raise typer.Exit(1)


@db_app.command("upgrade")
def upgrade() -> None:
    """Bring the store's schema up to this release's (a no-op when it is current)."""
    from ..store import create_store_engine, migrate

    engine = create_store_engine(_url())
    try:
        found, now = migrate(engine)
    finally:
        engine.dispose()
    if found is None:
        out.print(f"created the schema at revision {now} (a new store).")
    elif found == now:
        out.print(f"schema revision {now}: current; nothing to do.")
    else:
        out.print(f"upgraded the schema from revision {found} to {now}.")
