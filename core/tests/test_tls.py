"""writeback.tls: which CA bundle the environment names, checked once."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from writeback.plugin import AttemptError
from writeback.tls import CA_BUNDLE_VARIABLES, ca_bundle, named_ca_bundle, ssl_context


def _subjects(context: ssl.SSLContext) -> list[str]:
    return [str(cert["subject"]) for cert in context.get_ca_certs()]


def test_nothing_named_leaves_the_choice_to_the_library():
    blank = {"SSL_CERT_FILE": "", "REQUESTS_CA_BUNDLE": ""}
    for environ in ({}, blank):
        assert named_ca_bundle(environ) is None
        assert ca_bundle(environ) is None
        assert ssl_context(environ) is None


def test_ssl_cert_file_wins_over_requests_ca_bundle(writeback_test_ca_bundle: Path, tmp_path):
    other = tmp_path / "other.pem"
    environ = {"SSL_CERT_FILE": str(writeback_test_ca_bundle), "REQUESTS_CA_BUNDLE": str(other)}
    assert CA_BUNDLE_VARIABLES == ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    assert named_ca_bundle(environ) == ("SSL_CERT_FILE", str(writeback_test_ca_bundle))
    # The loser is never loaded: it does not even exist.
    assert ca_bundle(environ) == str(writeback_test_ca_bundle)
    context = ssl_context(environ)
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    assert len(_subjects(context)) == 1


def test_requests_ca_bundle_counts_when_ssl_cert_file_is_not_set(writeback_test_ca_bundle):
    environ = {"REQUESTS_CA_BUNDLE": str(writeback_test_ca_bundle)}
    assert ca_bundle(environ) == str(writeback_test_ca_bundle)
    context = ssl_context(environ)
    assert context is not None and len(_subjects(context)) == 1


def test_a_directory_is_a_capath(tmp_path: Path):
    assert ca_bundle({"SSL_CERT_FILE": str(tmp_path)}) == str(tmp_path)
    assert isinstance(ssl_context({"SSL_CERT_FILE": str(tmp_path)}), ssl.SSLContext)


@pytest.mark.parametrize("check", [ca_bundle, ssl_context])
def test_a_bad_bundle_is_one_clear_sentence(check, tmp_path: Path):
    missing, garbage = tmp_path / "missing.pem", tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    for path, variable in ((missing, "SSL_CERT_FILE"), (garbage, "REQUESTS_CA_BUNDLE")):
        with pytest.raises(AttemptError) as caught:
            check({variable: str(path)})
        message = caught.value.message
        assert message.startswith(f"the CA bundle {path} named by {variable} cannot be loaded (")
        assert message.endswith(f"point {variable} at a readable PEM bundle or unset it.")
        assert (caught.value.code, caught.value.retryable) == ("WB-300", False)


def test_the_caller_chooses_the_code_of_a_bad_bundle(tmp_path: Path):
    environ = {"SSL_CERT_FILE": str(tmp_path / "missing.pem")}
    for check in (ca_bundle, ssl_context):
        with pytest.raises(AttemptError) as caught:
            check(environ, code="WB-315", retryable=True)
        assert (caught.value.code, caught.value.retryable) == ("WB-315", True)


def test_the_process_environment_is_the_default(writeback_test_ca_bundle, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(writeback_test_ca_bundle))
    assert ca_bundle() == str(writeback_test_ca_bundle)


def test_importing_it_loads_no_http_library():
    code = (
        "import sys, writeback.tls; "
        "print(sorted({'httpx', 'requests', 'urllib3'} & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
