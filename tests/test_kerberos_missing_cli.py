"""``connectors validate`` and ``add`` warn (exit 0) about a ``windows`` row with a
``user@REALM`` name when Kerberos support is not installed (simulated)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from writeback.cli import main
from writeback_auth_windows import _kerberos

ROW = {
    "name": "nav-win",
    "type": "nav",
    "api_type": "soap",
    "uri": "https://nav.example.com:7047/DynamicsNAV110/WS/CRONUS/Page/Appointment",
    "source_app": "CRONUSUS",
    "auth": {"method": "windows", "username": "planner@CRONUS.TEST", "password": "s3cret-w"},
}
WARNING = (
    "warning: connector 'nav-win': auth.username 'planner@CRONUS.TEST' is a Kerberos name, "
    "but Kerberos support is not installed, so 'windows' will offer NTLM only"
)


def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, *args: str):
    monkeypatch.setattr(sys, "argv", ["writeback", "--db", f"sqlite:///{tmp_path}/k.db", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", ["validate", "add"])
def test_a_kerberos_name_without_kerberos_is_a_warning(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(_kerberos, "kerberos_installed", lambda: False)
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(ROW))
    code, out, err = cli(tmp_path, monkeypatch, capsys, "connectors", command, str(path))
    assert code == 0, err
    assert out.strip().endswith("1 connector(s): nav-win")
    (line,) = err.splitlines()
    assert line.startswith(WARNING)
    assert "pip install 'writeback-auth-windows[kerberos]'" in line
    assert "s3cret" not in out + err


@pytest.mark.parametrize(
    ("username", "installed"), [("planner@CRONUS.TEST", True), ("CRONUS\\planner", False)]
)
def test_no_warning_with_kerberos_or_without_a_realm(
    username: str, installed: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(_kerberos, "kerberos_installed", lambda: installed)
    path = tmp_path / "rows.json"
    path.write_text(json.dumps({**ROW, "auth": {**ROW["auth"], "username": username}}))
    code, _, err = cli(tmp_path, monkeypatch, capsys, "connectors", "validate", str(path))
    assert code == 0 and err == ""
