"""The API format contract suite."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pytest
from writeback.plugin import Outcome, PluginRegistry, ValidatedConnector, validate_connector

from writeback_testing.contract import _standin
from writeback_testing.contract._backends import Backend
from writeback_testing.contract._common import ContractBase
from writeback_testing.contract._faults import FaultChecks

__all__ = ["ApiFormatContract"]


class ApiFormatContract(FaultChecks, ContractBase):
    """Checks an API format against loopback back offices; subclass it in a test module.

    The suite pairs the format with its own stand-ins (``writeback_testing.contract``
    ``._standin``): the ``contract`` connector type, which sends the appointment
    (a SOAP page ``Create`` to a SOAP back office), and the
    ``contract-token`` auth method, a bearer token that changes on each refresh.

    Attributes (besides ``plugin``, ``plugin_module``, ``uses``, ``skip_checks``,
    ``heavy_modules`` and ``appointment``, see :class:`ContractBase`):

    - ``name``: the format's name, if not ``plugin``.
    - ``backend``: the loopback back office: ``"receiver"`` (the default) or
      ``"soap_page"`` (the default for a format named ``soap``).
    - ``options``: options of the ``contract`` row (``timeout``,
      ``allow_insecure_http``).

    Checks: declarations conform; declaring imports no heavy library; the
    attempt's credentials attached (``auth.headers()``); a 401 answered by
    exactly one refresh of the attempt's credentials and one resend that
    succeeds; the token never in errors or logs; create, update and delete each
    a delivered message; the probe changes nothing; 429 + ``Retry-After``
    honoured; 5xx and resets retried; other 4xx failed keeping the answer's
    text; a slow answer timed out as retry; SOAP faults classified (SOAP back
    offices).
    """

    name: ClassVar[str | None] = None
    backend: ClassVar[str | None] = None
    options: ClassVar[Mapping[str, Any]] = {}

    _kind = "api_formats"
    _human = "API format"

    def declared_name(self) -> str:
        return self.name or self.plugin

    def extra_plugins(self) -> dict[str, object]:
        soap = self.backend_kind() == "soap_page"
        plugin = _standin.ContractPlugin([self.declared_name()], [_standin.TOKEN_METHOD], soap=soap)
        return {"writeback-testing-contract": plugin}

    def backend_kind(self) -> str:
        return self.backend or ("soap_page" if self.declared_name() == "soap" else "receiver")

    def fault_setup(
        self, registry: PluginRegistry, backends: Callable[..., Backend], **options: Any
    ) -> tuple[ValidatedConnector, Backend]:
        from writeback_testing.acceptors import BearerAcceptor

        backend = backends(self.backend_kind(), BearerAcceptor(_standin.token_principal))
        row = {
            "name": "contract",
            "type": _standin.TYPE_NAME,
            "api_type": self.declared_name(),
            "uri": backend.uri,
            "source_app": self.appointment.get("sourceApp", "CRONUSUS"),
            "auth": {"method": _standin.TOKEN_METHOD},
            "options": {**self.options, **options},
        }
        return validate_connector(row, registry), backend

    # -- checks -----------------------------------------------------------------------

    def test_attaches_the_attempts_credentials(
        self, contract_registry: PluginRegistry, contract_backends: Callable[..., Backend]
    ) -> None:
        """A back office that lets in only the current token receives it."""
        self.opt_out("attaches_the_attempts_credentials")
        connector, _backend = self.fault_setup(contract_registry, contract_backends)
        (result,) = self.deliver(connector)[0]
        assert result.outcome is Outcome.DELIVERED, (
            f"a back office that wants the attempt's bearer token answered {result.status_code} "
            f"({result.error}); add auth.headers() to every request of the attempt, and hand "
            "auth.transport_auth(transport) to the client."
        )

    def test_401_refreshes_once_then_succeeds(
        self, contract_registry: PluginRegistry, contract_backends: Callable[..., Backend]
    ) -> None:
        """The token is revoked: 401, exactly one refresh, one resend with the new token."""
        self.opt_out("401_refreshes_once_then_succeeds")
        connector, _backend = self.fault_setup(contract_registry, contract_backends)
        refreshes = len(_standin.REFRESHES)

        def revoke(n: int) -> None:
            if n == 0:
                _standin.VALID.clear()

        (result,) = self.deliver(connector, before_send=revoke)[0]
        asked = len(_standin.REFRESHES) - refreshes
        assert asked == 1, (
            f"after a 401 the credentials were refreshed {asked} times, not once; return the "
            "401 as it is (do not retry it yourself): the pipeline asks the attempt's auth to "
            "refresh and resends once."
        )
        assert result.outcome is Outcome.DELIVERED, (
            f"the resend after the refresh was not delivered ({result.status_code}: "
            f"{result.error}); read auth.headers() for every request, not once per client."
        )

    def test_secrets_never_shown(
        self,
        contract_registry: PluginRegistry,
        contract_backends: Callable[..., Backend],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The token never in an error or a log, even when the back office quotes it back."""
        self.opt_out("secrets_never_shown")
        connector, backend = self.fault_setup(contract_registry, contract_backends)
        caplog.set_level(logging.DEBUG)
        issued = len(_standin.ISSUED)
        backend.echo()
        (result,) = self.deliver(connector)[0]
        secrets = {f"token {n}": t for n, t in enumerate(_standin.ISSUED[issued:])}
        shown = {"the attempt's error": result.error or "", "the log": caplog.text}
        self.assert_hidden(shown, secrets, backend)
