"""A plugin written against the previous auth seam still delivers, warned.

Before ``send(message, auth)``, a format asked ``context.auth.for_transport(...)`` on
every send and the pipeline called the mechanism's ``unauthorized()`` after a 401.
Both keep working this release, each with a ``DeprecationWarning`` naming what to
implement instead; ``unauthorized()`` is asked once per attempt, as
``refresh_after_401`` is.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest
from writeback.plugin import (
    ApiFormatSpec,
    AttemptResult,
    AuthMechanismBase,
    AuthMethodSpec,
    AuthRule,
    ConnectorTypeSpec,
    Delivery,
    OutboundMessage,
    Outcome,
    Pipeline,
    PipelineContext,
    hookimpl,
    validate_connector,
)

# The type and the key's settings are the core fakes': the seam is the format's and
# the mechanism's, which are written here as the previous release asked.
from .conftest import FakeType, KeySettings, fake_registry


class Wire:
    """What the old format sent (the auth object it got each time) and will answer."""

    def __init__(self) -> None:
        self.answers: list[int] = []
        self.sent: list[Any] = []


WIRE = Wire()


class OldFormat:
    """``send(message)`` only: asks the mechanism for its transport object itself."""

    def __init__(self, context: PipelineContext) -> None:
        self.context = context

    async def send(self, message: OutboundMessage) -> AttemptResult:
        assert self.context.auth is not None
        WIRE.sent.append(self.context.auth.for_transport(self.context.transport))  # type: ignore[attr-defined]
        status = WIRE.answers.pop(0) if WIRE.answers else 200
        if status == 200:
            return AttemptResult(Outcome.DELIVERED, 200)
        return AttemptResult(Outcome.FAILED, status, error=f"HTTP {status}")

    async def aclose(self) -> None:
        return None


class OldKey(AuthMechanismBase):
    """``for_transport`` and ``unauthorized`` only; each 401 asks for a new key."""

    def __init__(self, context: PipelineContext) -> None:
        super().__init__(context)
        self.generation = 1
        self.asked = 0

    def for_transport(self, transport: str) -> Any:
        return (transport, self.generation)

    async def unauthorized(self) -> bool:
        self.asked += 1
        self.generation += 1
        return True


class NotABase:
    """A mechanism that does not subclass AuthMechanismBase at all."""

    def __init__(self, context: PipelineContext) -> None:
        self.context = context

    def for_transport(self, transport: str) -> Any:
        return ("plain", transport)

    async def describe(self) -> str | None:
        return None


class OldPlugin:
    @hookimpl
    def writeback_connector_types(self) -> list[ConnectorTypeSpec]:
        return [
            ConnectorTypeSpec(
                name="old",
                summary="a type of the previous release",
                formats=("oldwire",),
                auth_rules=(AuthRule(api_format="oldwire", methods=("oldkey", "plain")),),
                factory=FakeType,
            )
        ]

    @hookimpl
    def writeback_api_formats(self) -> list[ApiFormatSpec]:
        return [
            ApiFormatSpec(name="oldwire", summary="sends", transport="httpx", factory=OldFormat)
        ]

    @hookimpl
    def writeback_auth_methods(self) -> list[AuthMethodSpec]:
        return [
            AuthMethodSpec(
                name="oldkey",
                summary="a key",
                transports=("httpx",),
                settings_model=KeySettings,
                factory=OldKey,
            ),
            AuthMethodSpec(name="plain", summary="plain", transports=("httpx",), factory=NotABase),
        ]


def _deliver(auth: dict[str, Any]) -> tuple[list[AttemptResult], Pipeline, list[str]]:
    registry = fake_registry()
    registry.register(OldPlugin(), name="old", distribution="old-dist", version="0.9")
    connector = validate_connector(
        {
            "name": "o1",
            "type": "old",
            "uri": "https://old.example.test/in",
            "api_type": "oldwire",
            "source_app": "APP",
            "auth": auth,
        },
        registry,
    )

    async def run() -> tuple[list[AttemptResult], Pipeline]:
        pipeline = Pipeline.build(connector)
        try:
            results = [
                await pipeline.send(Delivery(f"d{n}", f"e{n}", "create", {}, None))
                for n in range(2)
            ]
        finally:
            await pipeline.aclose()
        return results, pipeline

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results, pipeline = asyncio.run(run())
    return results, pipeline, [str(w.message) for w in caught if w.category is DeprecationWarning]


@pytest.fixture(autouse=True)
def _wire() -> None:
    WIRE.answers.clear()
    WIRE.sent.clear()


def test_an_old_format_and_mechanism_deliver_and_a_401_asks_unauthorized_once() -> None:
    WIRE.answers[:] = [401, 401]  # the first attempt: refused, then refused again
    results, pipeline, warned = _deliver({"method": "oldkey", "password": "k"})
    # One resend after the first 401, and no more: the second 401 ends the attempt.
    assert [r.status_code for r in results] == [401, 200]
    assert pipeline.auth.asked == 1  # type: ignore[attr-defined]
    assert WIRE.sent == [("httpx", 1), ("httpx", 2), ("httpx", 2)]
    assert any("send(message) is deprecated" in w and "'oldwire'" in w for w in warned), warned
    assert any("for_transport() and unauthorized() are deprecated" in w for w in warned), warned


def test_a_401_refreshed_by_unauthorized_is_resent_and_delivered() -> None:
    WIRE.answers[:] = [401]
    results, _, _ = _deliver({"method": "oldkey", "password": "k"})
    assert [r.outcome for r in results] == [Outcome.DELIVERED, Outcome.DELIVERED]
    assert WIRE.sent == [("httpx", 1), ("httpx", 2), ("httpx", 2)]


def test_a_mechanism_that_is_no_base_class_still_works() -> None:
    results, _, warned = _deliver({"method": "plain"})
    assert [r.status_code for r in results] == [200, 200]
    assert WIRE.sent == [("plain", "httpx")] * 2
    assert any("NotABase: for_transport() and unauthorized() are deprecated" in w for w in warned)
