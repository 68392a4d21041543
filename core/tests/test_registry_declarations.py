"""The registry reads install hints from declarations and refuses plugins that do not conform."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from writeback import hookimpl
from writeback._errors import PluginLoadError, PluginMissingError
from writeback.plugin import (
    ApiFormatSpec,
    AttemptError,
    AuthMethodSpec,
    AuthRule,
    ConnectorTypeSpec,
    Delivery,
    Outcome,
    Pipeline,
    PluginRegistry,
    validate_connector,
)

from .conftest import FakeFormat, FakeType, KeyAuth, KeySettings, row


@dataclass(eq=False)
class Declares:
    """A plugin object declaring exactly the descriptors given."""

    types: list[Any] = field(default_factory=list)
    formats: list[Any] = field(default_factory=list)
    methods: list[Any] = field(default_factory=list)

    @hookimpl
    def writeback_connector_types(self) -> list[Any]:
        return self.types

    @hookimpl
    def writeback_api_formats(self) -> list[Any]:
        return self.formats

    @hookimpl
    def writeback_auth_methods(self) -> list[Any]:
        return self.methods


def a_type(name: str = "shop", **more: Any) -> ConnectorTypeSpec:
    fields: dict[str, Any] = {
        "name": name,
        "summary": "a shop",
        "formats": ("wire",),
        "auth_rules": (AuthRule(api_format="wire", methods=("none", "key", "token")),),
        "factory": FakeType,
        "provided_by": {"wire": "x-wire", "key": "x-key", "token": "x-token"},
    }
    return ConnectorTypeSpec(**{**fields, **more})


def a_format(name: str = "wire", **more: Any) -> ApiFormatSpec:
    fields: dict[str, Any] = {
        "name": name,
        "summary": "a wire",
        "transport": "httpx",
        "factory": FakeFormat,
    }
    return ApiFormatSpec(**{**fields, **more})


def key_method(**more: Any) -> AuthMethodSpec:
    fields: dict[str, Any] = {
        "name": "key",
        "summary": "a key",
        "transports": ("httpx",),
        "settings_model": KeySettings,
        "factory": KeyAuth,
    }
    return AuthMethodSpec(**{**fields, **more})


def registry_with(*plugins: tuple[str, Declares]) -> PluginRegistry:
    registry = PluginRegistry.load(entry_points=[], disabled=[])
    for dist, plugin in plugins:
        registry.register(plugin, name=dist.removeprefix("x-"), distribution=dist, version="1")
    return registry


# -- install hints come from the declarations (item 8) -----------------------


def test_json_lists_installed_methods_and_names_the_missing_ones() -> None:
    registry = registry_with(("x-shop", Declares(types=[a_type()], formats=[a_format()])))
    (shop,) = registry.summary()["connector_types"]
    assert shop["auth"] == {"default": {"wire": ["none"]}}
    assert shop["missing_auth"] == {"key": "x-key", "token": "x-token"}
    assert {"name", "summary", "distribution", "version", "formats", "coalesce"} <= set(shop)
    registry.register(Declares(methods=[key_method()]), name="key", distribution="x-key")
    (shop,) = registry.summary()["connector_types"]
    assert shop["auth"] == {"default": {"wire": ["none", "key"]}}
    assert shop["missing_auth"] == {"token": "x-token"}


def test_a_missing_method_names_the_distribution_the_type_declares() -> None:
    registry = registry_with(("x-shop", Declares(types=[a_type()], formats=[a_format()])))
    with pytest.raises(PluginMissingError, match="run 'pip install x-token'"):
        registry.auth_method("token")
    with pytest.raises(PluginMissingError, match="not a known auth method"):
        registry.auth_method("carrier-pigeon")


def test_a_method_whose_distribution_failed_to_load_says_so() -> None:
    broken = Declares(methods=[key_method(summary="")])
    registry = registry_with(
        ("x-key", broken), ("x-shop", Declares(types=[a_type()], formats=[a_format()]))
    )
    with pytest.raises(PluginLoadError, match="x-key"):
        registry.auth_method("key")


def test_disabling_a_distribution_is_named_when_its_method_is_selected() -> None:
    registry = PluginRegistry.load(entry_points=[], disabled=["x-token"])
    registry.register(Declares(types=[a_type()], formats=[a_format()]), name="shop")
    with pytest.raises(PluginMissingError, match="disabled by WRITEBACK_DISABLE_PLUGINS"):
        registry.auth_method("token")


def test_provided_by_must_name_what_the_type_accepts() -> None:
    registry = registry_with(
        ("x-shop", Declares(types=[a_type(provided_by={"soap": "x-soap"})], formats=[a_format()]))
    )
    assert registry.connector_types == {}
    (error,) = registry.load_errors
    assert error.distribution == "x-shop"
    assert "provided_by names 'soap'" in error.error


# -- conformance is enforced at load time (item 9) ---------------------------


class Undescribed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    colour: str = "red"


@pytest.mark.parametrize(
    ("plugin", "expected"),
    [
        (Declares(types=[a_type(name="Shop!")]), "name must be lower-case"),
        (Declares(formats=[a_format(transport="grpc")]), "transport 'grpc' is not one of"),
        (
            Declares(
                types=[
                    a_type(auth_rules=(AuthRule(api_format="pipe", methods=("none",)),)),
                ]
            ),
            "auth rule for 'pipe' names a format not in formats",
        ),
        (Declares(methods=[key_method(settings_model=Undescribed)]), "field 'colour'"),
    ],
    ids=["name", "transport", "rule", "description"],
)
def test_a_plugin_that_does_not_conform_is_a_load_error(plugin: Declares, expected: str) -> None:
    registry = registry_with(("x-bad", plugin))
    assert registry.load_errors, "not refused"
    for error in registry.load_errors:
        assert error.distribution == "x-bad"
        assert error.error.startswith("x-bad was not loaded: ")
        assert "fix the declaration in x-bad" in error.error
    assert any(expected in e.error for e in registry.load_errors)
    assert not registry.connector_types and not registry.api_formats
    assert set(registry.auth_methods) == {"none"}


def test_a_module_that_implements_no_hook_is_a_load_error() -> None:
    registry = registry_with(("x-empty", ModuleType("writeback_empty.plugin")))  # type: ignore[arg-type]
    (error,) = registry.load_errors
    assert error.distribution == "x-empty"
    assert "implements no writeback hook" in error.error
    assert "@writeback.hookimpl" in error.error


def test_a_hook_returning_the_wrong_descriptor_is_a_load_error() -> None:
    registry = registry_with(("x-mixed", Declares(formats=[key_method()])))
    (error,) = registry.load_errors
    assert "writeback_api_formats returned a AuthMethodSpec" in error.error


@pytest.mark.parametrize("alias_first", [True, False], ids=["alias-first", "name-first"])
def test_an_alias_that_is_another_formats_name_loses_to_the_name(alias_first: bool) -> None:
    shop = ("x-shop", Declares(types=[a_type()], methods=[key_method()]))
    wire = ("x-wire", Declares(formats=[a_format(aliases=("w",))]))
    claimant = ("x-claim", Declares(formats=[a_format("other", aliases=("wire", "o"))]))
    order = (claimant, wire) if alias_first else (wire, claimant)
    registry = registry_with(shop, *order)
    assert registry.api_format("wire").distribution == "x-wire"
    assert registry.api_format("w").name == "wire"
    assert registry.api_format("o").name == "other"
    assert registry.api_format("other").aliases == ("o",)
    (error,) = registry.load_errors
    assert error.distribution == "x-claim"
    assert "declares the alias 'wire', which is the name of the format from x-wire" in error.error
    summary = registry.summary()
    assert [f["name"] for f in summary["api_formats"]] == ["other", "wire"]
    assert summary["connector_types"][0]["auth"] == {"default": {"wire": ["none", "key"]}}
    validate_connector(row(type="shop"), registry)


def test_a_name_two_plugins_claim_is_not_listed_as_active() -> None:
    registry = registry_with(
        ("x-shop", Declares(types=[a_type()], formats=[a_format()])),
        ("x-shop2", Declares(types=[a_type()])),
    )
    summary = registry.summary()
    assert summary["connector_types"] == []
    assert [e["distribution"] for e in summary["load_errors"]] == ["x-shop2"]


# -- plugin bugs are named in the pipeline -----------------------------------


DELIVERY = Delivery(
    id="dlv_1", event_id="evt_1", action="create", appointment={"a": 1}, occurred_at=None
)


class DictType(FakeType):
    def build_message(self, delivery: Delivery) -> Any:
        return {"url": "https://example.test"}


def _failing(context: Any) -> Any:
    raise RuntimeError("no licence file")


def _shop_registry(**type_fields: Any) -> PluginRegistry:
    return registry_with(
        (
            "x-shop",
            Declares(types=[a_type(**type_fields)], formats=[a_format()], methods=[key_method()]),
        )
    )


def test_build_message_returning_the_wrong_type_is_named() -> None:
    connector = validate_connector(row(type="shop"), _shop_registry(factory=DictType))

    async def run() -> Any:
        pipeline = Pipeline.build(connector)
        return await pipeline.send(DELIVERY)

    result = asyncio.run(run())
    assert result.outcome is Outcome.FAILED
    assert result.error is not None
    assert "connector type 'shop': build_message returned dict, not OutboundMessage" in (
        result.error
    )


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ("type", "the connector type 'shop' (x-shop) could not be set up: RuntimeError"),
        ("format", "the API format 'wire' (x-shop) could not be set up: RuntimeError"),
        ("auth", "the auth method 'key' (x-shop) could not be set up: RuntimeError"),
    ],
)
def test_a_factory_that_raises_is_named(broken: str, expected: str) -> None:
    registry = registry_with(
        (
            "x-shop",
            Declares(
                types=[a_type(factory=_failing if broken == "type" else FakeType)],
                formats=[a_format(factory=_failing if broken == "format" else FakeFormat)],
                methods=[key_method(factory=_failing if broken == "auth" else KeyAuth)],
            ),
        )
    )
    connector = validate_connector(row(type="shop"), registry)
    with pytest.raises(AttemptError) as caught:
        Pipeline.build(connector)
    assert caught.value.code == "WB-398"
    assert expected in caught.value.message
    assert "no licence file" in caught.value.message
