"""Fixtures for the soap format's tests: a test-local connector type and contexts.

Until a real ``bc``/``nav`` type is at hand these tests build the pipeline
context by hand: a ``soap`` connector against the page simulator, with Basic
auth over requests (the ``basic`` plugin's real mechanism) or none.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
import ssl
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel, SecretStr
from writeback import Connector, Throttle
from writeback._secrets import reveal
from writeback.plugin import (
    AuthMechanism,
    AuthRule,
    ConnectorTypeSpec,
    NoSettings,
    PipelineContext,
    PluginRegistry,
    TransportOptions,
)
from writeback_testing.standin import standin_registry

T = TypeVar("T")

USER, PASSWORD = "WEBUSER", "s3cret-Pa55!"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def credentials() -> tuple[str, str]:
    """The user name and password the ``basic`` contexts and rows use."""
    return USER, PASSWORD


@pytest.fixture
def make_context() -> Callable[..., PipelineContext]:
    """``make_context(uri, auth=None|"basic", password=…, throttle=…, timeout=…)``."""

    def make(
        uri: str,
        *,
        auth: str | None = None,
        password: str = PASSWORD,
        throttle: Throttle | None = None,
        timeout: float | None = None,
        options: dict[str, Any] | None = None,
    ) -> PipelineContext:
        row_auth: dict[str, Any] = {"method": "none"}
        settings: BaseModel = NoSettings()
        if auth == "basic":
            from writeback_auth_basic import BasicSettings

            settings = BasicSettings(username=USER, password=SecretStr(password))
            row_auth = {"method": "basic", "username": USER, "password": password}
        connector = Connector(
            name="soap-test",
            type="nav",
            uri=uri,
            api_type="soap",
            source_app="CRONUSUS",
            auth=row_auth,
            throttle=throttle,
            options=options or {},
        )
        context = PipelineContext(
            connector=connector,
            options=NoSettings(),
            auth_settings=settings,
            variant="default",
            transport="requests",
            reveal=reveal,
            # What the core fills from a row's options.timeout (TransportOptions).
            timeout=30.0 if timeout is None else timeout,
        )
        mechanism: AuthMechanism | None = None
        if auth == "basic":
            from writeback_auth_basic import BasicAuthMechanism

            mechanism = BasicAuthMechanism(context)
        return dataclasses.replace(context, auth=mechanism)

    return make


class PageType:
    """A test-local connector type: the appointment's fields as page fields, ``Create``.

    Stands in for ``bc``/``nav`` so that this distribution's tests need only the
    format, the core and the ``basic`` auth plugin.
    """

    FIELDS = {
        "action": "Database_Action",
        "sourceApp": "Source_App",
        "appointmentGuid": "Appointment_Guid",
        "subject": "Subject",
        "start": "Start_Date_Time",
        "isAllDayEvent": "Is_All_Day_Event",
        "planningQuantity": "Planning_Quantity",
        "colour": "Colour",  # not on any page: the format must leave it out
    }

    def __init__(self, context: PipelineContext) -> None:
        self.context = context

    def build_message(self, delivery: Any) -> Any:
        from writeback.plugin import OutboundMessage

        letter = {"create": "I", "update": "U", "delete": "D"}[delivery.action]
        source = {**delivery.appointment, "action": letter}
        payload = {page: source.get(key) for key, page in self.FIELDS.items()}
        return OutboundMessage(url=self.context.connector.uri, operation="Create", payload=payload)

    def review(self, result: Any) -> Any:
        return result

    def probe_message(self) -> Any:
        from writeback.plugin import OutboundMessage

        return OutboundMessage(url=self.context.connector.uri, method="GET")

    def judge_probe(self, result: Any) -> Any:
        from writeback.plugin import ConnectorTypeBase

        return ConnectorTypeBase.judge_probe(self, result)  # type: ignore[arg-type]


class PageOptions(TransportOptions):
    """The test-local type's options: the core's timeout and allow_insecure_http."""


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    """The installed soap format and auth methods, plus the test-local ``page`` type."""
    page = ConnectorTypeSpec(
        name="page",
        summary="test-local SOAP page type",
        formats=("soap",),
        auth_rules=(AuthRule(api_format="soap", methods=("none", "basic", "ntlm", "windows")),),
        factory=PageType,
        options_model=PageOptions,
    )
    # ``windows`` (ntlm, windows) when writeback-auth-windows is installed.
    return standin_registry({"soap", "basic", "windows"}, types=[page])


@pytest.fixture
def page_row() -> Callable[..., dict[str, Any]]:
    """``page_row(uri, auth=None|"basic", password=…, **more)``: a ``page`` connector row."""

    def make(uri: str, *, auth: str | None = None, password: str = PASSWORD, **more: Any):
        row: dict[str, Any] = {
            "name": "page-test",
            "type": "page",
            "uri": uri,
            "api_type": "soap",
            "source_app": "CRONUSUS",
            "auth": {"method": "none"},
        }
        if auth == "basic":
            row["auth"] = {"method": "basic", "username": USER, "password": password}
        return {**row, **more}

    return make


@dataclasses.dataclass(frozen=True)
class LocalCA:
    """A CA (``ca_pem``) and a server context with a leaf it signed for 127.0.0.1."""

    ca_pem: Path
    server_context: ssl.SSLContext


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    """A throwaway CA and a TLS server context for ``127.0.0.1`` (cryptography, ~10 ms)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    folder = tmp_path_factory.mktemp("soap-ca")
    now = dt.datetime.now(dt.UTC)
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )

    def builder(subject: str, issuer: str, key: Any) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
        )

    ca = (
        builder("writeback soap test CA", "writeback soap test CA", ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        builder("127.0.0.1", "writeback soap test CA", leaf_key)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (folder / "leaf.key").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "leaf.pem", folder / "leaf.key")
    return LocalCA(ca_pem=folder / "ca.pem", server_context=context)
