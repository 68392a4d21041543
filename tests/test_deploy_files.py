"""The shipped systemd unit and environment file (deploy/) describe a worker that runs.

The unit's ``ExecStart`` is run as written (its program swapped for this venv's,
``--until-idle`` added so that it returns) with the environment the example file
sets, adapted to a temporary store: every option it passes must exist and every
variable it sets must be one writeback reads.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "writeback-worker.service"
ENV_EXAMPLE = ROOT / "deploy" / "writeback.env.example"


def _unit_value(key: str) -> str:
    [line] = [line for line in UNIT.read_text().splitlines() if line.startswith(f"{key}=")]
    return line.split("=", 1)[1]


def _example_environment() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, value = line.split("=", 1)
            pairs[name.strip()] = value
    return pairs


def test_the_unit_reads_the_example_environment_file() -> None:
    assert _unit_value("EnvironmentFile") == "/etc/writeback/writeback.env"
    assert set(_example_environment()) == {"WRITEBACK_DB", "WRITEBACK_SECRET_KEY"}


def test_the_units_command_runs_a_worker(tmp_path: Path, writeback_receiver) -> None:
    program, *args = shlex.split(_unit_value("ExecStart"))
    assert program.endswith("/bin/writeback") and "worker" in args
    env = {**os.environ, **_example_environment(), "COLUMNS": "200"}
    assert env["WRITEBACK_DB"].startswith("sqlite:////var/lib/writeback/")
    env["WRITEBACK_DB"] = f"sqlite:///{tmp_path / 'writeback.db'}"
    env["WRITEBACK_SECRET_KEY"] = Fernet.generate_key().decode()
    writeback = [sys.executable, "-m", "writeback"]

    def run(*more: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*writeback, *more], input=stdin, capture_output=True, text=True, env=env, timeout=120
        )

    row = (
        '{"name": "hook", "type": "webhook", "api_type": "json", "source_app": "APP", '
        f'"uri": "{writeback_receiver.url}"}}'
    )
    (tmp_path / "row.json").write_text(row)
    assert run("connectors", "add", str(tmp_path / "row.json")).returncode == 0
    event = '{"action": "create", "appointment": {"appointmentGuid": "D1", "sourceApp": "APP"}}'
    assert run("dispatch", "-", stdin=event).returncode == 0
    worker = run(*args, "--until-idle")
    assert worker.returncode == 0, worker.stderr
    assert len(writeback_receiver.requests) == 1
    # --log-format json: every line on stderr is a JSON object.
    assert all(line.startswith("{") for line in worker.stderr.splitlines() if line.strip())
