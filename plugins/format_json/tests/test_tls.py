"""Which CA bundle the json format trusts: the one the standard variables name."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from writeback.plugin import AttemptError
from writeback_json._tls import verify_setting

if TYPE_CHECKING:
    from conftest import LocalCA

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def subjects(context: ssl.SSLContext | bool) -> list[str]:
    assert isinstance(context, ssl.SSLContext)
    return [dict(item[0] for item in ca["subject"])["commonName"] for ca in context.get_ca_certs()]


def test_no_variable_leaves_httpx_default() -> None:
    assert verify_setting({}) is True
    assert verify_setting({"SSL_CERT_FILE": "", "REQUESTS_CA_BUNDLE": ""}) is True


def test_ssl_cert_file_is_loaded(test_ca: LocalCA) -> None:
    context = verify_setting({"SSL_CERT_FILE": str(test_ca.ca_pem)})
    assert subjects(context) == ["writeback test CA"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_requests_ca_bundle_is_used_when_ssl_cert_file_is_not_set(test_ca: LocalCA) -> None:
    context = verify_setting({"REQUESTS_CA_BUNDLE": str(test_ca.ca_pem)})
    assert subjects(context) == ["writeback test CA"]


def test_ssl_cert_file_wins_over_requests_ca_bundle(test_ca: LocalCA) -> None:
    context = verify_setting(
        {"SSL_CERT_FILE": str(test_ca.ca_pem), "REQUESTS_CA_BUNDLE": SYSTEM_BUNDLE}
    )
    assert subjects(context) == ["writeback test CA"]


def test_a_folder_is_taken_as_a_ca_directory(tmp_path: Path) -> None:
    assert isinstance(verify_setting({"REQUESTS_CA_BUNDLE": str(tmp_path)}), ssl.SSLContext)


def test_an_unreadable_bundle_fails_naming_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(AttemptError) as caught:
        verify_setting({"SSL_CERT_FILE": str(missing)})
    assert caught.value.retryable is False
    assert f"the CA bundle {missing} named by SSL_CERT_FILE cannot be loaded" in str(caught.value)
