"""Validating a connector row against the installed plugins' declarations.

Nothing about particular back offices lives here: the support matrix
(docs/connectors.md, "The support matrix") falls out of what each connector
type, format and auth method declares (types list auth methods per variant and
format; formats name their transport; auth methods name the transports they
can authenticate).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from ._descriptors import (
    DEFAULT_VARIANT,
    ApiFormatSpec,
    AuthMethodSpec,
    ConnectorTypeSpec,
    TransportOptions,
)
from ._errors import InvalidConnectorError, UserError
from ._interfaces import PipelineContext
from ._models import Connector, Throttle
from ._problems import problems_from, shown
from ._registry import PluginRegistry
from ._secrets import ENV_PREFIX, REDACTOR, reveal
from ._uri import mask_uri, uri_problem, uri_secrets

if TYPE_CHECKING:
    from .store._tokens import TokenStore

__all__ = [
    "ALWAYS_SECRET",
    "ENV_NAME",
    "ValidatedConnector",
    "clear_credentials_problem",
    "env_reference_problems",
    "is_loopback",
    "secret_paths",
    "throttle_group_of",
    "transport_options",
    "url_setting_problems",
    "url_settings",
    "validate_connector",
]

#: Field names treated as secrets wherever they appear in ``auth`` or ``options``,
#: even when the plugin that would declare them is not installed
#: (docs/architecture.md, "Secrets").
ALWAYS_SECRET = frozenset({"password", "client_secret", "signing_secret", "secret", "token"})
#: What may follow ``env:``: a name every shell and ``os.environ`` can hold.
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ValidatedConnector:
    """A connector row that agrees with itself and with the installed plugins."""

    row: Connector
    type_spec: ConnectorTypeSpec
    format_spec: ApiFormatSpec
    auth_spec: AuthMethodSpec
    options: BaseModel
    auth_settings: BaseModel
    variant: str
    warnings: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def coalesce(self) -> bool:
        if self.row.coalesce is not None:
            return self.row.coalesce
        return self.type_spec.coalesce_default

    @property
    def throttle(self) -> Throttle:
        if self.row.throttle is not None:
            return self.row.throttle
        default = self.type_spec.throttle_default
        return Throttle(max_concurrency=default.max_concurrency, rate=default.rate)

    @property
    def throttle_group(self) -> str:
        """The throttle group whose budget this connector shares (see ``throttle.group``):
        the row's, else its type's ``default_throttle_group``, else its own name."""
        return throttle_group_of(self.row, self.type_spec, self.options)

    def context(self, *, token_store: TokenStore | None = None) -> PipelineContext:
        """What the plugins' factories get for this connector (secrets revealed at send time).

        :param token_store: the database's token store, shared by worker processes.
        """
        # A token in the uri's query is as secret as a password: keep it out of
        # error texts and logs the way revealed secrets are.
        for url in (self.row.uri, *url_settings(self.row).values()):
            for part in uri_secrets(url):
                REDACTOR.add(part)
        return PipelineContext(
            connector=self.row,
            options=self.options,
            auth_settings=self.auth_settings,
            variant=self.variant,
            transport=self.format_spec.transport,
            reveal=reveal,
            throttle=self.throttle,
            token_store=token_store,
            timeout=transport_options(self.options).timeout,
            allow_insecure_http=transport_options(self.options).allow_insecure_http,
        )

    def secret_paths(self) -> tuple[str, ...]:
        """Dotted paths of the secrets in this row (``auth.password``, …)."""
        declared = [f"auth.{f}" for f in self.auth_spec.secret_fields]
        declared += [f"options.{f}" for f in self.type_spec.secret_fields]
        return tuple(dict.fromkeys([*declared, *secret_paths(self.row.model_dump())]))


#: The longest group key stored; a longer one a plugin derives is stored as its hash.
_MAX_GROUP_KEY = 200


def throttle_group_of(row: Connector, type_spec: ConnectorTypeSpec, options: BaseModel) -> str:
    """The throttle group of ``row`` (see :attr:`ValidatedConnector.throttle_group`)."""
    if row.throttle is not None and row.throttle.group is not None:
        return row.throttle.group
    if type_spec.default_throttle_group is None:
        return row.name
    group = str(type_spec.default_throttle_group(row, options))
    if not group:
        return row.name
    if len(group) > _MAX_GROUP_KEY:
        # Still one key per environment and principal, only not readable.
        return "sha256:" + hashlib.sha256(group.encode("utf-8", "surrogatepass")).hexdigest()
    return group


_DEFAULT_TRANSPORT = TransportOptions()


def transport_options(options: BaseModel) -> TransportOptions:
    """The row's :class:`TransportOptions`, or the defaults when its type's options
    model does not extend it."""
    return options if isinstance(options, TransportOptions) else _DEFAULT_TRANSPORT


def is_loopback(host: str | None) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``: traffic that never leaves the machine."""
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def clear_credentials_problem(
    row: Connector, auth_spec: AuthMethodSpec, options: BaseModel
) -> str | None:
    """The sentence refusing a credential sent in clear, or ``None`` when the row is fine.

    One rule for every type and format: an auth method that declares
    ``sends_credentials`` (a Basic password, a bearer token) is refused over a
    plain ``http://`` uri unless the host is loopback or the row consents with
    ``options.allow_insecure_http: true``.  NTLM and Negotiate never send the
    password and declare ``sends_credentials=False``.
    """
    if not auth_spec.sends_credentials:
        return None
    parts = urlsplit(row.uri)
    if parts.scheme.lower() != "http" or is_loopback(parts.hostname):
        return None
    if transport_options(options).allow_insecure_http:
        return None
    consent = (
        ", or set options.allow_insecure_http: true if the network between is trusted"
        if isinstance(options, TransportOptions)
        else ""
    )
    return (
        f"uri {mask_uri(row.uri)!r}: auth.method {auth_spec.name!r} would send the credentials "
        f"in clear over http://; use an https:// uri{consent}."
    )


def secret_paths(row: Mapping[str, Any]) -> tuple[str, ...]:
    """Paths of fields named like secrets in a raw row's ``auth`` and ``options``."""
    paths = []
    for section in ("auth", "options"):
        value = row.get(section)
        if isinstance(value, Mapping):
            paths += [f"{section}.{k}" for k in value if k in ALWAYS_SECRET]
    return tuple(paths)


def url_settings(row: Connector) -> dict[str, str]:
    """The URLs among ``auth`` and ``options`` (``auth.token_url``, ``auth.authority``, …):
    keys ending in ``url`` or ``uri``, or named ``authority``, holding a string."""
    found = {}
    for section, values in (("auth", row.auth), ("options", row.options)):
        for key, value in values.items():
            lowered = str(key).lower()
            if isinstance(value, str) and (
                lowered.endswith(("url", "uri")) or lowered == "authority"
            ):
                found[f"{section}.{key}"] = value
    return found


def url_setting_problems(row: Connector) -> list[str]:
    """A sentence for each URL setting that could not be sent (as for ``uri``): a
    token endpoint on port 99999 or with a line break failed only when fetching."""
    problems = []
    for path, value in url_settings(row).items():
        # Anything else is not a URL at all, which the plugin's own model says.
        if not value.lower().startswith(("http://", "https://")):
            continue
        problem = uri_problem(value)
        if problem is not None:
            problems.append(f"{path} {shown(value)} {problem}.")
    return problems


def env_reference_problems(
    row: Connector, auth_spec: AuthMethodSpec, type_spec: ConnectorTypeSpec
) -> list[str]:
    """A sentence for each secret written ``env:…`` that names no environment variable.

    ``env:``, ``env:A B`` or ``env:=x`` would pass until the worker looked the
    variable up, and fail every attempt; they are refused with the row instead.
    The value is not quoted: a field that is a secret is never echoed.
    """
    problems = []
    for section, values, declared in (
        ("auth", row.auth, auth_spec.secret_fields),
        ("options", row.options, type_spec.secret_fields),
    ):
        for key, value in values.items():
            if key not in declared and key not in ALWAYS_SECRET:
                continue
            if not isinstance(value, str) or not value.startswith(ENV_PREFIX):
                continue
            if not ENV_NAME.fullmatch(value[len(ENV_PREFIX) :]):
                problems.append(
                    f"{section}.{key} is an env: reference without a variable name; write "
                    "env:NAME, where NAME holds letters, digits and _ and does not start "
                    "with a digit."
                )
    return problems


def _parse(
    model: type[BaseModel], data: Mapping[str, Any], prefix: str, secrets: tuple[str, ...]
) -> tuple[BaseModel | None, list[str]]:
    try:
        return model.model_validate(dict(data)), []
    except ValidationError as exc:
        return None, problems_from(exc, prefix=prefix, model=model, secret_fields=secrets)


def _row_of(raw: Mapping[str, Any]) -> tuple[Connector | None, list[str]]:
    """The row's own problems, and the row to check further: itself, or when some
    of its fields are wrong (a misspelt key, a bad ``retry``), the row without them,
    so that the problems of the rest are found in the same round.  ``None`` when
    what is left is no row (a required field is wrong or missing)."""
    try:
        return Connector.model_validate(dict(raw)), []
    except ValidationError as exc:
        problems = problems_from(exc, model=Connector, secret_fields=tuple(ALWAYS_SECRET))
        errors = exc.errors(include_url=False)
    if any(not err["loc"] for err in errors):
        return None, problems  # a check of the whole row: nothing to set aside
    wrong = {err["loc"][0] for err in errors}
    try:
        rest = Connector.model_validate({k: v for k, v in raw.items() if k not in wrong})
    except ValidationError:
        return None, problems
    return rest, problems


def _lookup(lookup: Any, value: str, problems: list[str]) -> Any:
    try:
        return lookup(value)
    except UserError as exc:
        problems.append(exc.message)
        return None


def validate_connector(raw: Any, registry: PluginRegistry) -> ValidatedConnector:
    """Check ``raw`` (a dict from JSON/YAML) and return it validated, or raise.

    Every problem that does not depend on another is reported at once: a misspelt
    key does not hide a wrong ``options`` value or auth method.  What cannot be
    checked until something else is right (the auth method, before the type and
    format are known) is checked once it is.

    :raises InvalidConnectorError: with one sentence per problem.
    """
    name = raw.get("name") if isinstance(raw, Mapping) else None
    name = name if isinstance(name, str) else None
    if not isinstance(raw, Mapping):
        raise InvalidConnectorError(
            [f"a connector row must be an object with keys like name, type, uri; got {shown(raw)}."]
        )
    row, problems = _row_of(raw)
    if row is None:
        raise InvalidConnectorError(problems, name=name)

    type_spec: ConnectorTypeSpec | None = _lookup(registry.connector_type, row.type, problems)
    format_spec: ApiFormatSpec | None = _lookup(registry.api_format, row.api_type, problems)
    if (
        type_spec is not None
        and format_spec is not None
        and format_spec.name not in type_spec.formats
    ):
        problems.append(
            f"api_type {shown(row.api_type)} is not supported by type {type_spec.name!r}; "
            f"allowed: {', '.join(type_spec.formats)}."
        )
        format_spec = None
    problems += url_setting_problems(row)
    if type_spec is None:
        raise InvalidConnectorError(problems, name=row.name)

    options, option_problems = _parse(
        type_spec.options_model, row.options, "options", type_spec.secret_fields
    )
    problems += option_problems
    if options is not None and type_spec.variant_of:
        variant: str | None = type_spec.variant_of(row, options)
    elif type_spec.variant_of is None or len(type_spec.variants) == 1:
        variant = type_spec.variants[0] if type_spec.variant_of else DEFAULT_VARIANT
    else:
        variant = None  # which variant depends on the options, which are wrong
    if format_spec is None or variant is None:
        raise InvalidConnectorError(problems, name=row.name)

    rule = type_spec.rule_for(variant, format_spec.name)
    allowed = registry.effective_methods(type_spec, variant, format_spec.name)
    method = row.auth_method
    where = f"type {type_spec.name!r}"
    if len(type_spec.variants) > 1:
        where += f" ({type_spec.label(variant)})"
    if rule is None or method not in allowed:
        problems.append(
            f"auth.method {shown(method)} is not allowed for {where} with api_type "
            f"{format_spec.name!r}; allowed: {', '.join(allowed) or 'none'}."
        )
        raise InvalidConnectorError(problems, name=row.name)
    auth_spec = _lookup(registry.auth_method, method, problems)
    if auth_spec is None:
        raise InvalidConnectorError(problems, name=row.name)

    # A field already refused by its plugin's model is not refused twice.
    said = {problem.split(" ", 1)[0].rstrip(":") for problem in problems}
    problems += [
        p
        for p in env_reference_problems(row, auth_spec, type_spec)
        if p.split(" ", 1)[0] not in said
    ]
    settings = {**type_spec.auth_defaults.get(method, {}), **row.auth_settings()}
    auth_settings, auth_problems = _parse(
        auth_spec.settings_model, settings, "auth", auth_spec.secret_fields
    )
    problems += auth_problems
    if options is not None:
        clear = clear_credentials_problem(row, auth_spec, options)
        if clear is not None:
            problems.append(clear)
    if auth_settings is not None and options is not None:
        if format_spec.check is not None:
            problems += list(format_spec.check(row, auth_spec))
        if type_spec.check is not None:
            problems += list(type_spec.check(row, options))
    if problems or auth_settings is None or options is None:
        raise InvalidConnectorError(problems, name=row.name)

    notes = [rule.warnings[method]] if method in rule.warnings else []
    if auth_spec.warn is not None:
        notes += auth_spec.warn(auth_settings)
    if type_spec.warn is not None:
        notes += type_spec.warn(row, options)
    warnings = tuple(f"connector {row.name!r}: {note}" for note in notes)
    return ValidatedConnector(
        row=row,
        type_spec=type_spec,
        format_spec=format_spec,
        auth_spec=auth_spec,
        options=options,
        auth_settings=auth_settings,
        variant=variant,
        warnings=warnings,
    )
