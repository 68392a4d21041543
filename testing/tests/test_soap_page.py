"""The SOAP page simulator, driven by zeep (a real SOAP client) and by raw envelopes."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from decimal import Decimal

import pytest
import requests
import zeep
import zeep.exceptions
from writeback_testing.acceptors import BasicAcceptor
from writeback_testing.soap_page import (
    BUSY,
    MODIFIED,
    PAGE_FIELDS,
    SoapCall,
    SoapPageServer,
    SoapStep,
    request_envelope,
)

PageFactory = Callable[..., SoapPageServer]
NS = "urn:microsoft-dynamics-schemas/page/appointment"
SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{NS}:Create"'}


def client_for(page: SoapPageServer, session: requests.Session | None = None) -> zeep.Client:
    transport = zeep.Transport(session=session or requests.Session(), timeout=5)
    return zeep.Client(page.page_url, transport=transport)


def record_fields(client: zeep.Client) -> list[str]:
    return [name for name, _ in client.get_type(f"{{{NS}}}Appointment").elements]


def post(page: SoapPageServer, body: bytes, **headers: str) -> requests.Response:
    return requests.post(page.page_url, data=body, headers={**SOAP_HEADERS, **headers}, timeout=5)


def fault_of(answer: requests.Response) -> tuple[str, str]:
    fault = ET.fromstring(answer.content).find(
        ".//{http://schemas.xmlsoap.org/soap/envelope/}Fault"
    )
    assert fault is not None, answer.text
    return fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""


def test_the_wsdl_is_a_page_wsdl_zeep_understands(writeback_soap_page: SoapPageServer) -> None:
    page = writeback_soap_page
    assert page.page_url.endswith("/BC/WS/CRONUS%20US/Page/Appointment")
    client = client_for(page)
    (service,) = client.wsdl.services.values()
    (port,) = service.ports.values()
    assert port.binding_options["address"] == page.page_url
    operations = port.binding.all()
    assert sorted(operations) == ["Create", "Delete", "Read", "Update"]
    assert operations["Create"].soapaction == f"{NS}:Create"
    assert str(operations["Create"].output.body.qname) == f"{{{NS}}}Create_Result"
    assert record_fields(client) == list(PAGE_FIELDS)
    assert page.wsdl_gets == 1


def test_a_page_can_publish_only_some_fields(writeback_soap_page_factory: PageFactory) -> None:
    page = writeback_soap_page_factory(
        fields=["Subject", "Source_App"], advertised_url="http://nav-internal:7047/x"
    )
    client = client_for(page)
    assert record_fields(client) == ["Key", "Entry_No", "Source_App", "Subject"]
    (service,) = client.wsdl.services.values()
    assert next(iter(service.ports.values())).binding_options["address"] == (
        "http://nav-internal:7047/x"
    )
    with pytest.raises(ValueError, match="not page fields: Colour"):
        SoapPageServer(fields=["Colour"])


def test_create_read_update_delete_through_zeep(writeback_soap_page: SoapPageServer) -> None:
    page = writeback_soap_page
    service = client_for(page).service
    created = service.Create(
        Appointment={"Subject": "Boiler", "Planning_Quantity": Decimal("1.5"), "Locked": True}
    )
    assert (created.Entry_No, created.Subject, created.Locked) == (1, "Boiler", True)
    assert created.Key.startswith("1;")
    assert service.Read(Entry_No=1).Subject == "Boiler"
    updated = service.Update(Appointment={"Key": created.Key, "Subject": "Valve"})
    assert updated.Subject == "Valve" and updated.Key != created.Key
    with pytest.raises(zeep.exceptions.Fault) as stale:
        service.Update(Appointment={"Key": created.Key, "Subject": "Lost"})
    assert stale.value.message == (
        'Other user has modified "Appointment" "Entry No.=\'1\'". Start again.'
    )
    assert stale.value.code == "a:Microsoft.Dynamics.Nav.Service.WebServices.ServiceBrokerException"
    assert page.records == [
        {
            "Subject": "Valve",
            "Planning_Quantity": Decimal("1.5"),
            "Locked": True,
            "Entry_No": 1,
            "Key": updated.Key,
        }
    ]
    assert service.Delete(Key=updated.Key) is True
    assert service.Read(Entry_No=1) is None
    assert page.records == []
    assert [c.operation for c in page.calls] == [
        "Create",
        "Read",
        "Update",
        "Update",
        "Delete",
        "Read",
    ]
    assert [c.status for c in page.calls] == [200, 200, 200, 500, 200, 200]


def test_a_raw_envelope_is_answered_with_create_result(writeback_soap_page: SoapPageServer) -> None:
    page = writeback_soap_page
    answer = post(
        page, request_envelope("Appointment", "Create", {"Appointment": {"Subject": "S"}})
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/xml; charset=utf-8"
    result = ET.fromstring(answer.content).find(f".//{{{NS}}}Create_Result/{{{NS}}}Appointment")
    assert result is not None
    assert result.findtext(f"{{{NS}}}Subject") == "S"
    assert result.findtext(f"{{{NS}}}Entry_No") == "1"
    (call,) = page.calls
    assert call.arguments == {"Appointment": {"Subject": "S"}}
    assert call.soap_action == f"{NS}:Create"


@pytest.mark.parametrize(
    ("body", "headers", "status", "faultstring"),
    [
        (b"not xml", {}, 500, "The request is not XML: syntax error: line 1, column 0."),
        (
            request_envelope("Appointment", "Create", {"Appointment": {"Subject": "S"}}),
            {"SOAPAction": f'"{NS}:Delete"'},
            500,
            f"SOAPAction '{NS}:Delete' does not match Create.",
        ),
        (
            request_envelope("Appointment", "Create", {"Appointment": {"Colour": "red"}}),
            {},
            500,
            "The element 'Colour' is not a field of page Appointment.",
        ),
        (
            request_envelope("Appointment", "Create", {"Appointment": {"Locked": "maybe"}}),
            {},
            500,
            "The value 'maybe' of 'Locked' is not a valid xsd:boolean.",
        ),
        (
            request_envelope("Appointment", "Create", {"Appointment": {}}),
            {"Content-Type": "application/soap+xml"},
            415,
            "SOAP 1.1 needs text/xml, not 'application/soap+xml'.",
        ),
    ],
    ids=["not-xml", "wrong-action", "unknown-field", "bad-boolean", "soap-1.2"],
)
def test_bad_requests_get_a_client_fault(
    writeback_soap_page: SoapPageServer,
    body: bytes,
    headers: dict[str, str],
    status: int,
    faultstring: str,
) -> None:
    answer = post(writeback_soap_page, body, **headers)
    assert answer.status_code == status
    assert fault_of(answer) == ("s:Client", faultstring)
    assert writeback_soap_page.records == []


def test_other_paths_and_methods(writeback_soap_page: SoapPageServer) -> None:
    page = writeback_soap_page
    assert requests.get(page.url + "/BC/WS/CRONUS%20US/Page/Nope", timeout=5).status_code == 404
    assert requests.put(page.page_url, data=b"", timeout=5).status_code == 405
    assert requests.get(page.page_url + "?wsdl", timeout=5).status_code == 200


def test_planned_faults_statuses_and_drops(writeback_soap_page: SoapPageServer) -> None:
    page = writeback_soap_page
    page.set_plan(
        [
            SoapStep(fault=BUSY, retry_after=5),
            SoapStep(fault=MODIFIED),
            SoapStep(status=429, retry_after=7),
            SoapStep(status=503, retry_after="Wed, 21 Oct 2026 07:28:00 GMT"),
            SoapStep(drop=True),
        ]
    )
    body = request_envelope("Appointment", "Create", {"Appointment": {"Subject": "S"}})
    busy = post(page, body)
    assert (busy.status_code, busy.headers["Retry-After"]) == (500, "5")
    assert fault_of(busy) == (BUSY.faultcode, BUSY.faultstring)
    assert fault_of(post(page, body))[1] == MODIFIED.faultstring
    throttled = post(page, body)
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "7")
    assert post(page, body).headers["Retry-After"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    with pytest.raises(requests.ConnectionError):
        post(page, body)
    assert post(page, body).status_code == 200
    assert [c.status for c in page.calls] == [500, 500, 429, 503, None, 200]
    assert page.count("Create", 200) == 1 and len(page.records) == 1


def test_a_callable_plan_sees_the_parsed_call(writeback_soap_page: SoapPageServer) -> None:
    page = writeback_soap_page
    seen: list[SoapCall] = []

    def plan(call: SoapCall) -> SoapStep | None:
        seen.append(call)
        return SoapStep(fault=MODIFIED) if call.operation == "Update" else None

    page.set_plan(plan)
    service = client_for(page).service
    created = service.Create(Appointment={"Subject": "S"})
    with pytest.raises(zeep.exceptions.Fault):
        service.Update(Appointment={"Key": created.Key, "Subject": "T"})
    assert [c.operation for c in seen] == ["Create", "Update"]
    assert seen[1].arguments == {"Appointment": {"Key": created.Key, "Subject": "T"}}


def test_wsdl_plan_and_delay(writeback_soap_page: SoapPageServer) -> None:
    page = writeback_soap_page
    page.set_wsdl_plan([SoapStep(status=503, retry_after=1), SoapStep(delay=2.0)])
    first = requests.get(page.page_url, timeout=5)
    assert (first.status_code, first.headers["Retry-After"]) == (503, "1")
    with pytest.raises(requests.Timeout):
        requests.get(page.page_url, timeout=0.2)
    assert requests.get(page.page_url, timeout=5).status_code == 200
    assert page.wsdl_gets == 1


def test_any_acceptor_guards_wsdl_and_calls(writeback_soap_page_factory: PageFactory) -> None:
    acceptor = BasicAcceptor({"WEBUSER": "pw"})
    page = writeback_soap_page_factory(auth=acceptor)
    refused = requests.get(page.page_url, timeout=5)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="writeback-testing"'
    assert page.wsdl_gets == 0
    session = requests.Session()
    session.auth = ("WEBUSER", "pw")
    client_for(page, session).service.Create(Appointment={"Subject": "S"})
    (call,) = page.calls
    assert call.principal == "WEBUSER"
    assert (acceptor.accepted, acceptor.refused) == (2, 1)


def test_wait_for_returns_when_enough_calls_succeeded(writeback_soap_page: SoapPageServer) -> None:
    page = writeback_soap_page
    body = request_envelope("Appointment", "Create", {"Appointment": {"Subject": "S"}})
    threads = [threading.Thread(target=post, args=(page, body)) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert len(page.wait_for(3, timeout=5)) == 3
    for thread in threads:
        thread.join()
    with pytest.raises(AssertionError, match=r"expected 4 successful Create calls within 0\.05s"):
        page.wait_for(4, timeout=0.05)


def test_steps_are_checked() -> None:
    with pytest.raises(ValueError, match="status must be 100-599"):
        SoapStep(status=99)
    with pytest.raises(ValueError, match="delay must not be negative"):
        SoapStep(delay=-1)
