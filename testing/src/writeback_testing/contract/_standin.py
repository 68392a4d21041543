"""The test-local plugins the format and auth suites pair the plugin under test with.

An API format or auth method cannot send alone: a row needs a connector type,
and a format needs credentials to attach.  These stand-ins are registered next
to the plugin under test, so its suite depends on no other installed plugin.

- ``contract`` (connector type): the appointment as it is over ``json``-like
  formats, the SOAP page's ``Create`` (page fields) to a SOAP back office; its options
  are :class:`~writeback.plugin.TransportOptions`, so a row can shorten the
  timeout; its probe is a ``GET`` of the ``uri`` (no side effect).
- ``contract-token`` (auth method): ``Authorization: Bearer contract-token-N``,
  a fresh ``N`` after each ``refresh_after_401``, counted in :data:`REFRESHES`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict
from writeback.plugin import (
    AttemptAuth,
    AuthMechanismBase,
    AuthMethodSpec,
    AuthRule,
    ConnectorTypeBase,
    ConnectorTypeSpec,
    Delivery,
    OutboundMessage,
    TransportOptions,
    add_secret,
    hookimpl,
)

__all__ = [
    "ISSUED",
    "REFRESHES",
    "TOKEN_METHOD",
    "TYPE_NAME",
    "VALID",
    "ContractPlugin",
    "contract_type",
    "token_principal",
]

TYPE_NAME = "contract"
TOKEN_METHOD = "contract-token"

#: Page fields of ``writeback_testing.soap_page`` filled from the appointment.
_PAGE_FIELDS = {
    "sourceApp": "Source_App",
    "appointmentGuid": "Appointment_Guid",
    "subject": "Subject",
    "start": "Start_Date_Time",
}
_ACTIONS = {"create": "I", "update": "U", "delete": "D"}


class ContractOptions(TransportOptions):
    """The ``contract`` type's options: the core's ``timeout`` and ``allow_insecure_http``."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ContractType(ConnectorTypeBase[ContractOptions]):
    """Sends the appointment to the row's ``uri``; a SOAP page ``Create`` when ``soap``."""

    def __init__(self, context: Any, *, soap: bool = False) -> None:
        super().__init__(context)
        self.soap = soap

    def build_message(self, delivery: Delivery) -> OutboundMessage:
        uri = self.context.connector.uri
        if self.soap:
            source = {**delivery.appointment, "action": _ACTIONS[delivery.action]}
            payload = {page: source.get(key) for key, page in _PAGE_FIELDS.items()}
            payload["Database_Action"] = source["action"]
            return OutboundMessage(url=uri, operation="Create", payload=payload)
        return OutboundMessage(uri, payload={"action": delivery.action, **delivery.appointment})

    def probe_message(self) -> OutboundMessage:
        return OutboundMessage(self.context.connector.uri, method="GET")


def contract_type(
    formats: Sequence[str], methods: Sequence[str], *, soap: bool = False
) -> ConnectorTypeSpec:
    """The ``contract`` type accepting ``methods`` with each of ``formats``; with ``soap``
    its messages are SOAP page ``Create`` calls."""

    def build(context: Any) -> ContractType:
        return ContractType(context, soap=soap)

    return ConnectorTypeSpec(
        name=TYPE_NAME,
        summary="the contract suites' stand-in connector type",
        formats=tuple(formats),
        auth_rules=tuple(AuthRule(api_format=f, methods=tuple(methods)) for f in formats),
        options_model=ContractOptions,
        factory=build,
    )


class _TokenSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: ``refresh_after_401`` calls of every ``contract-token`` mechanism: the token refused.
REFRESHES: list[str] = []
#: Every token issued, and those a back office still accepts (clear it to revoke them).
ISSUED: list[str] = []
VALID: set[str] = set()
_serial = itertools.count(1)
_lock = threading.Lock()


class _TokenAttempt(AttemptAuth):
    def __init__(self, mechanism: TokenMechanism) -> None:
        self.mechanism = mechanism
        self.token = mechanism.token

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def refresh_after_401(self) -> bool:
        REFRESHES.append(self.token)
        self.mechanism.renew(self.token)
        self.token = self.mechanism.token
        return True


class TokenMechanism(AuthMechanismBase[_TokenSettings]):
    """A bearer token that changes on each refresh (registered as a secret)."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.token = ""
        self.renew("")

    def renew(self, refused: str) -> None:
        with _lock:
            if self.token == refused:
                self.token = f"contract-token-{next(_serial)}-s3cret"
                add_secret(self.token)
                ISSUED.append(self.token)
                VALID.add(self.token)

    async def attempt_auth(self) -> AttemptAuth:
        return _TokenAttempt(self)

    async def describe(self) -> str:
        return "a contract-suite token"


def token_principal(token: str) -> str | None:
    """For ``BearerAcceptor``: ``contract`` for a token issued and not revoked."""
    with _lock:
        return "contract" if token in VALID else None


class ContractPlugin:
    """Declares ``contract`` (for ``formats`` and ``methods``) and ``contract-token``."""

    def __init__(
        self, formats: Sequence[str], methods: Sequence[str], *, soap: bool = False
    ) -> None:
        self.type = contract_type(formats, methods, soap=soap)

    @hookimpl
    def writeback_connector_types(self) -> list[ConnectorTypeSpec]:
        return [self.type]

    @hookimpl
    def writeback_auth_methods(self) -> list[AuthMethodSpec]:
        return [
            AuthMethodSpec(
                name=TOKEN_METHOD,
                summary="the contract suites' refreshable bearer token",
                settings_model=_TokenSettings,
                factory=TokenMechanism,
            )
        ]
