"""Deliberately broken stand-in plugins, one flaw per contract-suite check.

``test_contract_broken.py`` runs the contract suites against these and checks
that every check fails with a message saying what to fix.  Each flaw is marked
``FLAW (check name)``.  The module is imported only by that run's subprocess.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import urllib.request
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import requests  # noqa: F401  FLAW (declaring_imports_no_heavy_library): at the top
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from writeback.plugin import (
    ApiFormatSpec,
    AttemptAuth,
    AttemptError,
    AttemptResult,
    AuthMechanismBase,
    AuthMethodSpec,
    AuthRule,
    ConnectorTypeBase,
    ConnectorTypeSpec,
    Delivery,
    HeaderAuth,
    OutboundMessage,
    Outcome,
    TransportOptions,
    classify_status,
    hookimpl,
)

#: FLAW (secrets_never_shown): a plain logger, not secret_safe_logger.
plain_log = logging.getLogger("broken_plugins")


# -- a connector type ----------------------------------------------------------------


class BrokenTypeOptions(TransportOptions):
    """Options of ``brokentype``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret: SecretStr | None = Field(default=None, description="a secret the type sends")
    # FLAW (invalid_options_are_refused_in_one_sentence): any text is taken.
    colour: str = Field(default="red", description="a colour name")

    @field_validator("colour")
    @classmethod
    def _lower(cls, value: str) -> str:
        # FLAW (valid_options_are_accepted): refuses 'Blue', a colour like any other.
        if value != value.lower():
            raise ValueError("no capitals.")
        return value


class BrokenType(ConnectorTypeBase[BrokenTypeOptions]):
    def build_message(self, delivery: Delivery) -> OutboundMessage:
        if delivery.action == "delete":
            raise KeyError("delete")  # FLAW (create_update_delete_each_send_a_message)
        secret = self.options.secret
        # FLAW (env_secrets_are_resolved): read without context.reveal, so env: is sent as is.
        value = secret.get_secret_value() if secret is not None else None
        plain_log.info("signing with %s", value)  # FLAW (secrets_never_shown)
        uri = self.context.connector.uri
        if self.context.connector.api_type == "soap":
            return OutboundMessage(uri, operation="Create", payload={"Subject": "x"})
        return OutboundMessage(uri, payload={"action": delivery.action, "sig": bool(value)})

    def probe_message(self) -> OutboundMessage:
        # FLAW (probe_has_no_side_effect): the probe writes.
        return OutboundMessage(self.context.connector.uri, method="POST", payload={"probe": 1})

    def review(self, result: AttemptResult) -> AttemptResult:
        if result.outcome is Outcome.RETRY:
            # FLAW (429…, 5xx…, slow…, soap_faults…): gives up on what waiting cures.
            return replace(result, outcome=Outcome.FAILED)
        if result.outcome is Outcome.FAILED:
            # FLAW (other_4xx_fail_keeping_the_answer): the back office's words dropped.
            return replace(result, error="the back office said no")
        return result


class BrokenTypePlugin:
    @hookimpl
    def writeback_connector_types(self) -> list[ConnectorTypeSpec]:
        return [
            ConnectorTypeSpec(
                name="brokentype",
                summary="a connector type with a flaw per check",
                formats=("json", "soap"),
                auth_rules=(
                    AuthRule(api_format="json", methods=("none",)),
                    AuthRule(api_format="soap", methods=("none",)),
                ),
                options_model=BrokenTypeOptions,
                factory=BrokenType,
            )
        ]


# -- API formats ---------------------------------------------------------------------


class BrokenFormat:
    """Sends JSON with httpx; every way of getting an answer wrong, one each."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.client: Any = None
        self.headers: dict[str, str] = {}

    def credentials(self, auth: AttemptAuth) -> dict[str, str]:
        if self.client is None:
            # FLAW (401_refreshes_once_then_succeeds): read once per client, not per request.
            self.headers = dict(auth.headers())
        return self.headers

    async def send(self, message: OutboundMessage, auth: AttemptAuth) -> AttemptResult:
        import httpx

        headers = self.credentials(auth)
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=self.context.timeout)
        plain_log.info("sending with %s", headers)  # FLAW (secrets_never_shown)
        payload = message.payload if isinstance(message.payload, Mapping) else {}
        if payload.get("action") == "delete":
            # FLAW (create_update_delete_each_send_a_message): deletes never leave.
            return AttemptResult(Outcome.DELIVERED, status_code=200)
        try:
            # FLAW (probe_has_no_side_effect): always POST, whatever the message says.
            answer = await self.client.post(message.url, json=payload, headers=headers)
        except httpx.TimeoutException:
            # FLAW (slow_answer_times_out_as_retry): a timeout is final.
            return AttemptResult(Outcome.FAILED, error="too slow")
        except httpx.TransportError:
            # FLAW (5xx_and_resets_are_retried): a reset is final.
            return AttemptResult(Outcome.FAILED, error="connection lost")
        # FLAW (429…, other_4xx…, soap_faults…): neither headers nor body classified.
        return classify_status(answer.status_code)

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()


class NoAuthFormat(BrokenFormat):
    def credentials(self, auth: AttemptAuth) -> dict[str, str]:
        return {}  # FLAW (attaches_the_attempts_credentials)


class BrokenFormatPlugin:
    @hookimpl
    def writeback_api_formats(self) -> list[ApiFormatSpec]:
        def spec(name: str, factory: Any) -> ApiFormatSpec:
            return ApiFormatSpec(name=name, summary="broken", transport="httpx", factory=factory)

        return [
            spec("brokenjson", BrokenFormat),
            spec("brokensoap", BrokenFormat),
            spec("brokennoauth", NoAuthFormat),
        ]


# -- auth methods --------------------------------------------------------------------


class KeySettings(BaseModel):
    """Settings of ``brokenkey``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: SecretStr = Field(description="the API key")
    # FLAW (invalid_settings_are_refused_in_one_sentence): any header name is taken.
    header: str = Field(default="X-Api-Key", description="the header carrying the key")

    @field_validator("header")
    @classmethod
    def _no_hyphen(cls, value: str) -> str:
        if "-" in value:  # FLAW (valid_settings_are_accepted): refuses X-Api-Key
            raise ValueError("no hyphens.")
        return value


class _SameAgain(HeaderAuth):
    async def refresh_after_401(self) -> bool:
        return True  # FLAW (401_refreshes_once_then_succeeds): nothing is fresher


class KeyMechanism(AuthMechanismBase[KeySettings]):
    def headers(self) -> Mapping[str, str]:
        # FLAW (env_secrets_are_resolved, secrets_never_shown): not context.reveal.
        return {self.settings.header: self.settings.key.get_secret_value()}

    async def attempt_auth(self) -> AttemptAuth:
        return _SameAgain(self.headers())

    async def describe(self) -> str:
        return f"API key {self.settings.key.get_secret_value()}"  # FLAW (secrets_never_shown)


class SilentKeySettings(BaseModel):
    """Settings of ``brokensilent``: a key, sent in ``X-Api-Key`` (were it sent)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: SecretStr = Field(min_length=1, description="the API key")


class SilentKeyMechanism(AuthMechanismBase[SilentKeySettings]):
    def headers(self) -> Mapping[str, str]:
        return {}  # FLAW (the_back_office_lets_the_credentials_in): the key is never sent


class TokenSettings(BaseModel):
    """Settings of ``brokentoken``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_url: str = Field(description="the token endpoint")
    client_id: str = Field(description="the client id")
    client_secret: SecretStr = Field(description="the client secret")


class TokenMechanism(AuthMechanismBase[TokenSettings]):
    scheme = "Bearer"

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.token: str | None = None

    def fetch(self) -> str:
        secret = self.context.reveal(self.settings.client_secret)
        basic = base64.b64encode(f"{self.settings.client_id}:{secret}".encode()).decode()
        request = urllib.request.Request(
            self.settings.token_url,
            data=urlencode({"grant_type": "client_credentials"}).encode(),
            headers={"Authorization": f"Basic {basic}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.context.timeout) as answer:
                return str(json.load(answer)["access_token"])
        except Exception as exc:
            # FLAW (token_endpoint_…, silent_token_endpoint_…): every failure final, the
            # endpoint's own error dropped.
            raise AttemptError("could not get a token") from exc

    async def attempt_auth(self) -> AttemptAuth:
        if self.token is None:
            # FLAW (expiring_token_is_renewed_before_use): kept for ever, expires_in ignored.
            self.token = await asyncio.to_thread(self.fetch)
        # FLAW (401_refreshes_once_then_succeeds): HeaderAuth refreshes nothing.
        return HeaderAuth({"Authorization": f"{self.scheme} {self.token}"})


class SchemeMechanism(TokenMechanism):
    scheme = "Token"  # FLAW (the_back_office_lets_the_credentials_in)


class BrokenAuthPlugin:
    @hookimpl
    def writeback_auth_methods(self) -> list[AuthMethodSpec]:
        return [
            AuthMethodSpec(
                name="brokenkey", summary="broken", settings_model=KeySettings, factory=KeyMechanism
            ),
            AuthMethodSpec(
                name="brokensilent",
                summary="broken",
                settings_model=SilentKeySettings,
                factory=SilentKeyMechanism,
            ),
            AuthMethodSpec(
                name="brokentoken",
                summary="broken",
                settings_model=TokenSettings,
                factory=TokenMechanism,
            ),
            AuthMethodSpec(
                name="brokenscheme",
                summary="broken",
                settings_model=TokenSettings,
                factory=SchemeMechanism,
            ),
        ]


# -- declarations that do not conform ------------------------------------------------


class Loose(BaseModel):
    colour: str = "red"  # FLAW (declarations_conform): no extra="forbid", no description


class NonConformingPlugin:
    @hookimpl
    def writeback_connector_types(self) -> list[ConnectorTypeSpec]:
        return [
            ConnectorTypeSpec(
                name="brokenconf",
                summary="",
                formats=("json",),
                auth_rules=(AuthRule(api_format="json", methods=("none",)),),
                options_model=Loose,
                factory=BrokenType,
            )
        ]

    @hookimpl
    def writeback_api_formats(self) -> list[ApiFormatSpec]:
        return [
            ApiFormatSpec(
                name="brokenconf", summary="x", transport="carrier-pigeon", factory=BrokenFormat
            )
        ]

    @hookimpl
    def writeback_auth_methods(self) -> list[AuthMethodSpec]:
        return [
            AuthMethodSpec(
                name="brokenconf", summary="x", settings_model=Loose, factory=KeyMechanism
            )
        ]


broken_type = BrokenTypePlugin()
broken_formats = BrokenFormatPlugin()
broken_auth = BrokenAuthPlugin()
non_conforming = NonConformingPlugin()
