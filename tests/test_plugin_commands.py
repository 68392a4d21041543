"""``writeback_commands``: plugins add CLI commands, listed from descriptors and
built only when run (in process, for speed; ``--help``'s imports in a subprocess)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import typer
from writeback._commands import CORE_COMMANDS
from writeback.cli import app, main
from writeback.plugin import CommandSpec, PluginRegistry, hookimpl

ROOT = Path(__file__).resolve().parents[1]
BUILT: list[str] = []


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str):
    monkeypatch.setattr(sys, "argv", ["writeback", *args])
    monkeypatch.setenv("COLUMNS", "250")
    # Listings come from the plugins these tests join, never a cached listing.
    monkeypatch.setenv("WRITEBACK_CACHE_DIR", "")
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _hello_app() -> typer.Typer:
    BUILT.append("hello")
    hello = typer.Typer(add_completion=False, rich_markup_mode=None)

    @hello.command("hello")
    def say(ctx: typer.Context, name: str = "world") -> None:
        """Say hello."""
        typer.echo(f"hello {name} on {ctx.obj.db}")

    return hello


def _broken() -> Any:
    BUILT.append("broken")
    raise ImportError("No module named 'writeback_extra._cmd'")


def command_plugin(*specs: CommandSpec) -> types.ModuleType:
    module = types.ModuleType("commands_plugin")

    @hookimpl
    def writeback_commands() -> list[CommandSpec]:
        return list(specs)

    module.writeback_commands = writeback_commands
    return module


@pytest.fixture
def extra(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, types.ModuleType]]:
    """Plugins (distribution, module) joined to the installed ones by PluginRegistry.load."""
    joined: list[tuple[str, types.ModuleType]] = []
    real = PluginRegistry.load.__func__  # type: ignore[attr-defined]

    def load(cls: type[PluginRegistry], **kwargs: Any) -> PluginRegistry:
        registry = real(cls, **kwargs)
        for dist, module in joined:
            registry.register(module, name=dist, distribution=dist)
        return registry

    monkeypatch.setattr(PluginRegistry, "load", classmethod(load))
    BUILT.clear()
    return joined


def test_help_lists_plugin_commands_without_building_them(monkeypatch, capsys, extra):
    extra.append(
        (
            "writeback-extra",
            command_plugin(
                CommandSpec("hello", "Say hello from a plugin.", _hello_app),
                CommandSpec("broken", "A command whose module is missing.", _broken),
            ),
        )
    )
    code, out, _ = run(monkeypatch, capsys, "--help")
    assert code == 0
    listed = out[out.index("Commands:") :]
    for line in ("hello", "Say hello from a plugin.", "broken", "demo", "worker", "connectors"):
        assert line in listed
    assert BUILT == []


def test_a_plugin_command_runs_with_the_global_options(monkeypatch, capsys, extra):
    spec = CommandSpec("hello", "Say hello from a plugin.", _hello_app)
    extra.append(("writeback-extra", command_plugin(spec)))
    code, out, err = run(monkeypatch, capsys, "--db", "sqlite:///x.db", "hello", "--name", "Ann")
    assert (code, out) == (0, "hello Ann on sqlite:///x.db\n"), err
    assert BUILT == ["hello"]


def test_a_broken_factory_is_one_sentence_naming_the_distribution(monkeypatch, capsys, extra):
    extra.append(("writeback-extra", command_plugin(CommandSpec("broken", "Broken.", _broken))))
    code, out, err = run(monkeypatch, capsys, "broken")
    assert code == 2 and out == ""
    assert err.startswith("error: WB-104: the command 'broken' from writeback-extra")
    assert "No module named 'writeback_extra._cmd'" in err
    # What to fix in the plugin, not "reinstall it".
    assert "writeback-extra imports its own module 'writeback_extra._cmd', which does not" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_factory_returning_something_else_names_the_distribution(monkeypatch, capsys, extra):
    extra.append(("writeback-extra", command_plugin(CommandSpec("odd", "Odd.", lambda: 42))))
    code, _, err = run(monkeypatch, capsys, "odd")
    assert code == 2
    assert "'odd' from writeback-extra" in err and "returned a int" in err


def test_a_core_name_or_a_name_claimed_twice_is_a_load_error_naming_both(
    monkeypatch, capsys, extra
):
    extra.append(("writeback-one", command_plugin(CommandSpec("hello", "One.", _hello_app))))
    extra.append(
        (
            "writeback-two",
            command_plugin(
                CommandSpec("hello", "Two.", _broken), CommandSpec("worker", "Mine.", _broken)
            ),
        )
    )
    code, out, _ = run(monkeypatch, capsys, "plugins", "--json")
    assert code == 0
    errors = {e["name"]: e for e in json.loads(out)["load_errors"]}
    assert errors["hello"]["distribution"] == "writeback-two"
    assert "provided by both writeback-one and writeback-two" in errors["hello"]["error"]
    worker = errors["worker"]["error"]
    assert "provided by both writeback (a core command) and writeback-two" in worker
    # The first claimant keeps the name; the core keeps its command.
    code, out, _ = run(monkeypatch, capsys, "hello")
    assert (code, out.split(" on ")[0]) == (0, "hello world")
    code, out, _ = run(monkeypatch, capsys, "worker", "--help")
    assert code == 0 and "--until-idle" in out
    assert BUILT == ["hello"]


def test_a_bad_descriptor_is_a_load_error_and_the_plugin_keeps_the_rest(extra):
    # Without the installed distributions that add commands (testing, server).
    registry = PluginRegistry.load(disabled=["testing", "server"])
    registry.register(
        command_plugin(
            CommandSpec("Bad Name", "x", _broken),
            CommandSpec("fine", "", _broken),
            "not a spec",  # type: ignore[arg-type]
            CommandSpec("ok", "Fine.", _hello_app),
        ),
        name="mixed",
        distribution="writeback-mixed",
    )
    assert list(registry.commands) == ["ok"]
    assert registry.commands["ok"].distribution == "writeback-mixed"
    errors = [e.error for e in registry.load_errors]
    assert len(errors) == 3 and all(e.startswith("writeback-mixed: ") for e in errors)


def test_without_writeback_testing_demo_is_an_unknown_command(monkeypatch, capsys):
    # WRITEBACK_DISABLE_PLUGINS skips the distribution's entry point, as if not installed.
    monkeypatch.setenv("WRITEBACK_DISABLE_PLUGINS", "writeback-testing")
    code, _, err = run(monkeypatch, capsys, "demo")
    assert code == 2 and "No such command 'demo'" in err
    code, out, _ = run(monkeypatch, capsys, "--help")
    assert code == 0 and "demo" not in out


def test_demo_comes_from_writeback_testing(monkeypatch, capsys):
    registry = PluginRegistry.load()
    assert registry.commands["demo"].distribution == "writeback-testing"
    # A distribution that adds only commands passes the check too.
    code, out, _ = run(monkeypatch, capsys, "plugins", "check")
    assert code == 0 and "writeback-testing" in out


def test_core_commands_are_exactly_the_cli_s_own():
    group = typer.main.get_group(app)
    assert set(group.commands) == CORE_COMMANDS


def test_the_core_never_imports_writeback_testing():
    found = []
    for path in (ROOT / "core" / "src").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value] if node.value.startswith("writeback_testing") else []
            found += [f"{path.name}: {n}" for n in names if n.startswith("writeback_testing")]
    assert found == []


def test_help_imports_no_command_module():
    code = (
        "import sys\n"
        "sys.argv = ['writeback', '--help']\n"
        "from writeback.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('writeback_testing')))\n"
    )
    # Without a cached listing (tests/test_startup.py covers the cached one).
    env = {**os.environ, "WRITEBACK_CACHE_DIR": ""}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert "demo" in proc.stdout
    loaded = eval(proc.stdout.strip().splitlines()[-1])
    assert loaded == ["writeback_testing", "writeback_testing.plugin"]
