"""The auth method contract suite."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import pytest
from writeback.plugin import Outcome, PluginRegistry, ValidatedConnector, validate_connector

from writeback_testing.contract import _standin
from writeback_testing.contract._backends import Backend, Fault
from writeback_testing.contract._common import ContractBase
from writeback_testing.contract._header import HeaderKeyAcceptor, header_acceptor
from writeback_testing.contract._tokens import TokenChecks

__all__ = ["AuthMethodContract"]


class AuthMethodContract(TokenChecks, ContractBase):
    """Checks an auth method against loopback back offices and token servers.

    The suite sends through the suite's ``contract`` connector type (accepting
    only the method under test) and the format ``api_format``, to a back office
    that checks the credentials with the ``acceptor``.

    Attributes (besides ``plugin``, ``plugin_module``, ``uses``, ``skip_checks``,
    ``heavy_modules`` and ``appointment``, see :class:`ContractBase`):

    - ``name``: the method's name, if not ``plugin``.
    - ``settings``: the row's ``auth`` without ``method``, valid and accepted by
      the back office; ``{token_url}`` and ``{authority}`` in a value are
      replaced by the token server's.
    - ``invalid_settings``: a list of settings each of which must be refused.
    - ``api_format``: the format to send with (default ``"json"``; name its
      plugin in ``uses``, default ``("json",)``).
    - ``token_server``: ``None``, ``"oauth2"`` (``OAuth2Server``) or ``"entra"``
      (``EntraAuthority`` over HTTPS with the test CA trusted); the suite
      registers ``settings["client_id"]``/``["client_secret"]`` there.
    - ``acceptor``: how the back office checks credentials: ``"basic"``
      (``settings["username"]``/``["password"]``), ``"bearer"`` (tokens of the
      token server; the default with one), ``"ntlm"`` (the NTLM test users),
      ``"negotiate"`` (Kerberos tickets of the test KDC, NTLM inside Negotiate for
      the NTLM test users), ``("header", NAME)`` (header ``NAME`` must carry the
      value of the method's one secret setting; ``("header", NAME, FIELD)``
      names the setting), or ``None`` (anyone is let in).
    - ``refreshes``: whether a 401 can be cured by fresh credentials (default:
      with a token server).
    - ``options``: options of the ``contract`` row.

    Checks: declarations conform; declaring imports no heavy library; valid
    settings accepted, each invalid one refused in one sentence; the back office
    lets the credentials in; secret settings (and credentials sent) never in
    ``describe()``, errors or logs; ``env:`` secrets read at send time (unset:
    WB-202, named); after a 401 exactly one refresh (one new token) and
    success, or no resend when nothing can be refreshed; the token endpoint's
    5xx and 429 retried, its refusal failed with its error kept, its silence
    timed out as retry; a token that expired replaced before it is sent.
    """

    name: ClassVar[str | None] = None
    settings: ClassVar[Mapping[str, Any]] = {}
    invalid_settings: ClassVar[Sequence[Mapping[str, Any]]] = ()
    api_format: ClassVar[str] = "json"
    uses: ClassVar[Sequence[str]] = ("json",)
    token_server: ClassVar[str | None] = None
    acceptor: ClassVar[str | tuple[str, ...] | None] = "default"
    refreshes: ClassVar[bool | None] = None
    options: ClassVar[Mapping[str, Any]] = {}

    _kind = "auth_methods"
    _human = "auth method"

    def declared_name(self) -> str:
        return self.name or self.plugin

    def extra_plugins(self) -> dict[str, object]:
        soap = self.api_format == "soap"
        plugin = _standin.ContractPlugin([self.api_format], [self.declared_name()], soap=soap)
        return {"writeback-testing-contract": plugin}

    def row(
        self, uri: str, settings: Mapping[str, Any], options: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "name": "contract",
            "type": _standin.TYPE_NAME,
            "api_type": self.api_format,
            "uri": uri,
            "source_app": self.appointment.get("sourceApp", "CRONUSUS"),
            "auth": {"method": self.declared_name(), **settings},
            "options": {**self.options, **(options or {})},
        }

    def start_token_server(self, request: pytest.FixtureRequest, lifetime: float = 3600) -> Any:
        """A started ``token_server`` issuing tokens of ``lifetime`` seconds, the client
        registered; stopped after the test.  None without a token server."""
        if self.token_server is None:
            return None
        if self.token_server == "oauth2":
            from writeback_testing.oauth2_server import OAuth2Server

            server = OAuth2Server(lifetime=lifetime)
        elif self.token_server == "entra":
            from writeback_testing.entra import EntraAuthority

            ca = request.getfixturevalue("writeback_test_ca")
            request.getfixturevalue("writeback_trust_test_ca")
            server = EntraAuthority(ca.server_context(), lifetime=lifetime)
        else:
            pytest.fail(
                f"token_server must be 'oauth2', 'entra' or None, not {self.token_server!r}."
            )
        server.start()
        request.addfinalizer(server.stop)
        server.register(str(self.settings["client_id"]), str(self.settings["client_secret"]))
        return server

    @pytest.fixture
    def contract_token_server(self, request: pytest.FixtureRequest) -> Any:
        """The started token server ``token_server`` names, with the client registered."""
        return self.start_token_server(request)

    def settings_for(self, server: Any) -> dict[str, Any]:
        """``settings`` with the token server's ``{token_url}`` and ``{authority}`` filled in."""
        names = {
            "token_url": "https://login.example.com/token",
            "authority": "https://login.example.com",
        }
        if server is not None:
            names = {"token_url": server.token_url, "authority": server.url}
        return {
            k: v.format(**names) if isinstance(v, str) and "{" in v else v
            for k, v in self.settings.items()
        }

    def make_acceptor(self, request: pytest.FixtureRequest, server: Any) -> Any:
        kind = self.acceptor
        if kind == "default":
            kind = "bearer" if server is not None else None
        if kind is None:
            return None
        if isinstance(kind, tuple | list) and kind and kind[0] == "header":
            registry = request.getfixturevalue("contract_registry")
            fields = registry.auth_method(self.declared_name()).secret_fields
            return header_acceptor(kind, self.settings_for(server), fields)
        from writeback_testing.acceptors import BasicAcceptor, BearerAcceptor

        if kind == "basic":
            return BasicAcceptor({self.settings["username"]: self.settings["password"]})
        if kind == "bearer":
            return BearerAcceptor(server.principal)
        if kind == "ntlm":
            return request.getfixturevalue("writeback_ntlm_acceptor")
        if kind == "negotiate":
            return request.getfixturevalue("writeback_negotiate_acceptor")
        pytest.fail(
            f"acceptor must be 'basic', 'bearer', 'ntlm', 'negotiate', ('header', NAME) or "
            f"None, not {kind!r}."
        )

    @pytest.fixture
    def contract_setup(
        self,
        request: pytest.FixtureRequest,
        contract_registry: PluginRegistry,
        contract_backends: Callable[..., Backend],
        contract_token_server: Any,
    ) -> Callable[..., tuple[ValidatedConnector, Backend]]:
        """``setup(settings=None, **options)``: a validated row and its started back office."""
        kind = "soap_page" if self.api_format == "soap" else "receiver"
        backend = contract_backends(kind, self.make_acceptor(request, contract_token_server))

        def setup(
            settings: Mapping[str, Any] | None = None, **options: Any
        ) -> tuple[ValidatedConnector, Backend]:
            chosen = self.settings_for(contract_token_server) if settings is None else settings
            row = self.row(backend.uri, chosen, options)
            return validate_connector(row, contract_registry), backend

        return setup

    def literal_secrets(self, registry: PluginRegistry) -> dict[str, str]:
        fields = registry.auth_method(self.declared_name()).secret_fields
        return {f: str(self.settings[f]) for f in fields if f in self.settings}

    # -- checks -----------------------------------------------------------------------

    def test_valid_settings_are_accepted(self, contract_registry: PluginRegistry) -> None:
        """A row with ``settings`` validates."""
        self.opt_out("valid_settings_are_accepted")
        row = self.row("http://127.0.0.1:9/contract", self.settings_for(None))
        problems = self.refusals(row, contract_registry)
        assert not problems, (
            f"valid settings were refused: {problems}; fix the settings model (or the suite's "
            "settings)."
        )

    def test_invalid_settings_are_refused_in_one_sentence(
        self, contract_registry: PluginRegistry
    ) -> None:
        """Each of ``invalid_settings`` is refused, each problem one sentence."""
        self.opt_out("invalid_settings_are_refused_in_one_sentence")
        if not self.invalid_settings:
            pytest.skip("set invalid_settings = [{...}, ...] to check refusals")
        for settings in self.invalid_settings:
            row = self.row("http://127.0.0.1:9/contract", settings)
            self.assert_refused(row, contract_registry, f"settings {dict(settings)}", "auth")

    def test_the_back_office_lets_the_credentials_in(self, contract_setup: Any) -> None:
        """A delivery with ``settings`` is delivered to a back office checking them."""
        self.opt_out("the_back_office_lets_the_credentials_in")
        connector, backend = contract_setup()
        (result,) = self.deliver(connector)[0]
        fix = "attach them with headers() (or a TransportAuth)"
        if isinstance(backend.acceptor, HeaderKeyAcceptor) and backend.acceptor.refusals:
            fix = backend.acceptor.advice(result.error or "")
        assert result.outcome is Outcome.DELIVERED, (
            f"the back office did not let the credentials in ({result.status_code}: "
            f"{result.error}); {fix}."
        )

    def test_secrets_never_shown(
        self,
        contract_setup: Any,
        contract_registry: PluginRegistry,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Secret settings and the credentials sent: never in ``describe()``, an error or a
        log record, even when the back office quotes the request back."""
        self.opt_out("secrets_never_shown")
        connector, backend = contract_setup()
        caplog.set_level(logging.DEBUG)
        _, report = self.deliver(connector, (), probe=True)
        backend.echo()
        (result,) = self.deliver(connector)[0]
        shown = {
            "the probe's report (describe())": report.detail if report else "",
            "the attempt's error": result.error or "",
            "the log": caplog.text,
        }
        self.assert_hidden(shown, self.literal_secrets(contract_registry), backend)

    def test_env_secrets_are_resolved(
        self,
        contract_setup: Any,
        contract_registry: PluginRegistry,
        contract_token_server: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A secret setting written ``env:NAME`` is read at send time; unset, WB-202 naming it."""
        self.opt_out("env_secrets_are_resolved")
        secrets = self.literal_secrets(contract_registry)
        if not secrets:
            pytest.skip("the method has no secret setting")
        settings = self.settings_for(contract_token_server)
        for field, value in secrets.items():
            monkeypatch.setenv(f"WB_CONTRACT_{field.upper()}", value)
            settings[field] = f"env:WB_CONTRACT_{field.upper()}"
        connector, _ = contract_setup(settings)
        (result,) = self.deliver(connector)[0]
        assert result.outcome is Outcome.DELIVERED, (
            f"with env: secrets the delivery was not delivered ({result.error}); read secrets "
            "with context.reveal(...) when an attempt needs them, never at validation."
        )
        connector, _ = contract_setup(settings)
        for field in secrets:
            monkeypatch.delenv(f"WB_CONTRACT_{field.upper()}")
        (result,) = self.deliver(connector)[0]
        assert result.code == "WB-202" and "WB_CONTRACT_" in (result.error or ""), (
            f"with the variable unset the attempt gave {result.code}: {result.error!r}; read "
            "secrets with context.reveal(...) at send time and let the EnvSecretMissingError "
            "it raises through (it names the variable)."
        )

    def test_401_refreshes_once_then_succeeds(
        self, contract_setup: Any, contract_token_server: Any
    ) -> None:
        """Revoked credentials: 401, exactly one refresh, success; nothing fresh: no resend."""
        self.opt_out("401_refreshes_once_then_succeeds")
        connector, backend = contract_setup()
        refreshes = self.refreshes if self.refreshes is not None else bool(contract_token_server)
        if not refreshes:
            backend.fail_next(Fault(401))
            (result,) = self.deliver(connector)[0]
            assert backend.arrived() == 1 and result.outcome is Outcome.FAILED, (
                f"after a 401 with nothing to refresh, {backend.arrived()} requests were made "
                f"and the attempt gave {result.outcome.value}; refresh_after_401 must return "
                "False when the same credentials would be sent again."
            )
            return
        server = contract_token_server
        counted: list[int] = []

        def revoke(n: int) -> None:
            if n == 1:
                server.revoke()
                counted.append(server.token_requests)

        first, second = self.deliver(connector, ("create", "update"), before_send=revoke)[0]
        assert first.outcome is Outcome.DELIVERED, f"the first delivery failed: {first.error}"
        fetched = server.token_requests - counted[0]
        assert fetched == 1 and second.outcome is Outcome.DELIVERED, (
            f"after the token was revoked and the back office answered 401, {fetched} tokens "
            f"were fetched and the resend gave {second.outcome.value} ({second.error}); drop "
            "exactly the token the attempt sent in refresh_after_401, fetch one, return True."
        )
