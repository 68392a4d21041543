"""A store made by the previous schema (0004) with real data: refused until
'db upgrade', which keeps every row."""

from __future__ import annotations

import json

from alembic import command
from alembic.config import Config
from cryptography.fernet import Fernet
from sqlalchemy import text
from writeback.store import SCHEMA_REVISION, create_store_engine

from .conftest import webhook_row

TABLES = ("connectors", "events", "deliveries", "attempts", "tokens")
STATUSES = ("pending", "delivered", "dead", "superseded")
PASSWORD = "Upgr4de-Pa55"


def _build_0004(url: str, key: bytes) -> None:
    engine = create_store_engine(url)
    sealed = "fernet:" + Fernet(key).encrypt(PASSWORD.encode()).decode()
    row = webhook_row(
        "hook",
        "https://bo.example.com/h",
        auth={"method": "basic", "username": "u", "password": sealed},
    )
    try:
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", "writeback.store:migrations")
            config.attributes["connection"] = conn
            command.upgrade(config, "0004")
            conn.execute(
                text(
                    "INSERT INTO connectors (name, type, api_type, auth_method, enabled, "
                    "source_app, row, secret_paths, created_at, updated_at) VALUES ('hook', "
                    "'webhook', 'json', 'basic', true, 'CRONUSUS', :row, "
                    "'[\"auth.password\"]', 1.0, 1.0)"
                ),
                {"row": json.dumps(row)},
            )
            for n, status in enumerate(STATUSES, 1):
                conn.execute(
                    text("INSERT INTO events VALUES (:id, 'create', 'CRONUSUS', :k, '{}', 1.0)"),
                    {"id": f"e{n}", "k": f"A{n}"},
                )
                conn.execute(
                    text(
                        "INSERT INTO deliveries (id, event_id, connector_id, connector_name, "
                        "action, appointment_key, status, attempts, replayed_after, "
                        "next_attempt_at, created_at, updated_at) VALUES (:id, :e, 1, 'hook', "
                        "'create', :k, :s, 1, 0, 9e9, 1.0, 1.0)"
                    ),
                    {"id": f"dlv_{n}", "e": f"e{n}", "k": f"A{n}", "s": status},
                )
                conn.execute(
                    text(
                        "INSERT INTO attempts (delivery_seq, n, started_at, duration_ms, "
                        "status_code, outcome, error, code) VALUES (:seq, 1, 1.0, 2.0, 503, "
                        "'retry', 'HTTP 503', 'WB-361')"
                    ),
                    {"seq": n},
                )
            conn.execute(
                text(
                    "INSERT INTO tokens (key, sealed_token, obtained_at, expires_at, generation, "
                    "updated_at) VALUES ('t1', :t, 1.0, 9e9, 3, 1.0)"
                ),
                {"t": Fernet(key).encrypt(b'{"access_token": "tok"}').decode()},
            )
    finally:
        engine.dispose()


def _dump(url: str) -> dict[str, list[tuple]]:
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            dump = {
                "alembic_version": [
                    tuple(r) for r in conn.execute(text("SELECT * FROM alembic_version"))
                ]
            }
            for table in TABLES:
                dump[table] = sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}")))
            return dump
    finally:
        engine.dispose()


def test_an_old_store_is_refused_until_upgraded_and_keeps_every_row(cli, writeback_any_db_url):
    cli.db_url = writeback_any_db_url
    key = Fernet.generate_key()
    cli.env["WRITEBACK_SECRET_KEY"] = key.decode()
    _build_0004(cli.db_url, key)
    before = _dump(cli.db_url)
    for args in (
        ["connectors", "list"],
        ["deliveries", "stats"],
        ["worker", "--until-idle"],
        ["keys", "rotate"],
    ):
        refused = cli(*args, check=2)
        assert "WB-402" in refused.stderr and "writeback db upgrade" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert _dump(cli.db_url) == before  # nothing changed
    status = cli("db", "status", "--json", check=1).json()
    assert status == {"revision": "0004", "expected": SCHEMA_REVISION, "state": "older"}
    upgraded = cli("db", "upgrade")
    assert f"from revision 0004 to {SCHEMA_REVISION}" in upgraded.stdout
    assert "nothing to do" in cli("db", "upgrade").stdout
    after = _dump(cli.db_url)
    assert after["alembic_version"] == [(SCHEMA_REVISION,)]
    for table in TABLES:  # every old row, every old column, unchanged
        assert [r[: len(before[table][0])] for r in after[table]] == before[table], table
    [hook] = cli("connectors", "list", "--json").json()
    assert hook["name"] == "hook" and hook["auth"]["password"] == "***"
    listed = cli("deliveries", "list", "--json").json()
    assert sorted(d["status"] for d in listed) == sorted(STATUSES)
    assert PASSWORD not in "".join(cli.outputs)


def test_a_newer_store_names_its_revision(cli):
    cli("db", "upgrade")
    engine = create_store_engine(cli.db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    for args in (["connectors", "list"], ["db", "upgrade"]):
        refused = cli(*args, check=2)
        assert "'9999'" in refused.stderr and "upgrade writeback" in refused.stderr
