"""The soap format against the page simulator: what it sends, and how answers are classified."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from writeback.plugin import AttemptResult, OutboundMessage, Outcome, PipelineContext
from writeback_soap import SoapFormat
from writeback_testing.soap_page import (
    BUSY,
    MODIFIED,
    SoapFault,
    SoapPageServer,
    SoapStep,
    result_envelope,
)

MakeContext = Callable[..., PipelineContext]
PageFactory = Callable[..., SoapPageServer]

RECORD = {
    "Database_Action": "I",
    "Source_App": "CRONUSUS",
    "Appointment_Guid": "6f0c0000-0000-0000-0000-000000000001",
    "Subject": "Boiler check",
    "Start_Date_Time": "2026-11-24T08:00:00Z",
    "Is_All_Day_Event": False,
    "Planning_Quantity": 2.5,
    "Importance": 1,
}


def create(url: str, record: dict[str, Any] | None = None) -> OutboundMessage:
    return OutboundMessage(url=url, operation="Create", payload=dict(record or RECORD))


def send_all(fmt: SoapFormat, *messages: OutboundMessage) -> list[AttemptResult]:
    async def run() -> list[AttemptResult]:
        try:
            return [await fmt.send(message) for message in messages]
        finally:
            await fmt.aclose()

    return asyncio.run(run())


def test_create_delivers_the_record_typed_per_the_wsdl(
    make_context: MakeContext, writeback_soap_page: SoapPageServer
) -> None:
    page = writeback_soap_page
    (result,) = send_all(SoapFormat(make_context(page.page_url)), create(page.page_url))
    assert (result.outcome, result.status_code, result.error) == (Outcome.DELIVERED, 200, None)
    (row,) = page.records
    assert row == {
        **RECORD,
        "Planning_Quantity": Decimal("2.5"),
        "Entry_No": 1,
        "Key": row["Key"],
    }
    assert row["Key"].startswith("1;")
    (call,) = page.calls
    assert call.operation == "Create"
    assert call.soap_action == "urn:microsoft-dynamics-schemas/page/appointment:Create"
    assert page.wsdl_gets == 1


def test_fields_the_page_lacks_and_empty_values_are_left_out(
    make_context: MakeContext, writeback_soap_page_factory: PageFactory
) -> None:
    page = writeback_soap_page_factory(fields=["Source_App", "Subject"])
    record = {**RECORD, "Body": None, "Colour": "red"}
    fmt = SoapFormat(make_context(page.page_url))
    (result,) = send_all(fmt, create(page.page_url, record))
    assert result.outcome is Outcome.DELIVERED, result.error
    (call,) = page.calls
    assert call.arguments == {"Appointment": {"Source_App": "CRONUSUS", "Subject": "Boiler check"}}


def test_a_page_refuses_fields_it_does_not_publish(
    writeback_soap_page_factory: PageFactory,
) -> None:
    """Why leaving fields out matters: the simulator, like a page, faults on them."""
    import requests
    from writeback_testing.soap_page import request_envelope

    page = writeback_soap_page_factory(fields=["Subject"])
    answer = requests.post(
        page.page_url,
        data=request_envelope("Appointment", "Create", {"Appointment": {"Colour": "red"}}),
        headers={
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": '"urn:microsoft-dynamics-schemas/page/appointment:Create"',
        },
        timeout=5,
    )
    assert answer.status_code == 500
    assert "The element 'Colour' is not a field of page Appointment." in answer.text


@pytest.mark.parametrize(
    ("fault", "retry_after", "outcome", "error"),
    [
        (
            MODIFIED,
            None,
            Outcome.FAILED,
            "WB-320: SOAP fault a:Microsoft.Dynamics.Nav.Service.WebServices."
            'ServiceBrokerException: Other user has modified "Appointment" "Entry No.=\'1\'". '
            "Start again.",
        ),
        (
            BUSY,
            "12",
            Outcome.RETRY,
            "WB-321: SOAP fault a:Microsoft.Dynamics.Nav.Types.NavServerBusyException: "
            "Server Busy: the server is busy with other requests; try again later.",
        ),
        (
            SoapFault("The operation has timed out."),
            None,
            Outcome.RETRY,
            "WB-321: SOAP fault a:Microsoft.Dynamics.Nav.Service.WebServices."
            "ServiceBrokerException: The operation has timed out.",
        ),
        (
            SoapFault("Too Many Requests: the tenant's limit was reached."),
            None,
            Outcome.RETRY,
            "WB-321: SOAP fault a:Microsoft.Dynamics.Nav.Service.WebServices."
            "ServiceBrokerException: Too Many Requests: the tenant's limit was reached.",
        ),
    ],
    ids=["modified", "busy", "timed-out", "too-many"],
)
def test_soap_faults_are_classified_with_code_and_string(
    make_context: MakeContext,
    writeback_soap_page: SoapPageServer,
    fault: SoapFault,
    retry_after: str | None,
    outcome: Outcome,
    error: str,
) -> None:
    page = writeback_soap_page
    page.set_plan([SoapStep(fault=fault, retry_after=retry_after)])
    (result,) = send_all(SoapFormat(make_context(page.page_url)), create(page.page_url))
    assert (result.outcome, result.status_code, result.error) == (outcome, 500, error)
    assert result.retry_after == (float(retry_after) if retry_after else None)
    assert page.records == []


def test_a_fault_for_a_value_the_page_cannot_read_is_failed(
    make_context: MakeContext, writeback_soap_page: SoapPageServer
) -> None:
    page = writeback_soap_page
    (result,) = send_all(
        SoapFormat(make_context(page.page_url)), create(page.page_url, {"Importance": "high"})
    )
    assert result.outcome is Outcome.FAILED
    assert (
        result.error
        == "WB-320: SOAP fault s:Client: The value 'high' of 'Importance' is not a valid xsd:int."
    )


@pytest.mark.parametrize(
    ("step", "outcome", "retry_after"),
    [
        (SoapStep(status=429, retry_after=7), Outcome.RETRY, 7.0),
        (SoapStep(status=503, retry_after=30), Outcome.RETRY, 30.0),
        (SoapStep(status=408), Outcome.RETRY, None),
        (SoapStep(status=502, body=b"bad gateway"), Outcome.RETRY, None),
        (SoapStep(status=404, body=b"no such page"), Outcome.FAILED, None),
        (SoapStep(status=410), Outcome.FAILED, None),
    ],
    ids=lambda v: str(v.status) if isinstance(v, SoapStep) else None,
)
def test_http_statuses_follow_the_shared_classification(
    make_context: MakeContext,
    writeback_soap_page: SoapPageServer,
    step: SoapStep,
    outcome: Outcome,
    retry_after: float | None,
) -> None:
    page = writeback_soap_page
    page.set_plan([step])
    (result, again) = send_all(
        SoapFormat(make_context(page.page_url)), create(page.page_url), create(page.page_url)
    )
    assert (result.outcome, result.status_code, result.retry_after) == (
        outcome,
        step.status,
        retry_after,
    )
    assert result.error is not None and result.error.startswith(f"HTTP {step.status}")
    assert again.outcome is Outcome.DELIVERED
    assert page.wsdl_gets == 1


def test_a_reset_connection_is_retried_and_the_next_send_reconnects(
    make_context: MakeContext, writeback_soap_page: SoapPageServer
) -> None:
    page = writeback_soap_page
    page.set_plan([SoapStep(drop=True)])
    (result, again) = send_all(
        SoapFormat(make_context(page.page_url)), create(page.page_url), create(page.page_url)
    )
    assert result.outcome is Outcome.RETRY
    assert result.status_code is None
    assert (
        result.error
        == f"connection failed: [Errno 104] Connection reset by peer (127.0.0.1:{page.port})"
    )
    assert again.outcome is Outcome.DELIVERED
    assert len(page.records) == 1


def test_a_slow_answer_times_out_into_a_retry(
    make_context: MakeContext, writeback_soap_page: SoapPageServer
) -> None:
    page = writeback_soap_page
    page.set_plan([SoapStep(delay=2.0)])
    (result,) = send_all(
        SoapFormat(make_context(page.page_url, timeout=0.2)), create(page.page_url)
    )
    assert result.outcome is Outcome.RETRY
    assert result.error == f"timed out: no complete answer within 0.2 s (127.0.0.1:{page.port})"


def test_a_refused_connection_is_retried(make_context: MakeContext) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/NAV/WS/CRONUS/Page/Appointment"
    (result,) = send_all(SoapFormat(make_context(url)), create(url))
    assert result.outcome is Outcome.RETRY
    assert result.error == (
        f"connection failed: fetching the WSDL: [Errno 111] Connection refused (127.0.0.1:{port})"
    )


def test_a_wsdl_the_server_cannot_give_now_is_retried_then_fetched_once(
    make_context: MakeContext, writeback_soap_page: SoapPageServer
) -> None:
    page = writeback_soap_page
    page.set_wsdl_plan([SoapStep(status=503, retry_after=30, body=b"starting up")])
    fmt = SoapFormat(make_context(page.page_url))
    first, second, third = send_all(fmt, *(create(page.page_url) for _ in range(3)))
    assert (first.outcome, first.status_code, first.retry_after) == (Outcome.RETRY, 503, 30.0)
    assert first.code == "WB-322"
    assert first.error == (
        f"WB-322: the WSDL could not be fetched from 127.0.0.1:{page.port}: HTTP 503: starting up"
    )
    assert second.outcome is third.outcome is Outcome.DELIVERED
    assert page.wsdl_gets == 1
    assert fmt.wsdl_loads == 1


def test_a_uri_that_is_no_page_fails_with_the_status(
    make_context: MakeContext, writeback_soap_page: SoapPageServer
) -> None:
    url = writeback_soap_page.url + "/BC/WS/CRONUS%20US/Page/Nope"
    (result,) = send_all(SoapFormat(make_context(url)), create(url))
    assert (result.outcome, result.status_code, result.code) == (Outcome.FAILED, 404, "WB-322")
    assert result.error is not None and result.error.startswith("WB-322: the WSDL could not be")


def test_an_answer_that_is_not_a_wsdl_fails(
    make_context: MakeContext, writeback_soap_page: SoapPageServer
) -> None:
    page = writeback_soap_page
    page.set_wsdl_plan([SoapStep(status=200, body=b"<html><body>Sign in</body></html>")])
    (result,) = send_all(SoapFormat(make_context(page.page_url)), create(page.page_url))
    assert (result.outcome, result.code) == (Outcome.FAILED, "WB-323")
    assert result.error is not None
    assert result.error.startswith(
        f"WB-323: 127.0.0.1:{page.port} did not answer with a usable WSDL"
    )
    assert result.error.endswith("check that the uri is the page's web service URL.")


def test_an_operation_the_page_lacks_fails(
    make_context: MakeContext, writeback_soap_page: SoapPageServer
) -> None:
    page = writeback_soap_page
    message = OutboundMessage(page.page_url, operation="CreateMultiple", payload=RECORD)
    (result,) = send_all(SoapFormat(make_context(page.page_url)), message)
    assert (result.outcome, result.code) == (Outcome.FAILED, "WB-324")
    assert result.error == (
        "WB-324: the page has no operation 'CreateMultiple'; "
        "it offers Create, Delete, Read, Update."
    )
    assert page.calls == []


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({}, "WB-325: the record cannot be encoded for operation 'Read': Missing element Entry_No"),
        (
            ["not", "a", "record"],
            "WB-325: operation 'Read' needs a record (an object of page fields), not list.",
        ),
    ],
)
def test_a_record_that_cannot_be_encoded_fails_before_sending(
    make_context: MakeContext, writeback_soap_page: SoapPageServer, payload: Any, error: str
) -> None:
    page = writeback_soap_page
    message = OutboundMessage(page.page_url, operation="Read", payload=payload)
    (result,) = send_all(SoapFormat(make_context(page.page_url)), message)
    assert (result.outcome, result.code) == (Outcome.FAILED, "WB-325")
    assert result.error is not None and result.error.startswith(error)
    assert page.calls == []


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>OK</html>", "no SOAP envelope but <html>"),
        (b"OK", "Start tag expected"),
        (
            result_envelope("Appointment", "Read", {}),
            "expected <Create_Result>, found <Read_Result>",
        ),
    ],
    ids=["html", "text", "other-result"],
)
def test_a_success_status_without_the_operations_result_fails(
    make_context: MakeContext, writeback_soap_page: SoapPageServer, body: bytes, why: str
) -> None:
    page = writeback_soap_page
    page.set_plan([SoapStep(status=200, body=body)])
    (result,) = send_all(SoapFormat(make_context(page.page_url)), create(page.page_url))
    assert (result.outcome, result.status_code, result.code) == (Outcome.FAILED, 200, "WB-326")
    assert result.error is not None
    assert result.error.startswith(
        "WB-326: the answer to 'Create' is not a SOAP response the page's WSDL describes ("
    )
    assert why in result.error


def test_other_operations_take_their_own_arguments(
    make_context: MakeContext, writeback_soap_page: SoapPageServer
) -> None:
    page = writeback_soap_page
    (created,) = send_all(SoapFormat(make_context(page.page_url)), create(page.page_url))
    assert created.outcome is Outcome.DELIVERED
    key = page.records[0]["Key"]
    results = send_all(
        SoapFormat(make_context(page.page_url)),
        OutboundMessage(page.page_url, operation="Read", payload={"Entry_No": 1}),
        OutboundMessage(page.page_url, operation="Update", payload={"Key": key, "Subject": "New"}),
        OutboundMessage(
            page.page_url, operation="Update", payload={"Key": key, "Subject": "Stale"}
        ),
    )
    assert [r.outcome for r in results] == [Outcome.DELIVERED, Outcome.DELIVERED, Outcome.FAILED]
    assert "Other user has modified" in (results[2].error or "")
    assert page.records[0]["Subject"] == "New"
