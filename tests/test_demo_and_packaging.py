"""The demo runs green, and each distribution declares only what it needs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {
    "zeep",
    "msal",
    "authlib",
    "requests-ntlm",
    "requests_ntlm",
    "pyspnego",
    "gssapi",
    "requests",
}


def test_demo_delivers_everything(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "writeback", "--db", f"sqlite:///{tmp_path}/demo.db", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "dispatched 7 events -> 9 deliveries" in proc.stdout
    assert "signatures valid: True" in proc.stdout
    assert "(2 answered 503)" in proc.stdout
    assert proc.stdout.count("delivered") >= 9
    assert "demo-password-not-for-production" not in proc.stdout + proc.stderr


def _requirements(folder: str) -> set[str]:
    data = tomllib.loads((ROOT / folder / "pyproject.toml").read_text())
    names = data["project"].get("dependencies", [])
    return {re.split(r"[\s<>=\[;!~]", n, maxsplit=1)[0].lower() for n in names}


def test_integrator_install_set_pulls_no_heavy_protocol_library():
    for folder in ("core", "plugins/format_json", "plugins/webhook", "plugins/auth_basic"):
        assert _requirements(folder) & HEAVY == set(), folder


def test_core_depends_on_nothing_protocol_specific():
    assert _requirements("core").isdisjoint({"httpx", *HEAVY})
    assert {"pluggy", "pydantic", "sqlalchemy"} <= _requirements("core")


def test_every_plugin_declares_its_entry_point_in_group_writeback():
    expected = {
        "plugins/format_json": "json",
        "plugins/webhook": "webhook",
        "plugins/auth_basic": "basic",
    }
    for folder, name in expected.items():
        data = tomllib.loads((ROOT / folder / "pyproject.toml").read_text())
        assert name in data["project"]["entry-points"]["writeback"], folder
