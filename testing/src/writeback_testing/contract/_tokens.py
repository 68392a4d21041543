"""The auth method suite's checks of a token endpoint: its faults, and expiring tokens.

A mixin of :class:`~writeback_testing.contract.AuthMethodContract`; every check
skips when the suite has no ``token_server``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from writeback.plugin import Outcome, PluginRegistry, validate_connector

from writeback_testing.contract._backends import Backend

__all__ = ["TokenChecks"]


class TokenChecks:
    """Checks that need the suite's token server (``start_token_server``)."""

    api_format: str
    opt_out: Callable[[str], None]
    deliver: Callable[..., Any]
    start_token_server: Callable[..., Any]
    row: Callable[..., dict[str, Any]]
    settings_for: Callable[[Any], dict[str, Any]]

    def test_expiring_token_is_renewed_before_use(
        self,
        request: pytest.FixtureRequest,
        contract_registry: PluginRegistry,
        contract_backends: Callable[..., Backend],
    ) -> None:
        """Tokens live 2 s: after 2.5 s the next attempt brings a new one, never the
        expired one (the back office refuses nothing)."""
        self.opt_out("expiring_token_is_renewed_before_use")
        from writeback_testing.acceptors import BearerAcceptor

        server = self.start_token_server(request, lifetime=2)
        if server is None:
            pytest.skip("no token endpoint (token_server is None)")
        acceptor = BearerAcceptor(server.principal)
        backend = contract_backends(
            "soap_page" if self.api_format == "soap" else "receiver", acceptor
        )
        connector = validate_connector(
            self.row(backend.uri, self.settings_for(server)), contract_registry
        )

        def wait(n: int) -> None:
            if n == 1:
                time.sleep(2.5)  # the first token's whole lifetime, whatever the load

        first, second = self.deliver(connector, ("create", "update"), before_send=wait)[0]
        assert first.outcome is Outcome.DELIVERED, f"the first delivery failed: {first.error}"
        assert second.outcome is Outcome.DELIVERED and acceptor.refused == 0, (
            f"after the token expired the back office refused {acceptor.refused} requests and "
            f"the delivery gave {second.outcome.value}; renew a token ahead of its expiry "
            "(Token.from_response keeps expires_in; TokenSource refreshes ahead)."
        )

    def _token_fault(
        self, contract_setup: Any, server: Any, fault: Callable[[Any], None], **options: Any
    ) -> Any:
        if server is None:
            pytest.skip("no token endpoint (token_server is None)")
        connector, _ = contract_setup(**options)
        fault(server)
        (result,) = self.deliver(connector)[0]
        return result

    def test_token_endpoint_5xx_and_429_are_retried(
        self, contract_setup: Any, contract_token_server: Any
    ) -> None:
        """The token endpoint answers 503, then 429: each attempt retried."""
        self.opt_out("token_endpoint_5xx_and_429_are_retried")
        for status in (503, 429):
            result = self._token_fault(
                contract_setup, contract_token_server, lambda s, n=status: s.fail_next(status=n)
            )
            assert result.outcome is Outcome.RETRY, (
                f"a token endpoint answering {status} gave {result.outcome.value} "
                f"({result.error}); raise writeback.plugin.token_http_error (retried)."
            )

    def test_token_endpoint_refusal_fails_keeping_its_error(
        self, contract_setup: Any, contract_token_server: Any
    ) -> None:
        """The token endpoint refuses the client (``invalid_client``): failed, error kept."""
        self.opt_out("token_endpoint_refusal_fails_keeping_its_error")
        result = self._token_fault(
            contract_setup,
            contract_token_server,
            lambda s: s.fail_next(status=401, error="invalid_client"),
        )
        assert result.outcome is Outcome.FAILED and "invalid_client" in (result.error or ""), (
            f"a token endpoint refusing the client gave {result.outcome.value} "
            f"({result.error!r}); raise writeback.plugin.token_oauth_error with the answer's "
            "error (not retried)."
        )

    def test_silent_token_endpoint_times_out_as_retry(
        self, contract_setup: Any, contract_token_server: Any
    ) -> None:
        """The token endpoint never answers: the attempt gives up after ``timeout`` (1 s)."""
        self.opt_out("silent_token_endpoint_times_out_as_retry")
        result = self._token_fault(
            contract_setup, contract_token_server, lambda s: s.hang_next(), timeout=1
        )
        assert result.outcome is Outcome.RETRY, (
            f"a silent token endpoint gave {result.outcome.value} ({result.error}); bound the "
            "fetch by context.timeout (run_with_deadline, token_deadline) and raise "
            "token_timeout."
        )
