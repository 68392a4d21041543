"""writeback: deliver appointment changes to back-office systems, reliably.

The public API.  Plugin authors need :data:`hookimpl`, the descriptors and the
working-object base classes; hosts need :class:`Dispatcher`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._descriptors import (
    DEFAULT_VARIANT,
    TRANSPORTS,
    ApiFormatSpec,
    AuthMethodSpec,
    AuthRule,
    ConnectorTypeSpec,
    NoSettings,
    ThrottleDefaults,
)
from ._errors import (
    AttemptError,
    EnvSecretMissingError,
    InvalidConnectorError,
    InvalidEventError,
    UserError,
    WritebackError,
)
from ._event import AppointmentEvent
from ._interfaces import (
    ApiFormat,
    AttemptResult,
    AuthMechanism,
    AuthMechanismBase,
    ConnectorType,
    ConnectorTypeBase,
    Delivery,
    OutboundMessage,
    Outcome,
    PipelineContext,
    ProbeReport,
)
from ._models import Connector, RetryPolicy, Throttle
from ._outcome import (
    classify_status,
    connection_cause,
    connection_failure,
    endpoint_of,
    exception_chain,
    parse_retry_after,
)
from ._pipeline import Pipeline
from ._registry import PluginRegistry
from ._uri import mask_uri
from ._validation import ValidatedConnector, validate_connector
from .hookspecs import hookimpl, hookspec

if TYPE_CHECKING:
    from ._dispatcher import Dispatcher
    from ._token_auth import TokenAuthMechanismBase
    from ._tokens import Token, TokenSource

__all__ = [
    "DEFAULT_VARIANT",
    "TRANSPORTS",
    "ApiFormat",
    "ApiFormatSpec",
    "AppointmentEvent",
    "AttemptError",
    "AttemptResult",
    "AuthMechanism",
    "AuthMechanismBase",
    "AuthMethodSpec",
    "AuthRule",
    "Connector",
    "ConnectorType",
    "ConnectorTypeBase",
    "ConnectorTypeSpec",
    "Delivery",
    "Dispatcher",
    "EnvSecretMissingError",
    "InvalidConnectorError",
    "InvalidEventError",
    "NoSettings",
    "OutboundMessage",
    "Outcome",
    "Pipeline",
    "PipelineContext",
    "PluginRegistry",
    "ProbeReport",
    "RetryPolicy",
    "Throttle",
    "ThrottleDefaults",
    "Token",
    "TokenAuthMechanismBase",
    "TokenSource",
    "UserError",
    "ValidatedConnector",
    "WritebackError",
    "classify_status",
    "connection_cause",
    "connection_failure",
    "endpoint_of",
    "exception_chain",
    "hookimpl",
    "hookspec",
    "mask_uri",
    "parse_retry_after",
    "validate_connector",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The dispatcher pulls in SQLAlchemy; plugin modules import this package
    # for hookimpl and descriptors only, so load it on first use.
    if name == "Dispatcher":
        from ._dispatcher import Dispatcher

        return Dispatcher
    # Token support is for the token-based auth plugins only; loaded on first use too.
    if name in ("Token", "TokenSource"):
        from . import _tokens

        return getattr(_tokens, name)
    if name == "TokenAuthMechanismBase":
        from ._token_auth import TokenAuthMechanismBase

        return TokenAuthMechanismBase
    raise AttributeError(f"module 'writeback' has no attribute {name!r}")
