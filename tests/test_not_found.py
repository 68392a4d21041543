"""Every "not found" answers at once: one sentence, exit 2, nothing changed."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from .conftest import Cli, webhook_row


@pytest.fixture
def any_cli(tmp_path, writeback_any_db_url) -> Cli:
    cli = Cli(tmp_path, writeback_any_db_url)
    cli.env["WRITEBACK_SECRET_KEY"] = Fernet.generate_key().decode()
    return cli


@pytest.mark.parametrize(
    "args",
    [
        ("connectors", "remove", "NOSUCH"),
        ("connectors", "show", "NOSUCH"),
        ("connectors", "enable", "NOSUCH"),
        ("connectors", "disable", "NOSUCH"),
        ("connectors", "test", "NOSUCH"),
        ("deliveries", "show", "dlv_nosuch"),
        ("deliveries", "retry", "dlv_nosuch"),
    ],
)
def test_an_unknown_name_is_one_sentence_and_changes_nothing(any_cli, args):
    any_cli("connectors", "add", any_cli.file(webhook_row("hook", "http://127.0.0.1:9/h")))
    before = any_cli("connectors", "list", "--json").json()
    run = any_cli(*args, check=2)
    assert run.stderr.startswith("error: WB-10") and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    if args[0] == "connectors":
        assert "'hook'" in run.stderr  # the known names are suggested
    assert any_cli("connectors", "list", "--json").json() == before
