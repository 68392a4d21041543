"""Descriptors: what a plugin declares about itself, as data.

The core validates connector rows and prints the capability matrix from these
alone.  Nothing here does I/O; each descriptor's ``factory`` is called only when
a connector actually sends, and is where a plugin imports httpx, zeep, msal, ….
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictBool

if TYPE_CHECKING:
    from ._interfaces import ApiFormat, AuthMechanism, ConnectorType, PipelineContext
    from ._models import Connector

__all__ = [
    "DEFAULT_VARIANT",
    "TRANSPORTS",
    "ApiFormatSpec",
    "AuthMethodSpec",
    "AuthRule",
    "ConnectorTypeSpec",
    "NoSettings",
    "ThrottleDefaults",
    "TransportOptions",
    "secret_fields_of",
]

#: The variant name of a connector type that has only one deployment.
DEFAULT_VARIANT = "default"

#: Transports a format may name and a connection-bound auth method may support.
TRANSPORTS = ("httpx", "requests")


class NoSettings(BaseModel):
    """Settings model for a plugin that takes no settings: any key is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TransportOptions(BaseModel):
    """Options the core reads from every row whose type's ``options_model`` extends this.

    Every format needs a deadline, and every row a way to consent to credentials
    in clear; they are the core's, so a format reads ``context.timeout`` and
    ``context.allow_insecure_http`` instead of another plugin's options by name.
    A type that does not extend this gets the defaults.  A subclass may narrow a
    field (``timeout: float = Field(30.0, gt=0, le=300, ...)``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: float = Field(
        default=30.0,
        gt=0,
        le=600,
        allow_inf_nan=False,
        description="seconds to wait for the back office per request (at most 600)",
    )
    allow_insecure_http: StrictBool = Field(
        default=False,
        description="true lets a credential (a Basic password, a bearer token) travel in clear "
        "over a plain http:// uri to a host other than loopback (readable by anyone on the "
        "path); refused otherwise",
    )


def secret_fields_of(model: type[BaseModel]) -> tuple[str, ...]:
    """Names of the fields of ``model`` typed ``SecretStr`` (optionally ``| None``)."""
    names = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        args = getattr(annotation, "__args__", ())
        if annotation is SecretStr or SecretStr in args:
            names.append(name)
    return tuple(names)


@dataclass(frozen=True, kw_only=True)
class AuthRule:
    """The auth methods a connector type accepts for one variant and one format.

    The core intersects ``methods`` with the auth methods whose ``transports``
    include the format's transport, so a type may list a method (``windows``)
    for every format and let the transports rule it out where it cannot work.
    """

    #: Deployment variant this rule is for (``DEFAULT_VARIANT`` when there is one).
    variant: str = DEFAULT_VARIANT
    #: Format name (``json``, ``soap``) this rule is for.
    api_format: str
    #: Auth method names accepted, in the order to print them.
    methods: tuple[str, ...]
    #: Methods accepted with a warning: method name -> the sentence to show.
    warnings: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ThrottleDefaults:
    """The default ``throttle`` of a connector type (its back office's published limits)."""

    #: At most this many requests in flight to one endpoint; ``None``: no limit.
    max_concurrency: int | None = None
    #: At most this many requests per window, written ``"6000/300s"``; ``None``: no limit.
    rate: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConnectorTypeSpec:
    """A connector type: a back office, what it receives and what it accepts."""

    #: Short name used in the connector row's ``type`` (``bc``, ``nav``, ``webhook``).
    name: str
    #: One line for ``writeback plugins``.
    summary: str
    #: Format names this type can build messages for.
    formats: tuple[str, ...]
    #: Which auth methods are accepted per (variant, format); see :class:`AuthRule`.
    auth_rules: tuple[AuthRule, ...]
    #: Builds the working :class:`writeback.plugin.ConnectorType` for one connector.
    factory: Callable[[PipelineContext], ConnectorType]
    #: Pydantic model for the row's ``options`` (``extra="forbid"``; secrets as ``SecretStr``).
    options_model: type[BaseModel] = NoSettings
    #: Picks the deployment variant of a row (e.g. BC online vs on-premises).
    variant_of: Callable[[Connector, BaseModel], str] | None = None
    #: Human labels of variants for messages and the matrix (``{"cloud": "online"}``).
    variant_labels: Mapping[str, str] = field(default_factory=dict)
    #: Default of the row's ``coalesce``.
    coalesce_default: bool = False
    #: Default of the row's ``throttle``.
    throttle_default: ThrottleDefaults = field(default_factory=ThrottleDefaults)
    #: The throttle group of a row that sets no ``throttle.group``, from the row and
    #: its parsed options: connectors whose back office limits them together (per
    #: user, per tenant) name the same group and share one budget.  ``None``: each
    #: connector is its own group (its name).
    default_throttle_group: Callable[[Connector, BaseModel], str] | None = None
    #: Defaults merged into auth settings per method (e.g. the Entra scope for BC).
    auth_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Extra row checks; returns one sentence per problem (empty when fine).
    check: Callable[[Connector, BaseModel], Sequence[str]] | None = None
    #: Warnings about a valid row, given the row and its parsed options (printed,
    #: exit 0); one sentence each.  For what works today but should change (a
    #: format the back office is retiring for this deployment).  No I/O.
    warn: Callable[[Connector, BaseModel], Sequence[str]] | None = None
    #: Where the formats and auth methods it accepts come from: name -> distribution,
    #: for install hints (the core knows no plugin by name).
    provided_by: Mapping[str, str] = field(default_factory=dict)
    #: Distribution and version, filled in by the registry (plugins leave them empty).
    distribution: str = ""
    version: str = ""

    @property
    def variants(self) -> tuple[str, ...]:
        """Variants named by the auth rules, in declaration order."""
        return tuple(dict.fromkeys(rule.variant for rule in self.auth_rules))

    @property
    def secret_fields(self) -> tuple[str, ...]:
        """Option fields that are secrets (typed ``SecretStr`` in ``options_model``)."""
        return secret_fields_of(self.options_model)

    def rule_for(self, variant: str, api_format: str) -> AuthRule | None:
        """The auth rule for ``variant`` and ``api_format``, if the type declares one."""
        for rule in self.auth_rules:
            if rule.variant == variant and rule.api_format == api_format:
                return rule
        return None

    def label(self, variant: str) -> str:
        """Human label of ``variant`` (the variant name itself when none is declared)."""
        return self.variant_labels.get(variant, variant)


@dataclass(frozen=True, kw_only=True)
class ApiFormatSpec:
    """An API format: a wire encoding plus the transport that carries it."""

    #: Short name used in the connector row's ``api_type`` (``json``, ``soap``).
    name: str
    #: One line for ``writeback plugins``.
    summary: str
    #: The transport it sends with: one of :data:`TRANSPORTS`.
    transport: str
    #: Other names accepted on input for this format (``rest`` for ``json``).
    aliases: tuple[str, ...] = ()
    #: Builds the working :class:`writeback.plugin.ApiFormat` for one connector.
    factory: Callable[[PipelineContext], ApiFormat]
    #: Extra row checks given the auth method's spec; one sentence per problem.
    check: Callable[[Connector, AuthMethodSpec], Sequence[str]] | None = None
    distribution: str = ""
    version: str = ""


@dataclass(frozen=True, kw_only=True)
class AuthMethodSpec:
    """An auth method: its settings and the transports it can authenticate."""

    #: Short name used in the row's ``auth.method`` (``basic``, ``ntlm``, ``oauth2``).
    name: str
    #: One line for ``writeback plugins``.
    summary: str
    #: For a method that authenticates connections (NTLM, Negotiate): the transports
    #: it can hand an auth object to (a subset of :data:`TRANSPORTS`).  Empty (the
    #: default) for a method whose credentials are headers: it rides every transport.
    transports: tuple[str, ...] = ()
    #: Pydantic model for the row's ``auth`` minus ``method`` (``extra="forbid"``).
    settings_model: type[BaseModel] = NoSettings
    #: Builds the working :class:`writeback.plugin.AuthMechanism` for one connector.
    factory: Callable[[PipelineContext], AuthMechanism]
    #: True when credentials travel readable by anyone on the path over plain http.
    sends_credentials: bool = True
    #: Warnings about a valid row's parsed settings (printed, exit 0); one sentence each.
    warn: Callable[[BaseModel], Sequence[str]] | None = None
    distribution: str = ""
    version: str = ""

    @property
    def secret_fields(self) -> tuple[str, ...]:
        """Settings fields that are secrets (typed ``SecretStr`` in ``settings_model``)."""
        return secret_fields_of(self.settings_model)
