"""The connector type contract suite."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import pytest
from writeback.plugin import Outcome, PluginRegistry, ValidatedConnector, validate_connector

from writeback_testing.contract._backends import Backend
from writeback_testing.contract._common import ContractBase
from writeback_testing.contract._faults import FaultChecks

__all__ = ["ConnectorTypeContract"]


class ConnectorTypeContract(FaultChecks, ContractBase):
    """Checks a connector type against loopback back offices; subclass it in a test module.

    Attributes (besides ``plugin``, ``plugin_module``, ``uses``, ``skip_checks``,
    ``heavy_modules`` and ``appointment``, see :class:`ContractBase`):

    - ``name``: the connector type's name, if not ``plugin``.
    - ``api_format``: the format rows use (default: the type's first format);
      its plugin must be installed and named in ``uses``.
    - ``auth``: the row's ``auth`` (default ``{"method": "none"}``); its
      method's plugin named in ``uses``.
    - ``valid_options``: options a row may have; rows are built with them.
    - ``invalid_options``: a list of options each of which must be refused.
    - ``backend``: the loopback back office: ``"receiver"`` (any HTTP endpoint,
      the default), ``"soap_page"`` (the default for ``soap``) or ``"bc_api"``.

    Checks: declarations conform; declaring imports no heavy library; valid
    options accepted, each invalid one refused in one sentence; secrets (secret
    options and the auth's) never in ``describe()``, errors or logs; ``env:``
    secret options resolved at send time (an unset variable named, WB-202);
    create, update and delete each a delivered message; the probe changes
    nothing; 429 + ``Retry-After`` honoured; 5xx and resets retried; other 4xx
    failed keeping the answer's text; a slow answer timed out as retry; SOAP
    faults classified (SOAP back offices).
    """

    name: ClassVar[str | None] = None
    api_format: ClassVar[str | None] = None
    auth: ClassVar[Mapping[str, Any]] = {"method": "none"}
    valid_options: ClassVar[Mapping[str, Any]] = {}
    invalid_options: ClassVar[Sequence[Mapping[str, Any]]] = ()
    backend: ClassVar[str | None] = None

    _kind = "connector_types"
    _human = "connector type"

    def declared_name(self) -> str:
        return self.name or self.plugin

    def row_format(self, registry: PluginRegistry) -> str:
        if self.api_format:
            return self.api_format
        return str(registry.connector_type(self.declared_name()).formats[0])

    def row(
        self,
        registry: PluginRegistry,
        uri: str = "http://127.0.0.1:9/contract",
        *,
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A raw row of the type under test, with ``valid_options`` merged with ``options``."""
        return {
            "name": "contract",
            "type": self.declared_name(),
            "api_type": self.row_format(registry),
            "uri": uri,
            "source_app": self.appointment.get("sourceApp", "CRONUSUS"),
            "auth": dict(self.auth),
            "options": {**self.valid_options, **(options or {})},
        }

    def fault_setup(
        self, registry: PluginRegistry, backends: Callable[..., Backend], **options: Any
    ) -> tuple[ValidatedConnector, Backend]:
        fmt = self.row_format(registry)
        if "timeout" in options:
            model = registry.connector_type(self.declared_name()).options_model
            if "timeout" not in model.model_fields:
                pytest.skip(
                    f"{model.__name__} has no timeout: extend writeback.plugin.TransportOptions "
                    "so a row can bound its requests"
                )
        kind = self.backend or ("soap_page" if fmt == "soap" else "receiver")
        backend = backends(kind)
        return validate_connector(
            self.row(registry, backend.uri, options=options), registry
        ), backend

    def secrets(self, registry: PluginRegistry) -> dict[str, str]:
        """The literal secret values a row carries: secret options, then secret auth settings."""
        spec = registry.connector_type(self.declared_name())
        found = {
            f: str(self.valid_options[f]) for f in spec.secret_fields if f in self.valid_options
        }
        method = self.auth.get("method", "none")
        if method != "none":
            for field in registry.auth_method(method).secret_fields:
                if field in self.auth:
                    found[f"auth.{field}"] = str(self.auth[field])
        return {k: v for k, v in found.items() if not v.startswith("env:")}

    # -- checks -----------------------------------------------------------------------

    def test_valid_options_are_accepted(self, contract_registry: PluginRegistry) -> None:
        """A row with ``valid_options`` validates, and so does one with no options."""
        self.opt_out("valid_options_are_accepted")
        problems = self.refusals(self.row(contract_registry), contract_registry)
        assert not problems, (
            f"a row with valid_options {dict(self.valid_options)} was refused: {problems}; fix "
            "the options model (or the suite's valid_options, auth and uses)."
        )

    def test_invalid_options_are_refused_in_one_sentence(
        self, contract_registry: PluginRegistry
    ) -> None:
        """Each of ``invalid_options`` is refused, each problem one sentence."""
        self.opt_out("invalid_options_are_refused_in_one_sentence")
        if not self.invalid_options:
            pytest.skip("set invalid_options = [{...}, ...] to check refusals")
        for options in self.invalid_options:
            row = self.row(contract_registry)
            row["options"] = dict(options)
            self.assert_refused(row, contract_registry, f"options {dict(options)}", "options")

    def test_secrets_never_shown(
        self,
        contract_registry: PluginRegistry,
        contract_backends: Callable[..., Backend],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Secret values never in the probe's ``describe()``, an error, or a log record,
        even when the back office quotes the request back."""
        self.opt_out("secrets_never_shown")
        secrets = self.secrets(contract_registry)
        if not secrets:
            pytest.skip("the row carries no literal secret (no secret option, no auth secret)")
        connector, backend = self.fault_setup(contract_registry, contract_backends)
        caplog.set_level(logging.DEBUG)
        _, report = self.deliver(connector, (), probe=True)
        backend.echo()
        (result,) = self.deliver(connector, ("create",))[0]
        shown = {
            "the probe's report (describe())": report.detail if report else "",
            "the attempt's error": result.error or "",
            "the log": caplog.text,
        }
        self.assert_hidden(shown, secrets, backend)

    def test_env_secrets_are_resolved(
        self,
        contract_registry: PluginRegistry,
        contract_backends: Callable[..., Backend],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A secret option written ``env:NAME`` is read at send time; unset, WB-202 naming it."""
        self.opt_out("env_secrets_are_resolved")
        spec = contract_registry.connector_type(self.declared_name())
        fields = [f for f in spec.secret_fields if f in self.valid_options]
        if not fields:
            pytest.skip("no secret option in valid_options (auth secrets: AuthMethodContract)")
        options = {}
        for field in fields:
            variable = f"WB_CONTRACT_{field.upper()}"
            monkeypatch.setenv(variable, str(self.valid_options[field]))
            options[field] = f"env:{variable}"
        connector, _backend = self.fault_setup(contract_registry, contract_backends, **options)
        (result,) = self.deliver(connector)[0]
        assert result.outcome is Outcome.DELIVERED, (
            f"with {options} the delivery was not delivered ({result.error}); read secret "
            "options with context.reveal(...) at send time, never at validation."
        )
        for field in fields:
            monkeypatch.delenv(f"WB_CONTRACT_{field.upper()}")
        (result,) = self.deliver(connector)[0]
        assert result.code == "WB-202" and "WB_CONTRACT_" in (result.error or ""), (
            f"with the variable unset the attempt gave {result.code}: {result.error!r}; read "
            "secret options with context.reveal(...) at send time and let the "
            "EnvSecretMissingError it raises through (it names the variable)."
        )
