"""Shipped plugins import only ``writeback.plugin`` and the host API from ``writeback``.

A plugin that reaches into ``writeback._…`` (or a module beside ``writeback.plugin``)
breaks when the core reorganises its private modules; the shipped plugins are
what third parties copy, so they keep to the public namespaces.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import writeback

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(
    [
        *ROOT.glob("plugins/*/src/**/*.py"),
        *ROOT.glob("testing/src/**/*.py"),
        *ROOT.glob("server/src/**/*.py"),
    ],
    key=lambda p: p.as_posix(),
)
#: The modules a plugin may import from.
ALLOWED_MODULES = {"writeback.plugin"}
#: Imports not yet public, each with its file: the ``demo`` command prints through
#: the CLI's consoles until the command hook offers them.  The test fails when one
#: is no longer needed, so the list only shrinks.
PENDING = {
    "testing/src/writeback_testing/_demo_cmd.py:6: from writeback.cli._output import …",
}


def problems_in(path: Path, root: Path = ROOT) -> list[str]:
    """One line per import of ``writeback`` beyond the host API and ``writeback.plugin``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(root).as_posix()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                if name.startswith("writeback.") and name not in ALLOWED_MODULES:
                    found.append(f"{where}:{node.lineno}: import {name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            module = node.module
            if module == "writeback":
                for alias in node.names:
                    if alias.name not in writeback.__all__ and alias.name != "plugin":
                        found.append(f"{where}:{node.lineno}: from writeback import {alias.name}")
            elif module.startswith("writeback.") and module not in ALLOWED_MODULES:
                found.append(f"{where}:{node.lineno}: from {module} import …")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "writeback"
            and node.attr not in writeback.__all__
            and node.attr != "plugin"
        ):
            found.append(f"{where}:{node.lineno}: writeback.{node.attr}")
    return found


def test_the_scan_sees_every_shipped_plugin() -> None:
    packages = {p.relative_to(ROOT).parts[1] for p in SOURCES if p.parts[-4] != "testing"}
    assert {"webhook", "bc", "nav", "format_json", "format_soap"} <= packages
    assert {"auth_basic", "auth_oauth2", "auth_entra", "auth_windows"} <= packages
    assert any(p.name == "standin.py" for p in SOURCES)
    assert any(p.name == "plugin.py" and "writeback_server" in p.parts for p in SOURCES)


def test_shipped_plugins_import_only_the_public_namespaces() -> None:
    problems = [line for path in SOURCES for line in problems_in(path)]
    assert [p for p in problems if p not in PENDING] == [], "\n".join(problems)
    assert set(problems) >= PENDING, f"no longer needed: {PENDING - set(problems)}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from writeback._secrets import REDACTOR", "from writeback._secrets import …"),
        ("from writeback.tokens import Token", "from writeback.tokens import …"),
        ("import writeback.tls", "import writeback.tls"),
        ("from writeback import ApiFormatSpec", "from writeback import ApiFormatSpec"),
        ("import writeback\nwriteback.endpoint_of('x')", "writeback.endpoint_of"),
    ],
)
def test_the_scan_catches_each_kind_of_private_import(
    tmp_path: Path, source: str, expected: str
) -> None:
    path = tmp_path / "m.py"
    path.write_text(source + "\n", encoding="utf-8")
    (problem,) = problems_in(path, tmp_path)
    assert problem.endswith(expected)


def test_the_host_api_and_writeback_plugin_pass(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "import writeback\nimport writeback.plugin\n"
        "from writeback import Dispatcher, Throttle, hookimpl\n"
        "from writeback.plugin import ConnectorTypeSpec\n"
        "print(writeback.__version__)\n",
        encoding="utf-8",
    )
    assert problems_in(path, tmp_path) == []
