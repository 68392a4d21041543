"""Fixtures for the json format's tests: a pipeline context and a throwaway CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from writeback import Connector, Throttle
from writeback._secrets import reveal
from writeback.plugin import AuthMechanism, NoSettings, PipelineContext


@pytest.fixture
def make_context() -> Callable[..., PipelineContext]:
    """``make_context(uri=…, throttle=…, timeout=…, auth=…)``: a json connector's context."""

    def make(
        uri: str = "https://bc.example.com:7048/api/appointments",
        *,
        throttle: Throttle | None = None,
        timeout: float | None = None,
        auth: AuthMechanism | None = None,
    ) -> PipelineContext:
        connector = Connector(
            name="test",
            type="webhook",
            uri=uri,
            api_type="json",
            source_app="CRONUSUS",
            throttle=throttle,
        )
        return PipelineContext(
            connector=connector,
            options=NoSettings(),
            auth_settings=NoSettings(),
            variant="default",
            transport="httpx",
            reveal=reveal,
            auth=auth,
            # What the core fills from a row's options.timeout (TransportOptions).
            timeout=30.0 if timeout is None else timeout,
        )

    return make


@dataclass(frozen=True)
class LocalCA:
    """A CA (``ca_pem``) and a server context with a leaf it signed for 127.0.0.1."""

    ca_pem: Path
    server_context: ssl.SSLContext


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(obj: Any) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    folder = tmp_path_factory.mktemp("ca")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("writeback test CA"))
        .issuer_name(_name("writeback test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = folder / "ca.pem"
    ca_pem.write_bytes(_pem(ca_cert))
    chain = folder / "leaf.pem"
    chain.write_bytes(_pem(leaf_cert))
    key = folder / "leaf.key"
    key.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    return LocalCA(ca_pem=ca_pem, server_context=context)
