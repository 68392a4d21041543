"""A throwaway PostgreSQL cluster on 127.0.0.1, for tests of the PostgreSQL store.

It uses the server binaries of Debian's ``postgresql`` package (or any
``initdb``/``pg_ctl`` on PATH), keeps data and socket in a temporary folder,
and runs with ``fsync=off``: a test database need not survive a power cut, and
it starts in about a second.  ``initdb`` refuses to run as root, so as root the
cluster runs as the ``postgres`` user that the Debian package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Self

__all__ = ["PostgresCluster", "PostgresUnavailable", "find_pg_bin"]


class PostgresUnavailable(RuntimeError):
    """The server binaries or the driver are missing; the message says which."""


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: Debian's newest, else PATH."""
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """``with PostgresCluster() as pg: url = pg.create_database()``."""

    def __init__(self) -> None:
        self.bin = find_pg_bin()
        if self.bin is None:
            raise PostgresUnavailable(
                "PostgreSQL's server binaries (initdb, pg_ctl) are not installed; "
                "on Debian: apt-get install postgresql"
            )
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise PostgresUnavailable(
                f"the psycopg driver is missing ({exc}); pip install 'writeback[postgresql]'"
            ) from None
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self._dir: Path | None = None

    @property
    def data(self) -> Path:
        assert self._dir is not None, "the cluster is not started"
        return self._dir / "data"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            # initdb and postgres refuse root; Debian's package made this user.
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout}"
            )

    def start(self) -> Self:
        self._dir = Path(tempfile.mkdtemp(prefix="wb-pg-"))
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self._dir, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", self.user,
            "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self._dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-w", "-t", "30",
            "-l", str(self._dir / "log"), "-o", options, "start",
        )  # fmt: skip
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = "wb_" + uuid.uuid4().hex[:12]
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self._dir is None:
            return
        with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
