"""pytest fixtures: a throwaway PostgreSQL cluster and fresh databases on it.

Without PostgreSQL installed, tests that need it are skipped with the reason,
except under CI (``CI`` set), where a missing service must fail the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from writeback_testing.services import service_unavailable

if TYPE_CHECKING:
    from pathlib import Path

    from writeback_testing.postgres import PostgresCluster


@pytest.fixture(scope="session")
def writeback_postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster on 127.0.0.1 for the whole session (started on first use)."""
    from writeback_testing.postgres import PostgresCluster, PostgresUnavailable

    try:
        cluster = PostgresCluster().start()
    except PostgresUnavailable as exc:
        service_unavailable(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def writeback_pg_url(writeback_postgres: PostgresCluster, monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL of a new, empty database; ``WRITEBACK_SECRET_KEY`` is set for the test.

    A server database takes its secrets key from the environment only (every
    host must share it), so the fixture provides one unless the test did.
    """
    if not os.environ.get("WRITEBACK_SECRET_KEY"):
        from cryptography.fernet import Fernet

        monkeypatch.setenv("WRITEBACK_SECRET_KEY", Fernet.generate_key().decode())
    return writeback_postgres.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def writeback_any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs the test once on a SQLite file and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'writeback.db').as_posix()}"
    return str(request.getfixturevalue("writeback_pg_url"))
