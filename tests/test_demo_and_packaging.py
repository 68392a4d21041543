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
    assert "dispatched 7 events -> 15 deliveries" in proc.stdout
    assert "signatures valid: True" in proc.stdout
    assert "(2 answered 503)" in proc.stdout
    assert (
        "tokens: ops-oauth2 got 4 deliveries with 1 token request(s); "
        "field-entra got 2 with 1 (over TLS, test CA)"
    ) in proc.stdout
    assert proc.stdout.count("delivered") >= 15
    for secret in ("demo-password", "demo-oauth2+secret", "demo-entra-secret"):
        assert secret not in proc.stdout + proc.stderr


def _requirements(folder: str) -> set[str]:
    data = tomllib.loads((ROOT / folder / "pyproject.toml").read_text())
    names = data["project"].get("dependencies", [])
    return {re.split(r"[\s<>=\[;!~]", n, maxsplit=1)[0].lower() for n in names}


def test_integrator_install_set_pulls_no_heavy_protocol_library():
    for folder in ("core", "plugins/format_json", "plugins/webhook", "plugins/auth_basic"):
        assert _requirements(folder) & HEAVY == set(), folder


def test_webhook_with_oauth2_pulls_no_soap_entra_or_windows_library():
    # authlib is what oauth2 is made of; requests is only its [requests] extra.
    oauth2 = _requirements("plugins/auth_oauth2")
    assert "authlib" in oauth2 and oauth2 & (HEAVY - {"authlib"}) == set()


def test_entra_brings_msal_and_nothing_of_soap_windows_or_authlib():
    entra = _requirements("plugins/auth_entra")
    assert {"msal", "requests"} <= entra
    assert entra.isdisjoint({"zeep", "authlib", "requests-ntlm", "pyspnego", "gssapi"})


def test_core_depends_on_nothing_protocol_specific():
    assert _requirements("core").isdisjoint({"httpx", *HEAVY})
    assert {"pluggy", "pydantic", "sqlalchemy"} <= _requirements("core")


def test_every_plugin_declares_its_entry_point_in_group_writeback():
    expected = {
        "plugins/format_json": "json",
        "plugins/webhook": "webhook",
        "plugins/auth_basic": "basic",
        "plugins/auth_oauth2": "oauth2",
        "plugins/auth_entra": "entra",
    }
    for folder, name in expected.items():
        data = tomllib.loads((ROOT / folder / "pyproject.toml").read_text())
        assert name in data["project"]["entry-points"]["writeback"], folder
