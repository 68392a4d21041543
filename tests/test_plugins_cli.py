"""``writeback plugins [--json]`` and ``plugins check`` with the shipped plugins, some disabled
or joined by a broken one (in process, for speed)."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from writeback.cli import main
from writeback.plugin import ApiFormatSpec, PluginRegistry
from writeback_testing.standin import StandInPlugin

SHIPPED = {
    "writeback",
    "writeback-auth-basic",
    "writeback-auth-entra",
    "writeback-auth-oauth2",
    "writeback-auth-windows",
    "writeback-bc",
    "writeback-json",
    "writeback-nav",
    "writeback-soap",
    "writeback-webhook",
}


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str):
    monkeypatch.setattr(sys, "argv", ["writeback", *args])
    monkeypatch.setenv("COLUMNS", "250")
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def types_of(out: str) -> dict[str, Any]:
    return {t["name"]: t for t in json.loads(out)["connector_types"]}


def test_a_disabled_method_is_listed_as_missing_not_as_usable(monkeypatch, capsys) -> None:
    monkeypatch.setenv("WRITEBACK_DISABLE_PLUGINS", "writeback-auth-entra,windows")
    code, out, _ = run(monkeypatch, capsys, "plugins", "--json")
    assert code == 0
    types = types_of(out)
    webhook = types["webhook"]
    assert webhook["auth"] == {"default": {"json": ["none", "basic", "oauth2"]}}
    assert webhook["missing_auth"] == {"entra": "writeback-auth-entra"}
    assert set(webhook) == {
        "name",
        "summary",
        "distribution",
        "version",
        "formats",
        "auth",
        "missing_auth",
        "coalesce",
    }
    assert types["nav"]["auth"] == {"default": {"soap": ["basic"]}}
    assert types["nav"]["missing_auth"] == {
        "windows": "writeback-auth-windows",
        "ntlm": "writeback-auth-windows",
    }
    assert types["bc"]["auth"]["on-premises"]["soap"] == ["basic", "oauth2"]
    assert "entra" not in {a["name"] for a in json.loads(out)["auth_methods"]}

    code, out, _ = run(monkeypatch, capsys, "plugins")
    assert code == 0
    (webhook_row,) = [line for line in out.splitlines() if "webhook" in line and "json" in line]
    assert "none, basic, oauth2" in webhook_row
    assert "entra (writeback-auth-entra)" in webhook_row


def test_everything_installed_misses_nothing(monkeypatch, capsys) -> None:
    monkeypatch.delenv("WRITEBACK_DISABLE_PLUGINS", raising=False)
    code, out, _ = run(monkeypatch, capsys, "plugins", "--json")
    assert code == 0
    assert {t["name"]: t["missing_auth"] for t in types_of(out).values()} == {
        "bc": {},
        "nav": {},
        "webhook": {},
    }


def test_the_table_says_which_transports_a_header_method_rides(monkeypatch, capsys) -> None:
    """A method naming no transports (its credentials are headers) rides any: the
    table says so rather than leaving the cell empty; ``--json`` keeps ``[]``."""
    monkeypatch.delenv("WRITEBACK_DISABLE_PLUGINS", raising=False)
    code, out, _ = run(monkeypatch, capsys, "plugins")
    assert code == 0
    cells = {
        parts[0]: parts[1]
        for line in out.split("auth methods", 1)[1].splitlines()
        if len(parts := [c.strip() for c in line.strip("│ ").split("│")]) == 4
    }
    for name in ("none", "basic", "oauth2", "entra"):
        assert cells[name] == "any (headers)", cells
    assert cells["ntlm"] == cells["windows"] == "requests"
    code, out, _ = run(monkeypatch, capsys, "plugins", "--json")
    methods = {m["name"]: m["transports"] for m in json.loads(out)["auth_methods"]}
    assert methods["basic"] == [] and methods["windows"] == ["requests"]


def test_check_passes_for_the_shipped_plugins(monkeypatch, capsys) -> None:
    monkeypatch.delenv("WRITEBACK_DISABLE_PLUGINS", raising=False)
    code, out, err = run(monkeypatch, capsys, "plugins", "check")
    assert code == 0, out + err
    assert out.startswith("ok: ")
    assert {d.strip() for d in out.split(":", 2)[2].split(",")} >= SHIPPED


def test_check_names_the_distribution_of_each_problem(monkeypatch, capsys) -> None:
    monkeypatch.delenv("WRITEBACK_DISABLE_PLUGINS", raising=False)
    real_load = PluginRegistry.load.__func__  # type: ignore[attr-defined]

    def load_with_broken(cls: type[PluginRegistry], **kwargs: Any) -> PluginRegistry:
        registry = real_load(cls, **kwargs)
        bad = ApiFormatSpec(name="grpc", summary="", transport="h2", factory=lambda context: None)
        registry.register(StandInPlugin([], [bad]), name="grpc", distribution="writeback-grpc")
        return registry

    monkeypatch.setattr(PluginRegistry, "load", classmethod(load_with_broken))
    code, out, _ = run(monkeypatch, capsys, "plugins", "check")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2
    assert all(line.startswith("writeback-grpc: writeback-grpc was not loaded: ") for line in lines)
    assert any("summary is empty" in line for line in lines)
    assert any("transport 'h2'" in line for line in lines)

    code, out, _ = run(monkeypatch, capsys, "plugins", "--json")
    assert code == 0
    summary = json.loads(out)
    assert "grpc" not in {f["name"] for f in summary["api_formats"]}
    assert [e["distribution"] for e in summary["load_errors"]] == ["writeback-grpc"] * 2
