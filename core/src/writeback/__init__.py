"""writeback: deliver appointment changes to back-office systems, reliably.

The host API: open a :class:`Dispatcher` (or, in an asyncio service, an
:class:`AsyncDispatcher`), add :class:`Connector` rows, submit
:class:`AppointmentEvent`\\ s (docs/host-api.md).  Plugins import from
:mod:`writeback.plugin` (docs/plugin-api.md); ``hookimpl`` is in both.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ._errors import (
    ConnectorNotFoundError,
    DeliveryNotFoundError,
    InvalidConnectorError,
    InvalidEventError,
    SchemaVersionError,
    UserError,
    WritebackError,
)

if TYPE_CHECKING:
    from ._async_dispatcher import AsyncDispatcher
    from ._async_worker import WorkerRunner
    from ._dispatcher import Dispatcher, SubmitResult
    from ._event import AppointmentEvent
    from ._models import Connector, RetryPolicy, Throttle
    from ._pages import DeliveryPage
    from ._views import ConnectorView, DeliveryView, StatsView
    from .hookspecs import hookimpl

__all__ = [
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

__version__ = "0.1.0"

#: Names this package exported before ``writeback.plugin``: they keep working for
#: this release, with a DeprecationWarning naming where to import them from.
_MOVED = {
    **dict.fromkeys(
        (
            "DEFAULT_VARIANT",
            "TRANSPORTS",
            "ApiFormat",
            "ApiFormatSpec",
            "AttemptError",
            "AttemptResult",
            "AuthMechanism",
            "AuthMechanismBase",
            "AuthMethodSpec",
            "AuthRule",
            "ConnectorType",
            "ConnectorTypeBase",
            "ConnectorTypeSpec",
            "Delivery",
            "EnvSecretMissingError",
            "NoSettings",
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
            "ValidatedConnector",
            "classify_status",
            "connection_cause",
            "connection_failure",
            "endpoint_of",
            "exception_chain",
            "mask_uri",
            "parse_retry_after",
            "validate_connector",
        ),
        "writeback.plugin",
    ),
    "hookspec": "writeback.hookspecs",
}


#: Names loaded on first use: the dispatcher pulls in SQLAlchemy, the models
#: pydantic, and ``writeback --help`` (which imports this package for its
#: errors) needs neither; plugin modules import this package for hookimpl only.
_LAZY = {
    "AppointmentEvent": "._event",
    "AsyncDispatcher": "._async_dispatcher",
    "Connector": "._models",
    "ConnectorView": "._views",
    "DeliveryPage": "._pages",
    "DeliveryView": "._views",
    "Dispatcher": "._dispatcher",
    "StatsView": "._views",
    "SubmitResult": "._dispatcher",
    "WorkerRunner": "._async_worker",
    "RetryPolicy": "._models",
    "Throttle": "._models",
    "hookimpl": ".hookspecs",
}


def __getattr__(name: str) -> Any:
    import importlib

    home = _LAZY.get(name)
    if home is not None:
        value = getattr(importlib.import_module(home, __name__), name)
        globals()[name] = value
        return value
    where = _MOVED.get(name)
    if where is None:
        raise AttributeError(f"module 'writeback' has no attribute {name!r}")
    warnings.warn(
        f"writeback.{name} is deprecated; import it from {where}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(where), name)
