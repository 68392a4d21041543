"""Declares the ``soap`` API format to writeback.

This module is what the entry point loads for ``writeback plugins`` and row
validation, so it imports nothing heavier than the core: zeep and requests are
imported by the factory, when a pipeline is built to send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from writeback import ApiFormatSpec, hookimpl, mask_uri

if TYPE_CHECKING:
    from writeback import ApiFormat, AuthMethodSpec, Connector, PipelineContext

__all__ = ["INSECURE_HTTP_OPTION", "check_connector", "writeback_api_formats"]

#: The connector option that accepts credentials over plain ``http://``
#: (docs/connectors.md, "Options of bc (and nav)").
INSECURE_HTTP_OPTION = "allow_insecure_http"


def check_connector(connector: Connector, auth: AuthMethodSpec) -> list[str]:
    """Refuse SOAP over plain ``http://`` when the credentials would travel in clear.

    Basic passwords and bearer tokens are readable by anyone on the path;
    NTLM and Negotiate never send the password, so they declare
    ``sends_credentials=False`` and pass.  The raw ``options`` are read because
    the connector type's options model owns the field.
    """
    if urlsplit(connector.uri).scheme.lower() != "http" or not auth.sends_credentials:
        return []
    if connector.options.get(INSECURE_HTTP_OPTION) is True:
        return []
    return [
        f"uri {mask_uri(connector.uri)!r}: api_type 'soap' with auth.method {auth.name!r} would send "
        "the credentials in clear over http://; use an https:// uri, or set "
        f"options.{INSECURE_HTTP_OPTION}: true if the network between is trusted."
    ]


def _soap_format(context: PipelineContext) -> ApiFormat:
    from ._format import SoapFormat

    return SoapFormat(context)


@hookimpl
def writeback_api_formats() -> list[ApiFormatSpec]:
    return [
        ApiFormatSpec(
            name="soap",
            transport="requests",
            summary="SOAP 1.1 page web services (Business Central, NAV), sent with zeep",
            factory=_soap_format,
            check=check_connector,
        )
    ]
