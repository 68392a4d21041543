"""``writeback --help`` and ``writeback plugins`` must not import protocol libraries."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "httpx",
    "httpcore",
    "zeep",
    "msal",
    "authlib",
    "requests",
    "requests_ntlm",
    "spnego",
    "sqlalchemy",
)

PROBE = """
import sys, json
sys.argv = ["writeback", *{args!r}]
from writeback.cli import main
try:
    main()
except SystemExit:
    pass
loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
sys.stderr.write("LOADED=" + json.dumps(loaded) + "\\n")
"""


def _loaded(*args: str) -> list[str]:
    code = PROBE.format(args=list(args), heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    line = [x for x in proc.stderr.splitlines() if x.startswith("LOADED=")][-1]
    return json.loads(line.removeprefix("LOADED="))


def test_help_imports_no_protocol_library_or_database():
    assert _loaded("--help") == []


def test_plugins_lists_everything_without_importing_protocol_libraries():
    assert _loaded("plugins", "--json") == []


def test_plugins_json_shape():
    proc = subprocess.run(
        [sys.executable, "-m", "writeback", "plugins", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    data = json.loads(proc.stdout)
    assert set(data) == {"connector_types", "api_formats", "auth_methods", "load_errors"}
    names = {
        kind: {e["name"] for e in data[kind]}
        for kind in ("connector_types", "api_formats", "auth_methods")
    }
    assert {"webhook"} <= names["connector_types"]
    assert {"json"} <= names["api_formats"]
    assert {"none", "basic"} <= names["auth_methods"]
    for kind in ("connector_types", "api_formats", "auth_methods"):
        for entry in data[kind]:
            assert entry["distribution"] and entry["version"]
    webhook = next(t for t in data["connector_types"] if t["name"] == "webhook")
    assert webhook["auth"]["default"]["json"][:2] == ["none", "basic"]


#: What ``writeback --help`` must not import once the plugin commands are known
#: (docs/benchmarks.md, "Start-up"): each of these was a share of its CPU.
NOT_FOR_HELP = (
    "rich",
    "pydantic",
    "pydantic_core",
    "pluggy",
    "importlib.metadata",
    "writeback._registry",
    "writeback._models",
    "writeback._event",
    "writeback._dispatcher",
    "writeback.store",
)

IMPORTED = """
import sys, json
sys.argv = ["writeback", *{args!r}]
from writeback.cli import main
try:
    main()
except SystemExit:
    pass
sys.stderr.write("MODULES=" + json.dumps(sorted(sys.modules)) + "\\n")
"""


def _modules(env: dict[str, str], *args: str) -> tuple[set[str], str]:
    code = IMPORTED.format(args=list(args))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    line = [x for x in proc.stderr.splitlines() if x.startswith("MODULES=")][-1]
    return set(json.loads(line.removeprefix("MODULES="))), proc.stdout


def _cache_env(tmp_path, **extra: str) -> dict[str, str]:
    import os

    return {**os.environ, "WRITEBACK_CACHE_DIR": str(tmp_path / "cache"), **extra}


def test_help_with_its_listing_cached_imports_no_plugin_rich_or_pydantic(tmp_path):
    env = _cache_env(tmp_path)
    first, out = _modules(env, "--help")  # learns the plugin commands
    assert "demo" in out and "writeback._registry" in first
    modules, out = _modules(env, "--help")
    assert "demo" in out and "connectors" in out
    assert not [m for m in modules if m.split(".")[0].startswith("writeback_")]
    assert [
        m for m in NOT_FOR_HELP if m in modules or any(k.startswith(m + ".") for k in modules)
    ] == []


def test_a_changed_plugin_set_is_listed_afresh(tmp_path):
    _modules(_cache_env(tmp_path), "--help")
    env = _cache_env(tmp_path, WRITEBACK_DISABLE_PLUGINS="writeback-testing")
    modules, out = _modules(env, "--help")
    assert "demo" not in out and "writeback._registry" in modules
    _, out = _modules(_cache_env(tmp_path), "--help")
    assert "demo" in out


def test_an_unusable_cache_directory_only_costs_time(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    _, out = _modules(_cache_env(tmp_path, WRITEBACK_CACHE_DIR=str(blocker)), "--help")
    assert "demo" in out
    _, out = _modules(_cache_env(tmp_path, WRITEBACK_CACHE_DIR=""), "--help")
    assert "demo" in out and not (tmp_path / "cache").exists()


def test_version_imports_nothing_heavy(tmp_path):
    modules, out = _modules(_cache_env(tmp_path), "--version")
    assert out.strip().split()[-1][0].isdigit()
    assert "pydantic" not in modules and "rich" not in modules
