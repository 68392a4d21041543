"""Cross-package end-to-end tests: the real CLI in subprocesses against real receivers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class Cli:
    """Runs ``python -m writeback --db … ARGS`` and keeps every output for secret scans."""

    def __init__(self, tmp_path: Path, db_url: str) -> None:
        self.tmp_path = tmp_path
        self.db_url = db_url
        self.outputs: list[str] = []
        self.env = {**os.environ, "COLUMNS": "200"}
        self.env.pop("WRITEBACK_SECRET_KEY", None)
        self._n = 0

    def __call__(self, *args: str, input: str | None = None, check: int | None = 0) -> Run:
        proc = subprocess.run(
            [sys.executable, "-m", "writeback", "--db", self.db_url, *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        self.outputs += [proc.stdout, proc.stderr]
        run = Run(proc.returncode, proc.stdout, proc.stderr)
        if check is not None:
            assert run.code == check, (
                f"exit {run.code}, expected {check}\n{run.stdout}\n{run.stderr}"
            )
        return run

    def file(self, data: Any, suffix: str = ".json") -> str:
        self._n += 1
        path = self.tmp_path / f"input-{self._n}{suffix}"
        path.write_text(data if isinstance(data, str) else json.dumps(data))
        return str(path)


@pytest.fixture
def cli(tmp_path: Path, writeback_db_url: str) -> Cli:
    return Cli(tmp_path, writeback_db_url)


@pytest.fixture
def any_cli(tmp_path: Path, writeback_any_db_url: str) -> Cli:
    """A :class:`Cli` on a SQLite file, then on a fresh PostgreSQL database."""
    cli = Cli(tmp_path, writeback_any_db_url)
    if writeback_any_db_url.startswith("postgresql"):
        # A server database takes its key from the environment only (the fixture set one).
        cli.env["WRITEBACK_SECRET_KEY"] = os.environ["WRITEBACK_SECRET_KEY"]
    return cli


def webhook_row(name: str, uri: str, source_app: str = "CRONUSUS", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "webhook",
        "uri": uri,
        "api_type": "json",
        "source_app": source_app,
        "retry": {"schedule": [0.2, 0.2, 0.2]},
        **extra,
    }


def appointment_event(
    action: str, guid: str, source_app: str = "CRONUSUS", **fields: Any
) -> dict[str, Any]:
    return {
        "action": action,
        "appointment": {
            "appointmentGuid": guid,
            "sourceApp": source_app,
            "subject": "Boiler check",
            **fields,
        },
    }
