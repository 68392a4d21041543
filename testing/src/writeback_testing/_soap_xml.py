"""The XML of a Business Central / NAV page web service: its WSDL and envelopes.

Modelled on what BC and NAV publish for a page, as Microsoft documents it: SOAP 1.1,
document/literal, namespace ``urn:microsoft-dynamics-schemas/page/{service in
lower case}``, ``SOAPAction`` ``{namespace}:{Operation}``, the record type named
after the service with a ``Key``, and result elements ``{Operation}_Result``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import quoteattr

__all__ = [
    "ENVELOPE_NS",
    "PAGE_FIELDS",
    "PAGE_FIELD_TYPES",
    "envelope",
    "fault_envelope",
    "page_namespace",
    "page_wsdl",
    "request_envelope",
    "result_envelope",
]

ENVELOPE_NS = "http://schemas.xmlsoap.org/soap/envelope/"

#: The staging record's page fields (docs/connectors.md, "What BC receives") and their
#: XSD types, in page order.
#: ``Key`` and ``Entry_No`` (the staging table's primary key) are always published.
PAGE_FIELD_TYPES: dict[str, str] = {
    "Key": "string",
    "Entry_No": "int",
    "Database_Action": "string",
    "Source_App": "string",
    "Source_Type": "string",
    "Job_No": "string",
    "Task_No": "string",
    "Appointment_Guid": "string",
    "Appointment_No": "string",
    "Subject": "string",
    "Body": "string",
    "Start_Date_Time": "dateTime",
    "End_Date_Time": "dateTime",
    "Is_All_Day_Event": "boolean",
    "Importance": "int",
    "Locked": "boolean",
    "Category": "string",
    "Time_Marker": "string",
    "Planning_Quantity": "decimal",
    "Planning_UOM": "string",
    "Use_Fix_Planning_Qty": "boolean",
    "Round_To_UOM": "boolean",
    "Back_Office_Id": "string",
    "Back_Office_Parent_Id": "string",
    "Resource_Nos": "string",
}
PAGE_FIELDS: tuple[str, ...] = tuple(PAGE_FIELD_TYPES)
ALWAYS_PUBLISHED = ("Key", "Entry_No")

#: Operation -> (input children, output children) as (name, type, minOccurs).
_OPERATIONS: dict[str, tuple[Sequence[tuple[str, str, int]], Sequence[tuple[str, str, int]]]] = {
    "Read": ([("Entry_No", "xsd:int", 1)], [("{record}", "tns:{record}", 0)]),
    "Create": ([("{record}", "tns:{record}", 1)], [("{record}", "tns:{record}", 1)]),
    "Update": ([("{record}", "tns:{record}", 1)], [("{record}", "tns:{record}", 1)]),
    "Delete": ([("Key", "xsd:string", 1)], [("Delete_Result", "xsd:boolean", 1)]),
}


def page_namespace(service: str) -> str:
    """``urn:microsoft-dynamics-schemas/page/appointment`` for service ``Appointment``."""
    return f"urn:microsoft-dynamics-schemas/page/{service.lower()}"


def _elements(children: Iterable[tuple[str, str, int]], record: str) -> str:
    return "".join(
        f'<xsd:element minOccurs="{low}" maxOccurs="1" name="{name.format(record=record)}" '
        f'type="{kind.format(record=record)}"/>'
        for name, kind, low in children
    )


def page_wsdl(service: str, fields: Iterable[str], address: str) -> bytes:
    """The WSDL of page ``service`` publishing ``fields`` (plus ``Key`` and ``Entry_No``)."""
    ns = page_namespace(service)
    published = [f for f in PAGE_FIELDS if f in ALWAYS_PUBLISHED or f in set(fields)]
    record = "".join(
        f'<xsd:element minOccurs="0" maxOccurs="1" name="{f}" type="xsd:{PAGE_FIELD_TYPES[f]}"/>'
        for f in published
    )
    schema_elements = []
    messages = []
    port_ops = []
    binding_ops = []
    for op, (inputs, outputs) in _OPERATIONS.items():
        result = f"{op}_Result"
        for name, children in ((op, inputs), (result, outputs)):
            schema_elements.append(
                f'<xsd:element name="{name}"><xsd:complexType><xsd:sequence>'
                f"{_elements(children, service)}</xsd:sequence></xsd:complexType></xsd:element>"
            )
            messages.append(
                f'<message name="{name}"><part name="parameters" element="tns:{name}"/></message>'
            )
        port_ops.append(
            f'<operation name="{op}"><input name="{op}" message="tns:{op}"/>'
            f'<output name="{result}" message="tns:{result}"/></operation>'
        )
        binding_ops.append(
            f'<operation name="{op}"><soap:operation soapAction="{ns}:{op}" style="document"/>'
            f'<input name="{op}"><soap:body use="literal"/></input>'
            f'<output name="{result}"><soap:body use="literal"/></output></operation>'
        )
    text = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" targetNamespace="{ns}" '
        f'xmlns:tns="{ns}" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f'<types><xsd:schema elementFormDefault="qualified" targetNamespace="{ns}">'
        f'<xsd:complexType name="{service}"><xsd:sequence>{record}</xsd:sequence>'
        "</xsd:complexType>"
        f'<xsd:complexType name="{service}_List"><xsd:sequence>'
        f'<xsd:element minOccurs="1" maxOccurs="unbounded" name="{service}" type="tns:{service}"/>'
        f"</xsd:sequence></xsd:complexType>{''.join(schema_elements)}</xsd:schema></types>"
        f"{''.join(messages)}"
        f'<portType name="{service}_Port">{"".join(port_ops)}</portType>'
        f'<binding name="{service}_Binding" type="tns:{service}_Port">'
        '<soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>'
        f"{''.join(binding_ops)}</binding>"
        f'<service name="{service}_Service"><port name="{service}_Port" '
        f'binding="tns:{service}_Binding"><soap:address location={quoteattr(address)}/>'
        "</port></service></definitions>"
    )
    return text.encode("utf-8")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _append(parent: ET.Element, ns: str, name: str, value: Any) -> None:
    child = ET.SubElement(parent, f"{{{ns}}}{name}")
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if inner is not None:
                _append(child, ns, key, inner)
    elif value is not None:
        child.text = _text(value)


def envelope(ns: str, element: str, content: Mapping[str, Any]) -> bytes:
    """A SOAP 1.1 envelope whose body holds ``<element xmlns=ns>`` with ``content``.

    Mappings nest (a record), ``None`` values are left out.
    """
    root = ET.Element(f"{{{ENVELOPE_NS}}}Envelope")
    body = ET.SubElement(root, f"{{{ENVELOPE_NS}}}Body")
    _append(body, ns, element, content)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def request_envelope(service: str, operation: str, content: Mapping[str, Any]) -> bytes:
    """A request for ``operation`` of page ``service``, as a raw client would post it."""
    return envelope(page_namespace(service), operation, content)


def result_envelope(service: str, operation: str, content: Mapping[str, Any]) -> bytes:
    """The answer ``{operation}_Result`` of page ``service``, as the page sends it."""
    return envelope(page_namespace(service), f"{operation}_Result", content)


def fault_envelope(faultcode: str, faultstring: str, detail: str | None = None) -> bytes:
    """A SOAP 1.1 Fault as BC/NAV send it (faultcode prefixed in its own namespace)."""
    prefix, _, _ = faultcode.rpartition(":")
    code_ns = f' xmlns:{prefix}="urn:microsoft-dynamics-schemas/error"' if prefix else ""
    detail_xml = (
        '<detail><string xmlns="http://schemas.microsoft.com/2003/10/Serialization/">'
        f"{_escape(detail)}</string></detail>"
        if detail
        else ""
    )
    text = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{ENVELOPE_NS}"><s:Body><s:Fault>'
        f"<faultcode{code_ns}>{_escape(faultcode)}</faultcode>"
        f'<faultstring xml:lang="en-US">{_escape(faultstring)}</faultstring>'
        f"{detail_xml}</s:Fault></s:Body></s:Envelope>"
    )
    return text.encode("utf-8")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
