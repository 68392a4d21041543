"""Fixtures for core tests: a scripted in-memory plugin, so the core is tested alone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from writeback import hookimpl
from writeback.plugin import (
    ApiFormatSpec,
    AttemptAuth,
    AttemptResult,
    AuthMechanismBase,
    AuthMethodSpec,
    AuthRule,
    ConnectorTypeBase,
    ConnectorTypeSpec,
    Delivery,
    OutboundMessage,
    Outcome,
    PipelineContext,
    PluginRegistry,
    TransportAuth,
)


@dataclass
class Script:
    """What the fake format answers, in order; then ``default``. Records what it sent."""

    answers: list[AttemptResult] = field(default_factory=list)
    default: AttemptResult = field(default_factory=lambda: AttemptResult(Outcome.DELIVERED, 200))
    sent: list[OutboundMessage] = field(default_factory=list)
    #: ``time.monotonic()`` when each message was sent.
    times: list[float] = field(default_factory=list)
    delay: float = 0.0

    def next(self) -> AttemptResult:
        return self.answers.pop(0) if self.answers else self.default


SCRIPT = Script()


class FakeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    token: SecretStr | None = Field(default=None, description="A secret option.")
    deployment: str = Field(default="local", description="local or cloud.")


class FakeType(ConnectorTypeBase):
    def build_message(self, delivery: Delivery) -> OutboundMessage:
        return OutboundMessage(
            url=self.context.connector.uri,
            payload={
                "id": delivery.id,
                "action": delivery.action,
                "data": dict(delivery.appointment),
            },
        )


class FakeFormat:
    def __init__(self, context: PipelineContext) -> None:
        self.context = context

    async def send(self, message: OutboundMessage, auth: AttemptAuth) -> AttemptResult:
        # Attaches the attempt's credentials, as real formats do.
        auth.headers()
        auth.transport_auth(self.context.transport)
        if SCRIPT.delay:
            await asyncio.sleep(SCRIPT.delay)
        SCRIPT.sent.append(message)
        SCRIPT.times.append(time.monotonic())
        return SCRIPT.next()

    async def aclose(self) -> None:
        return None


class KeySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    password: SecretStr = Field(description="The key.")


class KeyAuth(AuthMechanismBase):
    """Bound to a transport (httpx): its object reveals the key when built."""

    async def attempt_auth(self) -> AttemptAuth:
        return TransportAuth(self.for_transport)

    def for_transport(self, transport: str) -> Any:
        return ("key", self.context.reveal(self.context.auth_settings.password))  # type: ignore[attr-defined]


class FakePlugin:
    """A connector type ``fake`` (variants local/cloud), formats ``wire`` (httpx) and
    ``pipe`` (requests), auth ``key`` (httpx only)."""

    @hookimpl
    def writeback_connector_types(self) -> list[ConnectorTypeSpec]:
        return [
            ConnectorTypeSpec(
                name="fake",
                summary="a fake back office",
                formats=("wire", "pipe"),
                auth_rules=(
                    AuthRule(variant="local", api_format="wire", methods=("none", "key")),
                    AuthRule(variant="local", api_format="pipe", methods=("none", "key")),
                    AuthRule(
                        variant="cloud",
                        api_format="wire",
                        methods=("key",),
                        warnings={"key": "keys are deprecated in the cloud"},
                    ),
                ),
                variant_of=lambda row, options: options.deployment,  # type: ignore[attr-defined]
                variant_labels={"local": "on-premises", "cloud": "online"},
                options_model=FakeOptions,
                factory=FakeType,
            )
        ]

    @hookimpl
    def writeback_api_formats(self) -> list[ApiFormatSpec]:
        return [
            ApiFormatSpec(
                name="wire",
                summary="fake wire",
                transport="httpx",
                aliases=("w",),
                factory=FakeFormat,
            ),
            ApiFormatSpec(
                name="pipe", summary="fake pipe", transport="requests", factory=FakeFormat
            ),
        ]

    @hookimpl
    def writeback_auth_methods(self) -> list[AuthMethodSpec]:
        return [
            AuthMethodSpec(
                name="key",
                summary="a key",
                transports=("httpx",),
                settings_model=KeySettings,
                factory=KeyAuth,
            )
        ]


def fake_registry() -> PluginRegistry:
    registry = PluginRegistry.load(entry_points=[], disabled=[])
    registry.register(FakePlugin(), name="fake", distribution="fake-dist", version="1.0")
    return registry


@pytest.fixture
def registry() -> PluginRegistry:
    return fake_registry()


@pytest.fixture
def script() -> Iterator[Script]:
    SCRIPT.answers.clear()
    SCRIPT.sent.clear()
    SCRIPT.times.clear()
    SCRIPT.default = AttemptResult(Outcome.DELIVERED, 200)
    SCRIPT.delay = 0.0
    yield SCRIPT


def row(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "f1",
        "type": "fake",
        "uri": "https://example.test/hook",
        "api_type": "wire",
        "source_app": "APP",
        "auth": {"method": "key", "password": "s3cret-value"},
        "retry": {"schedule": [0, 0]},
    }
    base.update(overrides)
    return base


def event(
    action: str = "create", key: str = "A1", source: str = "APP", **extra: Any
) -> dict[str, Any]:
    return {"action": action, "appointment": {"appointmentGuid": key, "sourceApp": source, **extra}}
