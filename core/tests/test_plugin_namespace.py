"""``writeback`` is the host API, ``writeback.plugin`` what a plugin imports; old imports warn."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import warnings
from typing import Any

import pytest
import writeback
import writeback.plugin
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from writeback import InvalidConnectorError, hookimpl
from writeback.plugin import (
    AuthMechanismBase,
    ConnectorTypeBase,
    Delivery,
    OutboundMessage,
    Pipeline,
    PipelineContext,
    TransportOptions,
    validate_connector,
)

from .conftest import SCRIPT, fake_registry, row

HOST_API = [
    "AppointmentEvent",
    "AsyncDispatcher",
    "Connector",
    "ConnectorNotFoundError",
    "ConnectorView",
    "DeliveryNotFoundError",
    "DeliveryPage",
    "DeliveryView",
    "Dispatcher",
    "InvalidConnectorError",
    "InvalidEventError",
    "RetryPolicy",
    "SchemaVersionError",
    "StatsView",
    "SubmitResult",
    "Throttle",
    "UserError",
    "WorkerRunner",
    "WritebackError",
    "__version__",
    "hookimpl",
]

PLUGIN_API = [
    "ANSWER_LIMIT",
    "CA_BUNDLE_VARIABLES",
    "DEFAULT_VARIANT",
    "NO_AUTH",
    "TRANSPORTS",
    "ApiFormat",
    "ApiFormatSpec",
    "AttemptAuth",
    "AttemptError",
    "AttemptFinished",
    "AttemptResult",
    "AuthMechanism",
    "AuthMechanismBase",
    "AuthMethodSpec",
    "AuthRule",
    "BatchRefused",
    "CommandSpec",
    "Connector",
    "ConnectorType",
    "ConnectorTypeBase",
    "ConnectorTypeSpec",
    "Deadline",
    "DeadlinePassed",
    "Delivery",
    "EnvSecretMissingError",
    "HeaderAuth",
    "NoSettings",
    "OutboundBatch",
    "OutboundMessage",
    "Outcome",
    "Pipeline",
    "PipelineContext",
    "PluginRegistry",
    "ProbeReport",
    "ThrottleDefaults",
    "Token",
    "TokenAuthMechanismBase",
    "TokenSource",
    "TransportAuth",
    "TransportOptions",
    "ValidatedConnector",
    "WatchedAdapter",
    "add_basic_secret",
    "add_secret",
    "bad_token_answer",
    "ca_bundle",
    "classify_status",
    "conformance_problems",
    "connection_cause",
    "connection_failure",
    "current_deadline",
    "deadline_passed",
    "endpoint_of",
    "error_text",
    "exception_chain",
    "hookimpl",
    "mask_uri",
    "parse_retry_after",
    "redact",
    "redirect_target",
    "run_with_deadline",
    "secret_safe_logger",
    "ssl_context",
    "token_adapter",
    "token_connection_error",
    "token_deadline",
    "token_error_from_cause",
    "token_event_hooks",
    "token_http_error",
    "token_oauth_error",
    "token_timeout",
    "token_tls_error",
    "validate_connector",
]

#: What ``writeback`` exported before ``writeback.plugin``, beside the host API.
MOVED = sorted(writeback._MOVED)


def test_writeback_exports_the_host_api_only() -> None:
    assert writeback.__all__ == HOST_API
    for name in HOST_API:
        assert getattr(writeback, name) is not None


def test_writeback_plugin_exports_exactly_the_plugin_api() -> None:
    assert writeback.plugin.__all__ == PLUGIN_API
    for name in PLUGIN_API:
        assert getattr(writeback.plugin, name) is not None


@pytest.mark.parametrize("name", MOVED)
def test_an_old_import_from_writeback_works_and_names_the_new_place(name: str) -> None:
    where = "writeback.hookspecs" if name == "hookspec" else "writeback.plugin"
    message = f"writeback.{name} is deprecated; import it from {where}"
    with pytest.warns(DeprecationWarning, match=f"^{message}$"):
        value = getattr(writeback, name)
    assert value is getattr(sys.modules[where], name)


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        writeback.Nope  # noqa: B018


def test_importing_writeback_plugin_loads_no_protocol_library_or_database() -> None:
    code = (
        "import sys, writeback.plugin\n"
        "heavy = ('sqlalchemy', 'httpx', 'zeep', 'msal', 'authlib', 'requests')\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


# -- a third-party plugin written against the docs of the previous release ------------


def _legacy_plugin() -> Any:
    """A connector type as docs/plugin-authoring.md showed it: imports from ``writeback``."""
    from writeback import AuthRule, ConnectorTypeSpec  # type: ignore[attr-defined]
    from writeback import ConnectorTypeBase as OldBase  # type: ignore[attr-defined]
    from writeback import OutboundMessage as OldMessage  # type: ignore[attr-defined]

    class Echo(OldBase):  # type: ignore[misc,valid-type]
        def build_message(self, delivery: Any) -> Any:
            return OldMessage(url=self.context.connector.uri, payload={"id": delivery.id})

    class LegacyPlugin:
        @hookimpl
        def writeback_connector_types(self) -> list[Any]:
            return [
                ConnectorTypeSpec(
                    name="legacy",
                    summary="written against the old docs",
                    formats=("wire",),
                    auth_rules=(AuthRule(api_format="wire", methods=("none",)),),
                    factory=Echo,
                )
            ]

    return LegacyPlugin()


def test_a_plugin_importing_from_writeback_still_delivers_and_is_warned() -> None:
    with pytest.warns(DeprecationWarning, match="import it from writeback.plugin") as caught:
        plugin = _legacy_plugin()
    assert {str(w.message).split(" is ")[0] for w in caught} == {
        "writeback.AuthRule",
        "writeback.ConnectorTypeSpec",
        "writeback.ConnectorTypeBase",
        "writeback.OutboundMessage",
    }
    registry = fake_registry()
    registry.register(plugin, name="legacy", distribution="legacy-dist", version="0.9")
    connector = validate_connector(
        row(type="legacy", auth={"method": "none"}, uri="https://legacy.example/in"), registry
    )
    SCRIPT.sent.clear()

    async def send() -> Any:
        pipeline = Pipeline.build(connector)
        try:
            return await pipeline.send(
                Delivery(id="d1", event_id="e1", action="create", appointment={}, occurred_at=None)
            )
        finally:
            await pipeline.aclose()

    assert asyncio.run(send()).status_code == 200
    assert SCRIPT.sent[-1].payload == {"id": "d1"}


# -- typed options and settings; the core's transport options ---------------------------


class Options(TransportOptions):
    model_config = ConfigDict(extra="forbid", frozen=True)
    greeting: str = Field(default="hi", description="What to say.")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    password: SecretStr = Field(description="The key.")


class TypedType(ConnectorTypeBase[Options]):
    def build_message(self, delivery: Delivery) -> OutboundMessage:
        return OutboundMessage(self.context.connector.uri, payload=self.options.greeting)


class TypedAuth(AuthMechanismBase[Settings]):
    def for_transport(self, transport: str) -> Any:
        return self.settings.password


def _context(options: BaseModel, settings: BaseModel, **more: Any) -> PipelineContext:
    return PipelineContext(
        connector=None,  # type: ignore[arg-type]
        options=options,
        auth_settings=settings,
        variant="default",
        transport="httpx",
        reveal=lambda secret: None,
        **more,
    )


def test_the_bases_hand_a_plugin_its_own_parsed_models() -> None:
    options, settings = Options(greeting="hello"), Settings(password=SecretStr("k-1"))
    context = _context(options, settings)
    assert TypedType(context).options is options
    assert TypedAuth(context).settings is settings


def test_the_core_fills_timeout_and_consent_from_transport_options() -> None:
    registry = fake_registry()
    plain = validate_connector(row(), registry).context()
    assert (plain.timeout, plain.allow_insecure_http) == (30.0, False)


def test_transport_options_bound_the_timeout() -> None:
    assert Options(timeout=2.5, allow_insecure_http=True).timeout == 2.5
    with pytest.raises(ValueError, match="less than or equal to 600"):
        Options(timeout=601)
    for name, info in TransportOptions.model_fields.items():
        assert info.description, name


def test_a_credential_in_clear_is_refused_for_any_type(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = fake_registry()
    with pytest.raises(InvalidConnectorError) as caught:
        validate_connector(row(uri="http://bo.example.com/hook"), registry)
    # ``fake``'s options do not extend TransportOptions: there is no consent to offer.
    assert caught.value.problems == [
        "uri 'http://bo.example.com/hook': auth.method 'key' would send the credentials in "
        "clear over http://; use an https:// uri."
    ]
    assert validate_connector(row(uri="http://127.0.0.1:9/hook"), registry).name == "f1"
    unauthenticated = row(uri="http://bo.example.com/hook", auth={"method": "none"})
    assert validate_connector(unauthenticated, registry).name == "f1"


def test_no_warning_for_the_host_api() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from writeback import (  # noqa: F401
            AppointmentEvent,
            Connector,
            Dispatcher,
            RetryPolicy,
            Throttle,
            hookimpl,
        )
