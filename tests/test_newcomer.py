"""What a newcomer tripped over: problems in rounds, the postgres:// scheme."""

from __future__ import annotations

import pytest
from writeback import InvalidConnectorError, UserError
from writeback.plugin import PluginRegistry, validate_connector

from .conftest import webhook_row


@pytest.fixture(scope="module")
def registry() -> PluginRegistry:
    return PluginRegistry.load()


def _problems(row: dict, registry: PluginRegistry) -> list[str]:
    with pytest.raises(InvalidConnectorError) as caught:
        validate_connector(row, registry)
    return list(caught.value.problems)


def test_a_misspelt_key_does_not_hide_the_other_problems(registry):
    row = webhook_row("hook", "https://example.com/h", options={"timeout": 0})
    row["sorce_app"] = row.pop("source_app")
    row["retry"] = {"schedule": "soon"}
    row["source_app"] = "CRONUSUS"
    problems = _problems(row, registry)
    assert any(
        p.startswith("sorce_app is not a known field; did you mean 'source_app'?") for p in problems
    )
    assert any(p.startswith("retry.schedule") for p in problems)
    assert any(p.startswith("options.timeout is 0") for p in problems)


def test_wrong_options_do_not_hide_a_wrong_auth_method(registry):
    row = webhook_row("hook", "https://example.com/h", options={"timeout": -1})
    row["auth"] = {"method": "kerberos-please"}
    problems = _problems(row, registry)
    assert any(p.startswith("options.timeout") for p in problems)
    assert any(p.startswith("auth.method 'kerberos-please' is not allowed") for p in problems)


def test_an_unknown_format_does_not_hide_wrong_options(registry):
    row = webhook_row("hook", "https://example.com/h", api_type="yaml", options={"nope": 1})
    problems = _problems(row, registry)
    assert len(problems) == 2
    assert any("yaml" in p for p in problems)
    assert any(p.startswith("options.nope is not a known field") for p in problems)


def test_a_missing_required_field_still_stops_at_once(registry):
    row = webhook_row("hook", "https://example.com/h")
    del row["uri"]
    assert _problems(row, registry) == ["uri is required."]


def test_a_secret_refused_by_its_model_is_refused_once(registry):
    row = webhook_row("hook", "https://example.com/h", options={"signing_secret": "env:not a name"})
    problems = _problems(row, registry)
    assert len([p for p in problems if p.startswith("options.signing_secret")]) == 1


@pytest.mark.parametrize("url", ["postgres://u:pw-S3cret@127.0.0.1/db", "postgres+psycopg://h/db"])
def test_postgres_scheme_is_named_as_the_problem(url):
    from writeback.store._engine import create_store_engine

    with pytest.raises(UserError) as caught:
        create_store_engine(url)
    message = str(caught.value)
    assert "postgresql+psycopg://" in message and "not installed" not in message
    assert "pw-S3cret" not in message


def test_the_demo_prints_commands_that_run_without_an_activated_venv(tmp_path, monkeypatch):
    import os
    import subprocess

    from writeback_testing.demo import runnable_command

    script = tmp_path / "venv" / "bin" / "writeback"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\necho ran $@\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    command = runnable_command(str(script))
    assert command == "venv/bin/writeback"
    ran = subprocess.run(f"{command} plugins", shell=True, capture_output=True, text=True)
    assert ran.stdout == "ran plugins\n"
    # On PATH (the venv activated): plain writeback.
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}/usr/bin:/bin")
    assert runnable_command(str(script)) == "writeback"
    # python -m writeback: this interpreter.
    assert runnable_command("/x/writeback/__main__.py").endswith(" -m writeback")


def test_make_says_what_it_does_while_it_installs():
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text(encoding="utf-8")
    install = [line for line in makefile.splitlines() if "pip install" in line and "DISTS" in line]
    assert install and "--quiet" not in install[0]
    assert '@echo "make: installing writeback' in makefile
