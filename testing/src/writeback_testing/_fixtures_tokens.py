"""pytest fixtures: an OAuth2 authorization server, an Entra-style authority, a test CA.

Each server is started for the test and stopped after it.  The Entra authority
speaks HTTPS with a certificate from ``writeback_test_ca``; a client trusts it
only when told to, e.g. with ``writeback_trust_test_ca`` (which points
``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE`` at a bundle holding the test CA).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from writeback_testing.entra import EntraAuthority, TestCA
    from writeback_testing.oauth2_server import OAuth2Server


@pytest.fixture(scope="session")
def writeback_test_ca() -> TestCA:
    """A throwaway CA (trustme) for the session; ``.server_context()`` serves 127.0.0.1."""
    from writeback_testing.entra import TestCA

    return TestCA()


@pytest.fixture(scope="session")
def writeback_test_ca_bundle(
    writeback_test_ca: TestCA, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A PEM file holding the test CA's certificate (and nothing else)."""
    folder = tmp_path_factory.mktemp("test-ca")
    return writeback_test_ca.write_bundle(folder / "test-ca.pem")


@pytest.fixture
def writeback_trust_test_ca(
    writeback_test_ca_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point ``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE`` at the test CA for this test."""
    monkeypatch.setenv("SSL_CERT_FILE", str(writeback_test_ca_bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(writeback_test_ca_bundle))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    return writeback_test_ca_bundle


@pytest.fixture
def writeback_oauth2_server() -> Iterator[OAuth2Server]:
    """A started :class:`~writeback_testing.oauth2_server.OAuth2Server` (tokens live 1 h).

    Register clients with ``.register(id, secret, method=...)``; its token URL is
    ``.token_url``; ``.token_requests`` counts what it received.
    """
    from writeback_testing.oauth2_server import OAuth2Server

    with OAuth2Server() as server:
        yield server


@pytest.fixture
def writeback_entra_authority(writeback_test_ca: TestCA) -> Iterator[EntraAuthority]:
    """A started :class:`~writeback_testing.entra.EntraAuthority` for tenant ``contoso``,
    on HTTPS signed by ``writeback_test_ca`` (its ``.url`` is the connector's ``authority``)."""
    from writeback_testing.entra import EntraAuthority

    with EntraAuthority(writeback_test_ca.server_context()) as authority:
        yield authority
