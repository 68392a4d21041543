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
