"""The throwaway MIT realm: starts fast, issues real tickets, refuses what a KDC refuses."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

import pytest
from writeback_testing._fixtures_windows import KERBEROS_USERS, kerberos_missing_reason
from writeback_testing.kdc import TestKdc
from writeback_testing.services import service_unavailable

if TYPE_CHECKING:
    from pathlib import Path


def kinit(env: dict[str, str], principal: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kinit", principal],
        input=password + "\n",
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_session_kdc_issues_a_ticket_to_a_subprocess(writeback_kdc: TestKdc) -> None:
    # The CLI runs in subprocesses: the realm must reach them through the env given.
    done = kinit(writeback_kdc.env, "alice@WRITEBACK.TEST", KERBEROS_USERS["alice"])
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        ["klist"],
        env={**os.environ, **writeback_kdc.env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "krbtgt/WRITEBACK.TEST@WRITEBACK.TEST" in listed.stdout


def test_the_session_kdc_is_active_in_this_process(writeback_kdc: TestKdc) -> None:
    assert os.environ["KRB5_CONFIG"] == str(writeback_kdc.krb5_conf)
    config = writeback_kdc.krb5_conf.read_text()
    for setting in ("dns_lookup_kdc = false", "dns_canonicalize_hostname = false", "rdns = false"):
        assert setting in config
    assert f"default_keytab_name = FILE:{writeback_kdc.keytab}" in config


def test_wrong_password_and_unknown_user_are_refused(writeback_kdc: TestKdc) -> None:
    wrong = kinit(writeback_kdc.env, "alice@WRITEBACK.TEST", "not-her-password")
    assert wrong.returncode != 0
    assert "Password incorrect" in wrong.stderr
    unknown = kinit(writeback_kdc.env, "nobody@WRITEBACK.TEST", "x")
    assert "not found in Kerberos database" in unknown.stderr


def test_the_down_realm_has_no_kdc_answering(writeback_kdc: TestKdc) -> None:
    done = kinit(writeback_kdc.env, f"alice@{writeback_kdc.down_realm}", "x")
    assert "Cannot contact any KDC" in done.stderr


def test_the_keytab_holds_the_http_service_keys(writeback_kdc: TestKdc) -> None:
    listed = subprocess.run(
        ["klist", "-k", str(writeback_kdc.keytab)], capture_output=True, text=True, timeout=30
    )
    assert "HTTP/127.0.0.1@WRITEBACK.TEST" in listed.stdout
    assert "HTTP/localhost@WRITEBACK.TEST" in listed.stdout


def test_a_realm_of_its_own_starts_and_cleans_up(tmp_path: Path) -> None:
    reason = kerberos_missing_reason()
    if reason:
        service_unavailable(reason)
    kdc = TestKdc({"carol": "Carol-Pw-1"}, realm="OTHER.TEST").start()
    try:
        assert kdc.running
        assert kinit(kdc.env, "carol@OTHER.TEST", "Carol-Pw-1").returncode == 0
        kdc.add_user("dave", "Dave-Pw-2")
        assert kinit(kdc.env, "dave@OTHER.TEST", "Dave-Pw-2").returncode == 0
        directory = kdc.directory
    finally:
        kdc.stop()
    assert not kdc.running
    assert not directory.exists()


def test_activation_is_undone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRB5_CONFIG", "/etc/krb5.conf")
    kdc = TestKdc(directory=tmp_path)
    with kdc.activated():
        assert os.environ["KRB5_CONFIG"] == str(tmp_path / "krb5.conf")
    assert os.environ["KRB5_CONFIG"] == "/etc/krb5.conf"
