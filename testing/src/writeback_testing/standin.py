"""A stand-in connector type, so a format or auth plugin is tested without a back office.

An auth method or API format needs a connector type that accepts it before a
row can be validated and a pipeline built.  The real types (``bc``, ``nav``,
``webhook``) each bring their own rules, options and payloads; a plugin's tests
should depend on none of them.  :class:`StandInType` posts the delivery's
appointment as it is to the row's ``uri``, :func:`standin_registry` loads only
the named installed plugins plus the stand-in, and :func:`standin_connector`
validates a row against it::

    @pytest.fixture(scope="session")
    def registry() -> PluginRegistry:
        return standin_registry({"api-key", "json"}, methods=("api-key",))


    def test_header(registry, writeback_receiver):
        connector = standin_connector(
            registry, method="api-key", uri=writeback_receiver.url, key="k-1"
        )
        ...
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Sequence
from typing import Any

from writeback.plugin import (
    ApiFormatSpec,
    AuthRule,
    ConnectorTypeBase,
    ConnectorTypeSpec,
    Delivery,
    OutboundMessage,
    PluginRegistry,
    ValidatedConnector,
    hookimpl,
    validate_connector,
)

__all__ = [
    "StandInPlugin",
    "StandInType",
    "standin_connector",
    "standin_registry",
    "standin_type",
]


class StandInType(ConnectorTypeBase):
    """Sends the delivery's appointment, as it is, to the connector's ``uri``."""

    def build_message(self, delivery: Delivery) -> OutboundMessage:
        return OutboundMessage(self.context.connector.uri, payload=dict(delivery.appointment))


def standin_type(
    name: str = "standin",
    *,
    methods: Sequence[str],
    formats: Sequence[str] = ("json",),
    summary: str = "test stand-in",
    **more: Any,
) -> ConnectorTypeSpec:
    """A :class:`StandInType` descriptor accepting ``methods`` with each of ``formats``.

    ``more`` goes to :class:`~writeback.plugin.ConnectorTypeSpec` as it is (e.g.
    ``auth_defaults={"entra": {"scope": …}}``, ``options_model=…``).
    """
    return ConnectorTypeSpec(
        name=name,
        summary=summary,
        formats=tuple(formats),
        auth_rules=tuple(AuthRule(api_format=f, methods=tuple(methods)) for f in formats),
        factory=StandInType,
        **more,
    )


class StandInPlugin:
    """A plugin object declaring the given connector types and API formats."""

    def __init__(
        self, types: Sequence[ConnectorTypeSpec], api_formats: Sequence[ApiFormatSpec] = ()
    ) -> None:
        self.types = list(types)
        self.api_formats = list(api_formats)

    @hookimpl
    def writeback_connector_types(self) -> list[ConnectorTypeSpec]:
        return list(self.types)

    @hookimpl
    def writeback_api_formats(self) -> list[ApiFormatSpec]:
        return list(self.api_formats)


def standin_registry(
    entry_points_named: Iterable[str],
    *,
    methods: Sequence[str] = (),
    formats: Sequence[str] = ("json",),
    types: Sequence[ConnectorTypeSpec] | None = None,
    api_formats: Sequence[ApiFormatSpec] = (),
) -> PluginRegistry:
    """The built-ins, the installed plugins whose entry points are named, and the stand-ins.

    Only the named entry points are loaded, so a test does not depend on (or
    break because of) whatever else is installed; ``WRITEBACK_DISABLE_PLUGINS``
    is ignored for the same reason.

    :param entry_points_named: entry-point names in group ``writeback``
        (``{"basic", "json"}``); one that is not installed is simply absent.
    :param methods: the auth methods the default stand-in type accepts.
    :param formats: the API formats the default stand-in type accepts them with.
    :param types: the connector types to declare instead of the default one
        (``standin_type(methods=methods, formats=formats)``, named ``standin``).
    :param api_formats: test-local API formats to declare as well.
    """
    wanted = set(entry_points_named)
    points = [p for p in importlib.metadata.entry_points(group="writeback") if p.name in wanted]
    registry = PluginRegistry.load(entry_points=points, disabled=())
    if types is None:
        types = [standin_type(methods=methods, formats=formats)]
    registry.register(StandInPlugin(types, api_formats), name="standin")
    return registry


def standin_connector(
    registry: PluginRegistry,
    *,
    method: str,
    api_format: str = "json",
    uri: str = "https://erp.example.com/api",
    type: str = "standin",
    **auth: Any,
) -> ValidatedConnector:
    """A row named ``erp`` of connector type ``type``, validated against ``registry``.

    ``auth`` are the method's settings (``username=…, password=…``); the row's
    ``source_app`` is ``CRONUSUS``.

    :raises writeback.InvalidConnectorError: when the row is not valid, as
        :func:`writeback.plugin.validate_connector` does.
    """
    row = {
        "name": "erp",
        "type": type,
        "api_type": api_format,
        "uri": uri,
        "source_app": "CRONUSUS",
        "auth": {"method": method, **auth},
    }
    return validate_connector(row, registry)
