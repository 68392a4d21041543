"""Migration 0004 adds ``attempts.code`` and fills it for attempts recorded before."""

from __future__ import annotations

import importlib

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from writeback.store import SCHEMA_REVISION
from writeback.store._engine import create_store_engine, migrate

revision_0004 = importlib.import_module("writeback.store.migrations.versions.0004_attempt_codes")

#: (outcome, status_code, error) as writeback recorded them before 0004, and the code each gets.
OLD_ATTEMPTS = [
    ("delivered", 200, None, None),
    ("retry", 503, 'HTTP 503: {"ok": false}', "WB-361"),
    ("retry", 429, "HTTP 429 (Retry-After 31536000 s, honoured as 86400 s)", "WB-361"),
    ("failed", 400, "HTTP 400: BadRequest: no such job (gave up after 3 attempts)", "WB-360"),
    ("failed", 307, "HTTP 307: redirected to https://o.test/ (not followed)", "WB-362"),
    ("retry", None, "connection failed: [Errno 111] Connection refused (h:443)", "WB-363"),
    ("retry", None, "timed out: no complete answer within 30 s (h:443)", "WB-364"),
    ("failed", 401, "WB-331: Business Central refused the credentials (HTTP 401)", "WB-331"),
    ("retry", None, "WB-350: interrupted by the worker's shutdown; …", "WB-350"),
    ("failed", None, "WB-399: internal error in a plugin: KeyError('subject')", "WB-399"),
    ("failed", None, "something a plugin said", "WB-300"),
    ("failed", None, "WB-12 is not a code: …", "WB-300"),
]  # fmt: skip


def _config(conn) -> Config:
    config = Config()
    config.set_main_option("script_location", "writeback.store:migrations")
    config.attributes["connection"] = conn
    return config


def test_an_upgrade_from_0003_keeps_every_row_and_fills_the_codes(writeback_any_db_url):
    engine = create_store_engine(writeback_any_db_url)
    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), "0003")
            conn.execute(
                text(
                    "INSERT INTO events (id, action, source_app, appointment_key, payload, "
                    "submitted_at) VALUES ('e1', 'create', 'APP', 'A1', '{}', 1.0)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO deliveries (id, event_id, connector_name, action, "
                    "appointment_key, status, attempts, replayed_after, next_attempt_at, "
                    "created_at, updated_at) VALUES ('dlv_1', 'e1', 'hook', 'create', 'A1', "
                    "'dead', :n, 0, 0.0, 1.0, 1.0)"
                ),
                {"n": len(OLD_ATTEMPTS)},
            )
            seq = conn.execute(text("SELECT seq FROM deliveries")).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO attempts (delivery_seq, n, started_at, duration_ms, "
                    "status_code, outcome, error) VALUES (:seq, :n, :n, 1.5, :status, "
                    ":outcome, :error)"
                ),
                [
                    {"seq": seq, "n": n, "status": status, "outcome": outcome, "error": error}
                    for n, (outcome, status, error, _) in enumerate(OLD_ATTEMPTS, 1)
                ],
            )
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0003"

        migrate(engine)

        with engine.begin() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            rows = conn.execute(
                text(
                    "SELECT n, started_at, duration_ms, status_code, outcome, error, code "
                    "FROM attempts ORDER BY n"
                )
            ).all()
    finally:
        engine.dispose()
    assert version == SCHEMA_REVISION
    assert [tuple(r) for r in rows] == [
        (n, float(n), 1.5, status, outcome, error, code)
        for n, (outcome, status, error, code) in enumerate(OLD_ATTEMPTS, 1)
    ]


def test_the_upgrade_reads_in_batches(writeback_any_db_url, monkeypatch):
    """More attempts than one batch: every one is read, none twice."""
    monkeypatch.setattr(revision_0004, "BATCH", 3)
    engine = create_store_engine(writeback_any_db_url)
    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), "0003")
            conn.execute(text("INSERT INTO events VALUES ('e1', 'create', 'APP', 'A1', '{}', 1.0)"))
            conn.execute(
                text(
                    "INSERT INTO deliveries (id, event_id, connector_name, action, "
                    "appointment_key, status, attempts, replayed_after, next_attempt_at, "
                    "created_at, updated_at) VALUES ('dlv_1', 'e1', 'hook', 'create', 'A1', "
                    "'dead', 10, 0, 0.0, 1.0, 1.0)"
                )
            )
            seq = conn.execute(text("SELECT seq FROM deliveries")).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO attempts (delivery_seq, n, started_at, duration_ms, "
                    "outcome, error) VALUES (:seq, :n, 0.0, 0.0, :outcome, :error)"
                ),
                [
                    {
                        "seq": seq,
                        "n": n,
                        "outcome": "delivered" if n % 4 == 0 else "retry",
                        "error": None if n % 4 == 0 else f"WB-3{n:02d}: x",
                    }
                    for n in range(1, 11)
                ],
            )
        migrate(engine)
        with engine.begin() as conn:
            codes = conn.execute(text("SELECT code FROM attempts ORDER BY n")).scalars().all()
    finally:
        engine.dispose()
    assert codes == [None if n % 4 == 0 else f"WB-3{n:02d}" for n in range(1, 11)]


@pytest.mark.parametrize(("outcome", "error", "code"), [(o, e, c) for o, _, e, c in OLD_ATTEMPTS])
def test_legacy_code_reads_each_kind_of_old_text(outcome, error, code):
    assert revision_0004.legacy_code(outcome, error) == code
