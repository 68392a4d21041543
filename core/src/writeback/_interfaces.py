"""The working objects a plugin's factory builds, and what flows between them.

One delivery flows one way: the connector type builds an
:class:`OutboundMessage`, the pipeline takes the attempt's credentials from the
auth mechanism (an :class:`~writeback.plugin.AttemptAuth`), the API format sends
the message with them and returns an :class:`AttemptResult`, the type reviews
it, and the worker records it.  The base classes give every optional method a sensible
default so a plugin implements only what its back office needs.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast, runtime_checkable

from pydantic import BaseModel

from ._attempt_auth import AttemptAuth, HeaderAuth, legacy_attempt_auth

if TYPE_CHECKING:
    from pydantic import SecretStr

    from ._models import Connector, Throttle
    from .store._tokens import TokenStore

__all__ = [
    "ApiFormat",
    "AttemptResult",
    "AuthMechanism",
    "AuthMechanismBase",
    "BatchRefused",
    "ConnectorType",
    "ConnectorTypeBase",
    "Delivery",
    "OutboundBatch",
    "OutboundMessage",
    "Outcome",
    "PipelineContext",
    "ProbeReport",
]


class Outcome(enum.StrEnum):
    """How one attempt ended (docs/hooks.md, "Outcome")."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class Delivery:
    """What a connector type needs to build the message for one delivery."""

    #: Delivery id; stable across retries (the webhook's ``webhook-id``).
    id: str
    #: Id of the appointment event this delivery came from.
    event_id: str
    #: ``create``, ``update`` or ``delete``.
    action: str
    #: The normalised appointment (camelCase keys, unknown fields kept).
    appointment: Mapping[str, Any]
    #: When the change happened, if the event said so.
    occurred_at: datetime | None
    #: Number of this attempt, from 1.
    attempt: int = 1


@dataclass
class OutboundMessage:
    """A message ready for a format: what to send, not yet how."""

    #: Where to send it (the connector's ``uri`` unless the type says otherwise).
    url: str
    #: HTTP method for HTTP formats.
    method: str = "POST"
    #: Extra request headers (the format adds its own content-type).
    headers: dict[str, str] = field(default_factory=dict)
    #: The structured payload, encoded by the format (a JSON value, a SOAP record).
    payload: Any = None
    #: Pre-encoded body; when set the format sends these bytes as they are
    #: (a webhook signs the exact bytes it sends).
    content: bytes | None = None
    #: SOAP operation name (``Create``); unused by HTTP-only formats.
    operation: str | None = None


@dataclass
class OutboundBatch:
    """Several deliveries' messages for one request (an OData ``$batch``), built by
    a connector type's ``build_batch`` and sent by a format's ``send_batch``
    (docs/plugin-api.md, "Sending several deliveries in one request")."""

    #: Where the batch request goes (``{service root}/$batch`` for OData).
    url: str
    #: One message per delivery, in the order the answers are expected.
    messages: list[OutboundMessage]
    #: Headers of the batch request itself (each message keeps its own).
    headers: dict[str, str] = field(default_factory=dict)


class BatchRefused(Exception):
    """Raised by a format's ``send_batch`` when the endpoint refused the batch as
    such (malformed, not supported): the pipeline sends each message on its own
    instead, and sends that connector's deliveries one at a time from then on."""


@dataclass(frozen=True)
class AttemptResult:
    """The classified answer to one attempt."""

    outcome: Outcome
    #: HTTP status code, when an answer came.
    status_code: int | None = None
    #: Why it did not succeed (secrets are removed before it is stored).
    error: str | None = None
    #: Seconds the endpoint asked us to wait (``Retry-After``).
    retry_after: float | None = None
    #: Response headers (lower-case names), for types that check them.
    headers: Mapping[str, str] = field(default_factory=dict)
    #: The stable ``WB-…`` code of why it did not succeed (docs/errors.md);
    #: ``None`` when delivered.  The field, never the error text, is the code.
    code: str | None = None
    #: Pause the connector, for this reason: the endpoint said it will never take
    #: anything again (a webhook's ``410 Gone``).  The core records the pause with
    #: this attempt; the connector's other deliveries stay pending until
    #: ``writeback connectors resume``.  ``None``: carry on.
    pause_connector: str | None = None


@dataclass(frozen=True)
class ProbeReport:
    """The result of ``writeback connectors test``."""

    ok: bool
    #: One sentence: what was reached, or why not.
    detail: str


@dataclass(frozen=True)
class PipelineContext:
    """Everything a factory may use to build a working object for one connector."""

    #: The validated connector row.
    connector: Connector
    #: The row's ``options``, parsed by the connector type's ``options_model``.
    options: BaseModel
    #: The row's ``auth`` settings, parsed by the auth method's ``settings_model``.
    auth_settings: BaseModel
    #: The deployment variant the type chose for this row.
    variant: str
    #: The transport of the connector's format (``httpx`` or ``requests``).
    transport: str
    #: Reveals a secret setting: reads ``env:NAME`` at call time, remembers the
    #: value so that it is removed from every error text and log line.
    reveal: Callable[[SecretStr | None], str | None]
    #: The connector's auth mechanism (set for the format's factory).  Deprecated for
    #: formats: ``send(message, auth)`` is given the attempt's credentials.
    auth: AuthMechanism | None = None
    #: The effective throttle: the row's, else the connector type's default.
    throttle: Throttle | None = None
    #: The database's shared token store (``None`` in pure library use): token-based
    #: auth methods pass it to their :class:`writeback.plugin.TokenSource` so that worker
    #: processes on one database make one token request per token lifetime.
    token_store: TokenStore | None = None
    #: Seconds to wait for the back office per request: the row's ``options.timeout``
    #: when the type's options extend :class:`writeback.plugin.TransportOptions`.
    timeout: float = 30.0
    #: The row consented to credentials in clear over plain ``http://``
    #: (``options.allow_insecure_http``); the core has already enforced it.
    allow_insecure_http: bool = False


@runtime_checkable
class ConnectorType(Protocol):
    """Maps an appointment event to its back office's message."""

    def build_message(self, delivery: Delivery) -> OutboundMessage: ...

    def review(self, result: AttemptResult) -> AttemptResult: ...

    def probe_message(self) -> OutboundMessage: ...

    def judge_probe(self, result: AttemptResult) -> ProbeReport: ...


@runtime_checkable
class ApiFormat(Protocol):
    """Encodes and sends a message with the attempt's credentials, classifies the answer."""

    async def send(self, message: OutboundMessage, auth: AttemptAuth) -> AttemptResult: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class AuthMechanism(Protocol):
    """Gives each attempt its credentials."""

    async def attempt_auth(self) -> AttemptAuth: ...

    async def describe(self) -> str | None: ...


#: The connector type's ``options_model``.
Options = TypeVar("Options", bound=BaseModel)
#: The auth method's ``settings_model``.
Settings = TypeVar("Settings", bound=BaseModel)


class ConnectorTypeBase(Generic[Options]):
    """Defaults for :class:`ConnectorType`; subclasses implement ``build_message``.

    Subclass ``ConnectorTypeBase[MyOptions]`` and ``self.options`` is the row's
    ``options`` parsed by the type's ``options_model``, typed as such.
    """

    def __init__(self, context: PipelineContext) -> None:
        self.context = context
        # The core parsed the row with this type's options_model, so the cast holds.
        self.options: Options = cast("Options", context.options)

    def build_message(self, delivery: Delivery) -> OutboundMessage:
        raise NotImplementedError

    def review(self, result: AttemptResult) -> AttemptResult:
        """Refine the format's verdict (e.g. BC needs a ``Location`` header)."""
        return result

    def batch_limit(self) -> int:
        """How many deliveries may go in one request (``build_batch``); 1, the
        default, sends each on its own.  Used only when the format has ``send_batch``."""
        return 1

    def build_batch(self, messages: list[OutboundMessage]) -> OutboundBatch:
        """One request carrying ``messages`` (each from ``build_message``), when
        ``batch_limit`` allows more than one."""
        raise NotImplementedError

    def probe_message(self) -> OutboundMessage:
        """The side-effect-free request ``connectors test`` sends: ``HEAD {uri}``."""
        return OutboundMessage(url=self.context.connector.uri, method="HEAD")

    def judge_probe(self, result: AttemptResult) -> ProbeReport:
        """Reachable and authenticated: a 2xx, or a 4xx other than 401/403.

        A receiver that does not serve the probe's ``HEAD`` answers 404/405 and
        is still reachable.  A redirect is not ok (deliveries do not follow one,
        and credentials may not have reached where it points), nor is a 5xx.
        The rule as users read it: docs/cli.md, "connectors test NAME".
        """
        status = result.status_code
        if status is None:
            return ProbeReport(False, f"not reachable: {result.error}")
        if status in (401, 403):
            return ProbeReport(False, f"reached, but the credentials were refused (HTTP {status})")
        if 300 <= status < 400:
            return ProbeReport(
                False,
                f"reached, but {result.error or f'HTTP {status}'}; deliveries would fail: "
                "set the uri to the address the endpoint answers at",
            )
        if status >= 500:
            return ProbeReport(
                False, f"reached, but the endpoint is failing ({result.error or f'HTTP {status}'})"
            )
        return ProbeReport(True, f"reached and accepted (HTTP {status})")


class AuthMechanismBase(Generic[Settings]):
    """Defaults for :class:`AuthMechanism`: a stateless method implements :meth:`headers`.

    Subclass ``AuthMechanismBase[MySettings]`` and ``self.settings`` is the row's
    ``auth`` parsed by the method's ``settings_model``, typed as such.  A method
    whose credentials are headers works on every transport; one that
    authenticates connections overrides :meth:`attempt_auth` instead and returns a
    :class:`~writeback.plugin.TransportAuth`.
    """

    def __init__(self, context: PipelineContext) -> None:
        self.context = context
        # The core parsed the row with this method's settings_model, so the cast holds.
        self.settings: Settings = cast("Settings", context.auth_settings)

    def headers(self) -> Mapping[str, str]:
        """The headers that carry the credentials; called once per attempt, so an
        ``env:`` secret is read at send time."""
        raise NotImplementedError

    async def attempt_auth(self) -> AttemptAuth:
        """The credentials of one attempt: :meth:`headers`, nothing to refresh."""
        cls = type(self)
        if cls.headers is AuthMechanismBase.headers and (
            cls.for_transport is not AuthMechanismBase.for_transport
        ):
            return legacy_attempt_auth(self)  # written against the previous interface
        return HeaderAuth(self.headers())

    def for_transport(self, transport: str) -> Any:
        """Deprecated, for formats written before ``send(message, auth)``: an
        ``httpx.Auth`` or ``requests.auth.AuthBase`` attaching :meth:`headers`."""
        from ._header_transports import header_transport_auth

        return header_transport_auth(self.headers, transport)

    async def unauthorized(self) -> bool:
        """Deprecated (the pipeline asks :meth:`AttemptAuth.refresh_after_401`)."""
        return False

    async def describe(self) -> str | None:
        """A line for ``connectors test`` (a token's lifetime and scope); never a secret."""
        return None
