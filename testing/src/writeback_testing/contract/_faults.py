"""The checks that send through a format to a back office that misbehaves on purpose.

Shared by the connector type and API format suites: both decide what an answer
means (the format classifies it, the type may refine it), and both must leave
these verdicts standing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from writeback.plugin import Outcome

from writeback_testing.contract._backends import Backend, Fault
from writeback_testing.contract._common import REFUSAL

__all__ = ["FaultChecks"]

#: What the suite's answers and their consequences look like in a failure message.
_FIX_CLASSIFY = "classify answers with writeback.plugin.classify_status"
_FIX_REVIEW = "and do not turn them around in the connector type's review()"


def _said(results: list[Any]) -> str:
    return "; ".join(f"{r.outcome.value} {r.code} {r.error!r}" for r in results)


class FaultChecks:
    """Fault injection against the suite's backend; the suite supplies the row.

    A subclass implements ``fault_setup(registry, backends, **options)`` returning
    ``(connector, backend)``: a validated row pointing at a started backend.
    """

    fault_setup: Callable[..., Any]
    opt_out: Callable[[str], None]
    deliver: Callable[..., Any]

    def _send(self, setup: tuple[Any, Backend], *faults: Fault, actions: int = 1) -> list[Any]:
        connector, backend = setup
        backend.fail_next(*faults)
        results, _ = self.deliver(connector, ("create",) * actions)
        return list(results)

    def test_create_update_delete_each_send_a_message(
        self, contract_registry: Any, contract_backends: Any
    ) -> None:
        """Each action builds a message that reaches the back office and is delivered."""
        self.opt_out("create_update_delete_each_send_a_message")
        connector, backend = self.fault_setup(contract_registry, contract_backends)
        results, _ = self.deliver(connector, ("create", "update", "delete"))
        for action, result in zip(("create", "update", "delete"), results, strict=True):
            assert result.outcome is Outcome.DELIVERED, (
                f"a {action} was not delivered to a back office that accepts everything: "
                f"{_said([result])}; build a message for every action in build_message()."
            )
        assert backend.arrived() == 3, (
            f"create, update and delete made {backend.arrived()} requests, not 3; "
            "send exactly one request per delivery."
        )

    def test_probe_has_no_side_effect(self, contract_registry: Any, contract_backends: Any) -> None:
        """``connectors test`` (the probe) reaches the back office and changes nothing there."""
        self.opt_out("probe_has_no_side_effect")
        connector, backend = self.fault_setup(contract_registry, contract_backends)
        before, arrived = backend.effects(), backend.arrived()
        _, report = self.deliver(connector, (), probe=True)
        assert report is not None and report.ok, (
            f"the probe of a reachable back office failed: {report}; probe_message() must "
            "ask something the back office answers with 2xx."
        )
        assert backend.effects() == before and backend.arrived() == arrived, (
            "the probe changed the back office (a writing request arrived); make "
            "probe_message() a GET or HEAD that reads nothing but the endpoint."
        )

    def test_429_with_retry_after_is_retried_after_it(
        self, contract_registry: Any, contract_backends: Any
    ) -> None:
        """429 with ``Retry-After: 7``: retried, no sooner than the back office asked."""
        self.opt_out("429_with_retry_after_is_retried_after_it")
        setup = self.fault_setup(contract_registry, contract_backends)
        (result,) = self._send(setup, Fault(429, text="slow down", retry_after=7))
        assert result.outcome is Outcome.RETRY, (
            f"429 Too Many Requests was not retried ({_said([result])}); {_FIX_CLASSIFY} "
            f"{_FIX_REVIEW}."
        )
        assert result.retry_after is not None and 6 <= result.retry_after <= 7, (
            f"429 with Retry-After: 7 gave retry_after={result.retry_after}; pass the "
            "answer's headers to classify_status so Retry-After is honoured."
        )

    def test_5xx_and_resets_are_retried(
        self, contract_registry: Any, contract_backends: Any
    ) -> None:
        """503, 500 and a reset connection: each retried."""
        self.opt_out("5xx_and_resets_are_retried")
        setup = self.fault_setup(contract_registry, contract_backends)
        faults = (Fault(503, text="maintenance"), Fault(500, text="oops"), Fault(drop=True))
        results = self._send(setup, *faults, actions=3)
        for what, result in zip(("503", "500", "a reset connection"), results, strict=True):
            assert result.outcome is Outcome.RETRY, (
                f"{what} was not retried ({_said([result])}); {_FIX_CLASSIFY} and "
                "writeback.plugin.connection_failure for network errors "
                f"{_FIX_REVIEW}."
            )

    def test_other_4xx_fail_keeping_the_answer(
        self, contract_registry: Any, contract_backends: Any
    ) -> None:
        """400 and 422: failed at once, with the back office's own words in the error."""
        self.opt_out("other_4xx_fail_keeping_the_answer")
        setup = self.fault_setup(contract_registry, contract_backends)
        results = self._send(setup, Fault(400, text=REFUSAL), Fault(422, text=REFUSAL), actions=2)
        for result in results:
            assert result.outcome is Outcome.FAILED, (
                f"HTTP {result.status_code} was not failed ({_said([result])}); a 4xx other "
                f"than 401, 408 and 429 will not get better: {_FIX_CLASSIFY}."
            )
            assert REFUSAL in (result.error or ""), (
                f"the back office's answer ({REFUSAL!r}) is missing from the error "
                f"{result.error!r}; pass the answer's body to classify_status (it keeps the "
                "useful part) and keep it when review() rewrites the error."
            )

    def test_slow_answer_times_out_as_retry(
        self, contract_registry: Any, contract_backends: Any
    ) -> None:
        """An answer slower than ``options.timeout`` (1 s here): cut off and retried."""
        self.opt_out("slow_answer_times_out_as_retry")
        setup = self.fault_setup(contract_registry, contract_backends, timeout=1)
        (result,) = self._send(setup, Fault(delay=60))
        assert result.outcome is Outcome.RETRY and result.code == "WB-364", (
            f"an answer slower than the row's timeout gave {_said([result])}; bound the "
            "request by context.timeout and report it with connection_failure(..., "
            "timeout=True) or deadline_passed (code WB-364)."
        )

    def test_soap_faults_are_classified(
        self, contract_registry: Any, contract_backends: Any
    ) -> None:
        """A busy server's fault is retried; a fault about the record fails, its text kept."""
        self.opt_out("soap_faults_are_classified")
        setup = self.fault_setup(contract_registry, contract_backends)
        if setup[1].name != "soap_page":
            import pytest

            pytest.skip("not a SOAP back office: SOAP faults cannot happen")
        from writeback_testing.soap_page import BUSY, SoapFault

        refused = SoapFault(REFUSAL, faultcode="a:Microsoft.Dynamics.Nav.Types.NavCSideException")
        busy, bad = self._send(setup, Fault(soap_fault=BUSY), Fault(soap_fault=refused), actions=2)
        assert busy.outcome is Outcome.RETRY, (
            f"the fault of a busy server was not retried ({_said([busy])}); classify "
            "NavServerBusyException (and other transient faults) as RETRY."
        )
        assert bad.outcome is Outcome.FAILED and REFUSAL in (bad.error or ""), (
            f"a fault about the record gave {_said([bad])}; fail it and keep its "
            "faultstring in the error."
        )
