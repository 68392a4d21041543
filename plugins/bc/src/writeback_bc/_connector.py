"""The working ``bc`` (and ``nav``) type: one staging row per appointment change."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from writeback.plugin import (
    AttemptResult,
    ConnectorTypeBase,
    Delivery,
    OutboundBatch,
    OutboundMessage,
    Outcome,
    ProbeReport,
)

from ._options import StagingOptions
from .staging import json_body, page_record, staging_row

if TYPE_CHECKING:
    from writeback.plugin import PipelineContext

__all__ = ["StagingConnector", "probe_url", "service_root"]

#: Failed answers that have one usual cause, with the code and the advice we add.
_HINTS = {
    401: ("WB-331", "{product} refused the credentials ({error}); {check}."),
    403: (
        "WB-332",
        "{product} accepted the credentials but refused the request ({error}); give the user "
        "or app a permission set that may insert into the staging table.",
    ),
    404: (
        "WB-333",
        "{product} has no such endpoint ({error}); check the uri, that the vendor extension "
        "is installed and, for soap, that the page is published as a web service.",
    ),
}


#: What to check after a 401, per auth method.
_CREDENTIALS = {
    "basic": "check auth.username and auth.password (the user's web service access key, "
    "or the password with NavUserPassword)",
    "windows": "check auth.username (DOMAIN\\user or user@REALM) and auth.password, and that "
    "the server instance uses Windows credentials",
    "ntlm": "check auth.username (DOMAIN\\user) and auth.password, and that the server "
    "instance uses Windows credentials",
    "entra": "check auth.client_id and auth.client_secret, and that the app is registered in "
    "Business Central (Microsoft Entra Applications) with permissions",
    "oauth2": "check auth.client_id and auth.client_secret, and that the server accepts tokens "
    "of this authorization server",
}


def service_root(uri: str) -> str | None:
    """The OData service root of an API page's uri: everything before
    ``/companies(`` (``None`` when the uri has no such segment)."""
    at = uri.find("/companies(")
    return uri[:at] if at > 0 else None


def probe_url(uri: str) -> str:
    """The JSON probe's URL: the collection, asking for at most one row.

    A ``GET`` reads nothing it changes; ``$top=1`` keeps a full staging table
    from coming back.
    """
    return f"{uri}{'&' if '?' in uri else '?'}$top=1"


class StagingConnector(ConnectorTypeBase[StagingOptions]):
    """Builds the staging row for the row's format and checks what BC answered.

    ``product`` names the back office in error texts (``Business Central``, ``NAV``).
    """

    def __init__(self, context: PipelineContext, *, product: str = "Business Central") -> None:
        super().__init__(context)
        self.product = product
        self.soap = context.connector.api_type == "soap"
        self.renames: dict[str, str] = dict(self.options.fields)

    def build_message(self, delivery: Delivery) -> OutboundMessage:
        """``POST {uri}``: the row as JSON, or the SOAP page's ``Create`` with the page record."""
        row = staging_row(delivery.action, delivery.appointment)
        uri = self.context.connector.uri
        if self.soap:
            return OutboundMessage(
                url=uri, method="POST", operation="Create", payload=page_record(row, self.renames)
            )
        return OutboundMessage(
            url=uri,
            method="POST",
            headers={"accept": "application/json"},
            payload=json_body(row, self.renames),
        )

    def batch_limit(self) -> int:
        """Rows per request: ``options.batch_size`` over json when the uri names its
        service root (``…/companies(``), else 1 (SOAP has no batch here)."""
        if self.soap or service_root(self.context.connector.uri) is None:
            return 1
        return int(getattr(self.options, "batch_size", 1))

    def build_batch(self, messages: list[OutboundMessage]) -> OutboundBatch:
        """``POST {service root}/$batch`` carrying each row's request (docs/connectors.md)."""
        root = service_root(self.context.connector.uri)
        assert root is not None  # batch_limit() is 1 otherwise
        return OutboundBatch(url=f"{root}/$batch", messages=messages)

    def review(self, result: AttemptResult) -> AttemptResult:
        """A JSON 2xx counts only with ``Location``; usual failures get their advice."""
        if result.outcome is Outcome.DELIVERED:
            if self.soap or "location" in result.headers:
                return result
            return replace(
                result,
                outcome=Outcome.FAILED,
                error=(
                    f"WB-330: {self.product} answered HTTP {result.status_code} without a "
                    "Location header, so the staging row it created cannot be confirmed (BC "
                    "REST API missing Location header); check that the uri is the API page's "
                    "entity set and that no proxy strips headers."
                ),
                code="WB-330",
            )
        hint = _HINTS.get(result.status_code or 0)
        if result.outcome is Outcome.FAILED and hint is not None:
            code, text = hint
            error = result.error or f"HTTP {result.status_code}"
            check = _CREDENTIALS.get(self.context.connector.auth_method, "check auth")
            text = text.format(product=self.product, error=error, check=check)
            return replace(result, error=f"{code}: {text}", code=code)
        return result

    def probe_message(self) -> OutboundMessage:
        """JSON: ``GET`` one row of the collection; SOAP: ``GET`` the WSDL. Both with auth."""
        uri = self.context.connector.uri
        return OutboundMessage(url=uri if self.soap else probe_url(uri), method="GET")

    def judge_probe(self, result: AttemptResult) -> ProbeReport:
        """Only a 2xx: the probe's ``GET`` is one BC serves, so any other 4xx is a
        wrong uri or a missing permission, not a reachable endpoint."""
        report = super().judge_probe(result)
        status = result.status_code
        if not report.ok or status is None or 200 <= status < 300:
            return report
        return ProbeReport(False, f"reached, but {self.review(result).error or f'HTTP {status}'}")
