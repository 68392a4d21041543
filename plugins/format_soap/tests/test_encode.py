"""The record encoder writes zeep's envelope, byte for byte, or leaves the call to zeep.

Every record is encoded both ways, by zeep (value objects, then render) and by
:class:`writeback_soap._encode.RecordEncoder`; the bytes must be equal, or both
must refuse the record with the same error.  Pages are the simulator's WSDL
(every field published) and variants of it: unqualified fields, SOAP 1.2; and
pages the encoder leaves to zeep (a required field, an attribute, a plugin).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zeep
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from writeback_soap._encode import RecordEncoder
from writeback_soap._page import Page
from writeback_testing.soap_page import PAGE_FIELD_TYPES, page_wsdl
from zeep.wsdl.utils import etree_to_string

ADDRESS = "http://127.0.0.1:9/BC/WS/CRONUS/Page/Appointment"
WSDL = page_wsdl("Appointment", PAGE_FIELD_TYPES, ADDRESS).decode("utf-8")

# The same page bound with SOAP 1.2 (every binding element uses the prefix soap).
_SOAP12 = WSDL.replace(
    'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"',
    'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap12/"',
)
VARIANTS = {
    "page": WSDL,
    "unqualified": WSDL.replace(
        'elementFormDefault="qualified"', 'elementFormDefault="unqualified"'
    ),
    "soap12": _SOAP12,
}


def load(tmp_path: Path, text: str) -> Page:
    path = tmp_path / "page.wsdl"
    path.write_text(text, encoding="utf-8")
    client = zeep.Client(str(path), settings=zeep.Settings(raw_response=True))
    return Page(client, ADDRESS)


def by_zeep(page: Page, operation: str, arguments: dict[str, Any]) -> Any:
    definition = page.binding.get(operation)
    try:
        serialized = definition.create(**arguments)
        page.binding._set_http_headers(serialized, definition)
        return etree_to_string(serialized.content), serialized.headers
    except Exception as exc:  # compared with the encoder's own refusal
        return type(exc), str(exc)


def by_encoder(encoder: RecordEncoder, arguments: dict[str, Any]) -> Any:
    try:
        envelope = encoder.encode(arguments)
    except Exception as exc:
        return type(exc), str(exc)
    return None if envelope is None else (envelope, encoder.headers)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Page]:
    return {name: load(tmp_path_factory.mktemp(name), text) for name, text in VARIANTS.items()}


def test_record_operations_get_an_encoder_and_key_operations_do_not(pages) -> None:
    page = pages["page"]
    assert page.operation("Create").encoder is not None
    assert page.operation("Update").encoder is not None
    assert page.operation("Read").encoder is None  # takes Entry_No, not a record
    assert page.operation("Delete").encoder is None
    for name in ("page", "unqualified", "soap12"):
        # Joined as text, not built as a tree (checked against the tree when made).
        assert pages[name].operation("Create").encoder._template is not None
    headers = page.operation("Create").encoder.headers
    assert headers == {
        "SOAPAction": '"urn:microsoft-dynamics-schemas/page/appointment:Create"',
        "Content-Type": "text/xml; charset=utf-8",
    }


def test_a_record_type_with_an_attribute_is_left_to_zeep(tmp_path: Path) -> None:
    text = WSDL.replace(
        '</xsd:sequence></xsd:complexType><xsd:complexType name="Appointment_List">',
        '</xsd:sequence><xsd:attribute name="mode" type="xsd:string"/></xsd:complexType>'
        '<xsd:complexType name="Appointment_List">',
        1,
    )
    assert text != WSDL
    assert load(tmp_path, text).operation("Create").encoder is None


def test_a_record_with_a_required_field_is_left_to_zeep(tmp_path: Path) -> None:
    text = WSDL.replace(
        'minOccurs="0" maxOccurs="1" name="Subject"', 'minOccurs="1" maxOccurs="1" name="Subject"'
    )
    assert text != WSDL
    assert load(tmp_path, text).operation("Create").encoder is None


def test_a_client_with_a_plugin_is_left_to_zeep(tmp_path: Path) -> None:
    path = tmp_path / "page.wsdl"
    path.write_text(WSDL, encoding="utf-8")
    client = zeep.Client(
        str(path), settings=zeep.Settings(raw_response=True), plugins=[zeep.Plugin()]
    )
    assert Page(client, ADDRESS).operation("Create").encoder is None


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=()), max_size=12) | st.sampled_from(
    ["", "a&b", "<x>", "]]>", "\r\n", "\t", "x\x00y", "\x0b", "\ufffe", "\ud800", "é€😀", " lead"]
)
_VALUES = {
    "string": _TEXT,
    "int": st.integers(-(2**40), 2**40) | _TEXT,
    "boolean": st.booleans() | st.sampled_from(["true", "0", "false", 1]),
    "decimal": st.decimals(allow_nan=False, allow_infinity=False, places=4)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(),
    "dateTime": st.datetimes(timezones=st.just(dt.UTC)) | st.datetimes() | _TEXT,
}


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(list(PAGE_FIELD_TYPES)), unique=True, max_size=12))
    record: dict[str, Any] = {}
    for name in names:
        record[name] = draw(_VALUES[PAGE_FIELD_TYPES[name]] | st.none())
    return record


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("operation", ["Create", "Update"])
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(record=records())
def test_the_envelope_is_zeeps(pages, variant: str, operation: str, record: dict) -> None:
    page = pages[variant]
    op = page.operation(operation)
    assert op.encoder is not None, variant
    arguments = op.arguments(record)
    ours = by_encoder(op.encoder, arguments)
    theirs = by_zeep(page, operation, arguments)
    assert ours == theirs


def test_every_field_with_text_to_escape(pages) -> None:
    page = pages["page"]
    record = {name: "a&b<c>d\r" for name, kind in PAGE_FIELD_TYPES.items() if kind == "string"}
    record |= {"Entry_No": 7, "Locked": True, "Planning_Quantity": Decimal("2.50")}
    record["Start_Date_Time"] = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
    arguments = page.operation("Create").arguments(record)
    assert by_encoder(page.operation("Create").encoder, arguments) == by_zeep(
        page, "Create", arguments
    )
