"""Key rotation with a worker delivering throughout, checked by a receiver that
insists on the password on every request; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import MetaData, select, text
from writeback.store import create_store_engine

from .conftest import appointment_event, webhook_row

PASSWORD = "R0tate-Me-Pa55word"


def _sealed_password(url: str) -> str:
    engine = create_store_engine(url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT row FROM connectors")).scalar_one()
    engine.dispose()
    return json.loads(row)["auth"]["password"].removeprefix("fernet:")


def _everything_stored(url: str) -> str:
    """Every value of every table of the store, as text (what a dump would show)."""
    engine = create_store_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            rows = [conn.execute(select(table)).all() for table in meta.sorted_tables]
        return "\n".join(repr(tuple(row)) for table in rows for row in table)
    finally:
        engine.dispose()


def _dispatch(cli, first: int, n: int) -> None:
    events = [appointment_event("create", f"G{i}") for i in range(first, first + n)]
    cli("dispatch", cli.file("\n".join(json.dumps(e) for e in events), ".jsonl"))


def test_rotation_while_a_worker_delivers(any_cli, writeback_receiver_factory, tmp_path):
    cli = any_cli
    rx = writeback_receiver_factory(basic_auth=("planner", PASSWORD))
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    cli.env["WRITEBACK_SECRET_KEY"] = old
    auth = {"method": "basic", "username": "planner", "password": PASSWORD}
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url, auth=auth)))
    _dispatch(cli, 0, 5)
    # Step 1 of the procedure: the running worker knows both keys, OLD still first.
    worker = subprocess.Popen(
        [sys.executable, "-m", "writeback", "--db", cli.db_url, "worker"],
        env={**cli.env, "WRITEBACK_SECRET_KEY": f"{old},{new}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        rx.wait_for(5, timeout=60)
        cli.env["WRITEBACK_SECRET_KEY"] = f"{new},{old}"
        _dispatch(cli, 5, 5)
        rotated = cli("keys", "rotate", "--json").json()
        assert rotated["connectors"] == 1 and rotated["secrets"] == 1
        assert cli("keys", "rotate", "--json").json()["secrets"] == 0  # nothing left
        _dispatch(cli, 10, 5)
        rx.wait_for(15, timeout=60)
        # A later worker has only the new key.
        cli.env["WRITEBACK_SECRET_KEY"] = new
        _dispatch(cli, 15, 5)
        cli("worker", "--until-idle")
        rx.wait_for(20, timeout=60)
    finally:
        worker.terminate()
        _, stderr = worker.communicate(timeout=60)
    assert rx.count(401) == 0  # the password arrived right on every request
    assert len(rx.deliveries) == 20 and len({r.body for r in rx.deliveries}) == 20
    sealed = _sealed_password(cli.db_url)
    with pytest.raises(InvalidToken):
        Fernet(old.encode()).decrypt(sealed)
    assert Fernet(new.encode()).decrypt(sealed).decode() == PASSWORD
    stored = _everything_stored(cli.db_url)
    assert "fernet:" in stored and PASSWORD not in stored
    for path in tmp_path.iterdir():  # the SQLite file (and its journal) among them
        if path.is_file() and not path.name.startswith("input-"):
            assert PASSWORD.encode() not in path.read_bytes(), path.name
    assert PASSWORD not in "".join(cli.outputs) + stderr


def test_a_key_file_rotation_writes_a_new_key_and_drops_the_old(cli, writeback_receiver_factory):
    rx = writeback_receiver_factory(basic_auth=("planner", PASSWORD))
    auth = {"method": "basic", "username": "planner", "password": PASSWORD}
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url, auth=auth)))
    key_file = cli.tmp_path / "writeback.db.key"
    old = key_file.read_bytes().strip()
    done = cli("keys", "rotate")
    assert str(key_file) in done.stdout and "1 secret(s)" in done.stdout
    [new] = key_file.read_bytes().split()
    assert new != old
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(_sealed_password(cli.db_url))
    _dispatch(cli, 0, 2)
    cli("worker", "--until-idle")
    assert len(rx.deliveries) == 2 and rx.count(401) == 0


def test_a_key_that_is_not_fernet_is_named_by_position(any_cli):
    cli = any_cli
    good = Fernet.generate_key().decode()
    cli.env["WRITEBACK_SECRET_KEY"] = good
    cli("connectors", "list")
    cli.env["WRITEBACK_SECRET_KEY"] = f"{good},not-a-key-at-all"
    for args in (["keys", "rotate"], ["connectors", "list"]):
        refused = cli(*args, check=2)
        assert "WRITEBACK_SECRET_KEY item 2 of 2 is not a valid Fernet key" in refused.stderr
        assert "not-a-key-at-all" not in refused.stderr and good not in refused.stderr
        assert "Traceback" not in refused.stderr
