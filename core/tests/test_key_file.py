"""The key file: made once, whole and private, whoever gets there first; never silently replaced."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from writeback._errors import SecretKeyError
from writeback._secrets import SecretBox


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch):
    monkeypatch.delenv("WRITEBACK_SECRET_KEY", raising=False)


def opens(box: SecretBox, key: bytes) -> bool:
    return box.open_text(Fernet(key).encrypt(b"probe").decode()) == "probe"


def test_a_key_another_process_makes_meanwhile_is_the_one_used(tmp_path, monkeypatch):
    """Between finding no key file and making one, another process makes it: its key wins."""
    key_file = tmp_path / "wb.db.key"
    theirs = Fernet.generate_key()
    generate = Fernet.generate_key

    def another_process_first() -> bytes:
        if not key_file.exists():
            key_file.write_bytes(theirs + b"\n")
        return generate()

    monkeypatch.setattr(Fernet, "generate_key", staticmethod(another_process_first))
    box = SecretBox.for_key_file(key_file)
    assert opens(box, theirs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wb.db.key"]  # no temporary left


def test_the_key_file_appears_whole_and_private(tmp_path, monkeypatch):
    key_file = tmp_path / "sub" / "wb.db.key"
    seen: list[tuple[bytes, int]] = []
    link = os.link

    def watching(src: str, dst: str) -> None:
        seen.append((Path(src).read_bytes(), stat.S_IMODE(os.stat(src).st_mode)))
        link(src, dst)

    monkeypatch.setattr(os, "link", watching)
    box = SecretBox.for_key_file(key_file)
    [(content, mode)] = seen
    assert mode == 0o600 and opens(box, content.strip())
    assert key_file.read_bytes() == content
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_missing_key_file_is_refused_when_secrets_are_stored(tmp_path):
    key_file = tmp_path / "wb.db.key"
    with pytest.raises(SecretKeyError, match="restore the file") as caught:
        SecretBox.for_key_file(key_file, holds_secrets=lambda: True)
    assert str(key_file) in str(caught.value) and "WRITEBACK_SECRET_KEY" in str(caught.value)
    assert not key_file.exists()
    SecretBox.for_key_file(key_file, holds_secrets=lambda: False)
    assert key_file.exists()


def test_a_literal_that_looks_sealed_is_sealed_and_opened_back():
    box = SecretBox(Fernet.generate_key())
    row = {"auth": {"password": "fernet:not-a-token", "username": "fernet:bob"}}
    sealed = box.seal(row, ["auth.password"])
    assert sealed["auth"]["password"] != "fernet:not-a-token"
    assert box.open(sealed, ["auth.password"]) == row
