"""The soap format in a real pipeline: validated row, real ``basic`` auth, a test-local type."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from writeback.plugin import (
    AttemptResult,
    Delivery,
    Outcome,
    Pipeline,
    PluginRegistry,
    ProbeReport,
    validate_connector,
)
from writeback_testing.acceptors import BasicAcceptor
from writeback_testing.services import service_unavailable
from writeback_testing.soap_page import SoapPageServer

RowFactory = Callable[..., dict[str, Any]]
PageFactory = Callable[..., SoapPageServer]

APPOINTMENT = {
    "appointmentGuid": "6f0c0000-0000-0000-0000-00000000000a",
    "sourceApp": "CRONUSUS",
    "subject": "Boiler check",
    "start": "2026-11-24T08:00:00Z",
    "isAllDayEvent": False,
    "planningQuantity": 2,
    "colour": "red",
}
# Loopback is a trusted network; a row must still say so to send Basic over http.
INSECURE_OK = {"allow_insecure_http": True}


def delivery(n: int = 1) -> Delivery:
    return Delivery(
        id=f"dlv_{n}",
        event_id=f"evt_{n}",
        action="create",
        appointment=APPOINTMENT,
        occurred_at=None,
    )


def run_pipeline(
    registry: PluginRegistry, row: dict[str, Any], deliveries: int = 1
) -> tuple[list[AttemptResult], ProbeReport]:
    async def run() -> tuple[list[AttemptResult], ProbeReport]:
        pipeline = Pipeline.build(validate_connector(row, registry))
        try:
            results = [await pipeline.send(delivery(n)) for n in range(deliveries)]
            return results, await pipeline.probe()
        finally:
            await pipeline.aclose()

    return asyncio.run(run())


def test_deliveries_create_staging_records_with_basic_auth(
    registry: PluginRegistry,
    page_row: RowFactory,
    writeback_soap_page_factory: PageFactory,
    credentials: tuple[str, str],
) -> None:
    acceptor = BasicAcceptor(dict([credentials]))
    page = writeback_soap_page_factory(
        auth=acceptor,
        fields=["Database_Action", "Source_App", "Appointment_Guid", "Subject", "Start_Date_Time"],
    )
    row = page_row(page.page_url, auth="basic", options=INSECURE_OK)
    results, probe = run_pipeline(registry, row, deliveries=3)
    assert [(r.outcome, r.error) for r in results] == [(Outcome.DELIVERED, None)] * 3
    assert probe == ProbeReport(
        True, f"reached and accepted (HTTP 200); basic auth as {credentials[0]}"
    )
    first = page.records[0]
    assert first == {
        "Database_Action": "I",
        "Source_App": "CRONUSUS",
        "Appointment_Guid": "6f0c0000-0000-0000-0000-00000000000a",
        "Subject": "Boiler check",
        "Start_Date_Time": "2026-11-24T08:00:00Z",
        "Entry_No": 1,
        "Key": first["Key"],
    }
    assert len(page.records) == 3
    assert page.wsdl_gets == 2  # once for the client, once for the probe
    assert acceptor.refused == 0


def test_a_wrong_password_goes_failed_after_one_try_and_stays_secret(
    registry: PluginRegistry,
    page_row: RowFactory,
    writeback_soap_page_factory: PageFactory,
    credentials: tuple[str, str],
) -> None:
    acceptor = BasicAcceptor(dict([credentials]))
    page = writeback_soap_page_factory(auth=acceptor)
    row = page_row(page.page_url, auth="basic", password="Wr0ng-Secret", options=INSECURE_OK)
    (result,), probe = run_pipeline(registry, row)
    assert (result.outcome, result.status_code) == (Outcome.FAILED, 401)
    assert result.error == (
        f"WB-322: the WSDL could not be fetched from 127.0.0.1:{page.port}: HTTP 401: unauthorized"
    )
    # basic has no fresh credentials to offer, so the pipeline does not resend.
    assert acceptor.refused == 2  # the delivery's WSDL fetch and the probe
    assert probe == ProbeReport(False, "reached, but the credentials were refused (HTTP 401)")
    assert page.calls == [] and page.records == []


def test_faults_reach_the_attempt_record(
    registry: PluginRegistry, page_row: RowFactory, writeback_soap_page: SoapPageServer
) -> None:
    from writeback_testing.soap_page import BUSY, MODIFIED, SoapStep

    page = writeback_soap_page
    page.set_plan([SoapStep(fault=BUSY, retry_after=3), SoapStep(fault=MODIFIED)])
    (busy, modified, ok), _ = run_pipeline(registry, page_row(page.page_url), deliveries=3)
    assert (busy.outcome, busy.retry_after) == (Outcome.RETRY, 3.0)
    assert busy.error is not None and busy.error.startswith("WB-321: SOAP fault a:")
    assert modified.outcome is Outcome.FAILED
    assert modified.error is not None and "Other user has modified" in modified.error
    assert ok.outcome is Outcome.DELIVERED


def test_a_missing_env_secret_fails_naming_the_variable(
    registry: PluginRegistry,
    page_row: RowFactory,
    writeback_soap_page: SoapPageServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WB_SOAP_UNSET_PW", raising=False)
    page = writeback_soap_page
    row = page_row(
        page.page_url, auth="basic", password="env:WB_SOAP_UNSET_PW", options=INSECURE_OK
    )
    (result,), probe = run_pipeline(registry, row)
    assert result.outcome is Outcome.FAILED
    assert result.error is not None
    assert result.error.startswith("WB-202: the environment variable WB_SOAP_UNSET_PW")
    assert not probe.ok
    assert page.wsdl_gets == 0


def test_eight_threads_against_ntlm_never_share_a_handshake(
    registry: PluginRegistry,
    page_row: RowFactory,
    writeback_soap_page_factory: PageFactory,
    request: pytest.FixtureRequest,
) -> None:
    """What must hold: no failed handshake, no more handshakes than connections, the WSDL once."""
    if "ntlm" not in registry.auth_methods:
        service_unavailable("writeback-auth-windows is not installed; the ntlm method is needed")
    acceptor = request.getfixturevalue("writeback_ntlm_acceptor")
    page = writeback_soap_page_factory(auth=acceptor)
    row = page_row(page.page_url) | {
        "auth": {"method": "ntlm", "username": "CRONUS\\WEBUSER", "password": "Ntlm-Pa55!"},
        "throttle": {"max_concurrency": 8},
    }

    async def run() -> list[AttemptResult]:
        pipeline = Pipeline.build(validate_connector(row, registry))
        try:
            return list(await asyncio.gather(*(pipeline.send(delivery(n)) for n in range(200))))
        finally:
            await pipeline.aclose()

    results = asyncio.run(run())
    assert [r.error for r in results if r.outcome is not Outcome.DELIVERED] == []
    totals = acceptor.totals()
    assert totals.failed == 0
    assert totals.completed == totals.started == page.connections_accepted <= 8
    assert page.wsdl_gets == 1 and len(page.records) == 200
    assert {c.principal for c in page.calls} == {"CRONUS\\WEBUSER"}
