"""Declares the ``bc`` connector type to writeback.

Loaded for ``writeback plugins`` and row validation, so it holds only data and
the options model; the working type is built by the factory.  The support
matrix (docs/connectors.md, "The support matrix") is written here as auth rules
per deployment and format.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from writeback.plugin import AuthRule, ConnectorTypeSpec, ThrottleDefaults, hookimpl

from ._options import BcOptions
from .staging import rename_problems

if TYPE_CHECKING:
    from pydantic import BaseModel
    from writeback.plugin import Connector, ConnectorType, PipelineContext

__all__ = [
    "BC_AUTH_RULES",
    "BC_ENTRA_SCOPE",
    "BC_THROTTLE",
    "STAGING_THROTTLE",
    "check_staging_row",
    "deployment_of",
    "principal_group",
    "soap_online_warning",
    "writeback_connector_types",
]

#: The Entra scope of Business Central's APIs (online and on-premises with Entra).
BC_ENTRA_SCOPE = "https://api.businesscentral.dynamics.com/.default"

#: The staging types' default throttle (``nav``'s): eight in flight per connector,
#: 6,000 requests per 5 minutes; bigger httpx pools got slower (docs/benchmarks.md,
#: "Lasting advice from these measurements").
STAGING_THROTTLE = ThrottleDefaults(max_concurrency=8, rate="6000/300s")
#: ``bc``'s default throttle: Business Central online's per-user limits as Microsoft
#: publishes them (5 concurrent requests, 6,000 per 5-minute window; beyond them
#: 429 with Retry-After), shared by the principal's throttle group (docs/connectors.md).
BC_THROTTLE = ThrottleDefaults(max_concurrency=5, rate="6000/300s")

_BASIC_ONLINE = (
    "basic authentication on Business Central online: Microsoft retired Basic (web service "
    "access keys) online in 2022, so expect 401; use auth.method 'entra'."
)

#: docs/connectors.md, "The bc type". Windows and NTLM exist on SOAP only (the REST
#: API has no Windows auth).
BC_AUTH_RULES = (
    AuthRule(
        variant="onprem",
        api_format="soap",
        methods=("basic", "windows", "ntlm", "entra", "oauth2"),
    ),
    AuthRule(variant="onprem", api_format="json", methods=("basic", "entra", "oauth2")),
    AuthRule(
        variant="cloud",
        api_format="soap",
        methods=("basic", "entra", "oauth2"),
        warnings={"basic": _BASIC_ONLINE},
    ),
    AuthRule(
        variant="cloud",
        api_format="json",
        methods=("basic", "entra", "oauth2"),
        warnings={"basic": _BASIC_ONLINE},
    ),
)


def deployment_of(row: Connector, options: BaseModel) -> str:
    """``options.deployment`` if given, else ``cloud`` for a host under dynamics.com."""
    chosen = getattr(options, "deployment", None)
    if chosen:
        return str(chosen)
    host = (urlsplit(row.uri).hostname or "").lower().rstrip(".")
    return "cloud" if host == "dynamics.com" or host.endswith(".dynamics.com") else "onprem"


#: Path segments that start the service part of a BC URI: what comes before them
#: (after ``v2.0``) names the tenant and the environment online.
_SERVICE_SEGMENTS = frozenset({"api", "odatav4", "ws", "odata"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def principal_group(row: Connector, options: BaseModel) -> str:
    """The default throttle group of a ``bc`` row: its environment plus its principal.

    Business Central's limits are per user: every connector that signs in as the
    same user (or app registration) on the same environment shares them, from
    whichever worker it sends.  The environment is the URI's host and port, and
    online the tenant and environment named in its path
    (``/v2.0/{tenant}/{environment}/api/…``); the principal is the auth
    method's user name or client id.
    """
    parts = urlsplit(row.uri)
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    except ValueError:
        port = 0
    environment = f"{host}:{port}"
    if deployment_of(row, options) == "cloud":
        segments = [s for s in parts.path.split("/") if s]
        if segments and segments[0].lower() == "v2.0":
            named = []
            for segment in segments[1:]:
                if segment.lower() in _SERVICE_SEGMENTS:
                    break
                named.append(segment.lower())
            environment += "/" + "/".join(named)
    auth = row.auth
    principal = auth.get("client_id") or auth.get("username") or ""
    return f"bc:{environment}|{auth.get('method', 'none')}:{str(principal).lower()}"


def check_staging_row(row: Connector, options: BaseModel) -> list[str]:
    """Checks that need the row's format: renames must not collide on the wire."""
    fmt = "soap" if row.api_type == "soap" else "json"
    return rename_problems(getattr(options, "fields", None) or {}, fmt)


_SOAP_ONLINE = (
    "api_type 'soap' on Business Central online: SOAP web services are deprecated in "
    "Business Central (since v18), publishing Microsoft's UI pages as SOAP is off by default "
    "from v26 and removed in v29 (2026 release wave 2), and Microsoft says SOAP endpoints "
    "will be removed in an upcoming release; the API page is the way forward: api_type "
    "'json' with the uri https://api.businesscentral.dynamics.com/v2.0/{tenant}/{environment}"
    "/api/dimeSoftware/dimeScheduler/v1.0/companies({company-id})/appointments."
)


def soap_online_warning(row: Connector, options: BaseModel) -> list[str]:
    """The deprecation warning for ``soap`` on Business Central online (docs/connectors.md,
    "SOAP on Business Central online"); nothing on premises, where a server keeps what
    its version offers until it is upgraded."""
    if row.api_type == "soap" and deployment_of(row, options) == "cloud":
        return [_SOAP_ONLINE]
    return []


def _bc(context: PipelineContext) -> ConnectorType:
    from ._connector import StagingConnector

    return StagingConnector(context, product="Business Central")


@hookimpl
def writeback_connector_types() -> list[ConnectorTypeSpec]:
    return [
        ConnectorTypeSpec(
            name="bc",
            summary="Business Central: one staging row per change, over the API page or SOAP",
            formats=("json", "soap"),
            auth_rules=BC_AUTH_RULES,
            options_model=BcOptions,
            variant_of=deployment_of,
            variant_labels={"onprem": "on-premises", "cloud": "online"},
            # A pending update is worthless once a later change is queued: BC would
            # process both staging rows, the first only to be overwritten.
            coalesce_default=True,
            throttle_default=BC_THROTTLE,
            # BC's limits are per user: one budget per environment and principal.
            default_throttle_group=principal_group,
            auth_defaults={"entra": {"scope": BC_ENTRA_SCOPE}},
            check=check_staging_row,
            # Microsoft is retiring SOAP online: say so while the row still works.
            warn=soap_online_warning,
            provided_by={
                "json": "writeback-json",
                "soap": "writeback-soap",
                "basic": "writeback-auth-basic",
                "windows": "writeback-auth-windows",
                "ntlm": "writeback-auth-windows",
                "entra": "writeback-auth-entra",
                "oauth2": "writeback-auth-oauth2",
            },
            factory=_bc,
        )
    ]
