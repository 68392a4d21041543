from __future__ import annotations

import logging
import os
import stat

import pytest
from cryptography.fernet import Fernet
from writeback import Dispatcher
from writeback._errors import SecretKeyError
from writeback._secrets import REDACTOR, RedactingFilter, SecretBox, mask_row
from writeback.store import Store

from .conftest import row

SECRET = "pa55-Wörd-xyz-123"


def test_secret_is_encrypted_at_rest_and_key_file_is_private(tmp_path, registry, monkeypatch):
    monkeypatch.delenv("WRITEBACK_SECRET_KEY", raising=False)
    db = tmp_path / "wb.db"
    with Dispatcher(Store.open(f"sqlite:///{db}"), registry) as wb:
        wb.connectors.add(row(auth={"method": "key", "password": SECRET}))
        assert wb.connectors.load("f1").auth_settings.password.get_secret_value() == SECRET
        assert wb.connectors.get("f1").masked()["auth"]["password"] == "***"
    for path in tmp_path.iterdir():
        assert SECRET.encode() not in path.read_bytes(), path
    key_file = tmp_path / "wb.db.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_env_key_is_used_and_a_wrong_key_is_a_clear_error(tmp_path, registry, monkeypatch):
    monkeypatch.setenv("WRITEBACK_SECRET_KEY", Fernet.generate_key().decode())
    url = f"sqlite:///{tmp_path}/wb.db"
    with Dispatcher(Store.open(url), registry) as wb:
        wb.connectors.add(row())
    assert not (tmp_path / "wb.db.key").exists()
    monkeypatch.setenv("WRITEBACK_SECRET_KEY", Fernet.generate_key().decode())
    with (
        Dispatcher(Store.open(url), registry) as wb,
        pytest.raises(SecretKeyError, match=r"auth\.password"),
    ):
        wb.connectors.load("f1")


def test_env_references_are_kept_and_shown():
    masked = mask_row(
        {"auth": {"password": "env:PW"}, "options": {"token": "x"}},
        ["auth.password", "options.token"],
    )
    assert masked == {"auth": {"password": "env:PW"}, "options": {"token": "***"}}
    box = SecretBox(Fernet.generate_key())
    sealed = box.seal({"auth": {"password": "env:PW"}}, ["auth.password"])
    assert sealed["auth"]["password"] == "env:PW"


def test_logs_are_redacted(caplog):
    REDACTOR.add("log-secret-42")
    logger = logging.getLogger("writeback.test")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="writeback.test"):
        logger.info("token is %s", "log-secret-42")
    assert "log-secret-42" not in caplog.text and "***" in caplog.text


def test_a_stored_rows_printed_form_masks_a_query_token(tmp_path, registry, monkeypatch):
    monkeypatch.delenv("WRITEBACK_SECRET_KEY", raising=False)
    with Dispatcher(Store.open(f"sqlite:///{tmp_path}/wb.db"), registry) as wb:
        wb.connectors.add(row(uri="https://bo.example.com/hook?access_token=t0ps3cret&x=1"))
        printed = wb.connectors.get("f1").masked()["uri"]
    assert "t0ps3cret" not in printed
    assert printed.startswith("https://bo.example.com/hook?") and "x=1" in printed
