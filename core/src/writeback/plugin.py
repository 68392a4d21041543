"""The one namespace a plugin imports from: ``from writeback.plugin import …``.

Everything a connector type, API format or auth method uses (and what its
tests need to build a pipeline) is here, re-exported from the private modules
that hold it; ``writeback`` itself keeps the host API.  The reference is
docs/plugin-api.md.  Importing this module imports no protocol library and no
database: the token toolkit and the testing helpers load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._attempt_auth import NO_AUTH, AttemptAuth, HeaderAuth, TransportAuth
from ._commands import CommandSpec
from ._deadline import Deadline, current_deadline
from ._descriptors import (
    DEFAULT_VARIANT,
    TRANSPORTS,
    ApiFormatSpec,
    AuthMethodSpec,
    AuthRule,
    ConnectorTypeSpec,
    NoSettings,
    ThrottleDefaults,
    TransportOptions,
)
from ._errors import AttemptError, EnvSecretMissingError
from ._interfaces import (
    ApiFormat,
    AttemptResult,
    AuthMechanism,
    AuthMechanismBase,
    BatchRefused,
    ConnectorType,
    ConnectorTypeBase,
    Delivery,
    OutboundBatch,
    OutboundMessage,
    Outcome,
    PipelineContext,
    ProbeReport,
)
from ._models import Connector
from ._observers import AttemptFinished
from ._outcome import (
    ANSWER_LIMIT,
    classify_status,
    connection_cause,
    connection_failure,
    deadline_passed,
    endpoint_of,
    error_text,
    exception_chain,
    parse_retry_after,
    redirect_target,
)
from ._redaction import add_basic_secret, add_secret, redact
from ._secrets import secret_safe_logger
from ._uri import mask_uri
from .hookspecs import hookimpl
from .tls import CA_BUNDLE_VARIABLES, ca_bundle, ssl_context

if TYPE_CHECKING:
    from ._pipeline import Pipeline
    from ._registry import PluginRegistry
    from ._token_auth import TokenAuthMechanismBase
    from ._token_errors import (
        bad_token_answer,
        token_connection_error,
        token_error_from_cause,
        token_http_error,
        token_oauth_error,
        token_timeout,
        token_tls_error,
    )
    from ._token_http import run_with_deadline, token_adapter, token_deadline, token_event_hooks
    from ._tokens import Token, TokenSource
    from ._validation import ValidatedConnector, validate_connector
    from ._watched import DeadlinePassed, WatchedAdapter
    from .conformance import conformance_problems

# Grouped in docs/plugin-api.md: declaring, building, sending, errors, secrets,
# tokens, testing a plugin.
__all__ = [
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

# Loaded on first use: the token toolkit is for token-based auth methods only,
# the testing helpers pull in the registry and the pipeline, and the watched
# adapter imports requests, which the core does not depend on.
_LAZY = {
    "Token": "._tokens",
    "TokenSource": "._tokens",
    "TokenAuthMechanismBase": "._token_auth",
    "bad_token_answer": "._token_errors",
    "token_connection_error": "._token_errors",
    "token_error_from_cause": "._token_errors",
    "token_http_error": "._token_errors",
    "token_oauth_error": "._token_errors",
    "token_timeout": "._token_errors",
    "token_tls_error": "._token_errors",
    "run_with_deadline": "._token_http",
    "token_adapter": "._token_http",
    "token_deadline": "._token_http",
    "token_event_hooks": "._token_http",
    "Pipeline": "._pipeline",
    "PluginRegistry": "._registry",
    "ValidatedConnector": "._validation",
    "validate_connector": "._validation",
    "conformance_problems": ".conformance",
    "DeadlinePassed": "._watched",
    "WatchedAdapter": "._watched",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'writeback.plugin' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __package__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
