"""What a page's WSDL says: its operations, and the record each one takes.

A Business Central / NAV page operation (``Create``, ``Update``) takes one
element named after the page whose type is the page's record; ``Read`` and
``Delete`` take the key fields directly.  Fields the record type does not
define are left out (a page published without some fields must still receive
the others; docs/connectors.md, "The soap format"), and so are absent and
``None`` values.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._encode import RecordEncoder

if TYPE_CHECKING:
    import requests
    import zeep
    from zeep.proxy import ServiceProxy

__all__ = ["Page", "PageError", "PageOperation"]


class PageError(Exception):
    """The message cannot be turned into a call of this page (one sentence)."""

    def __init__(self, message: str, *, missing_operation: bool = False) -> None:
        super().__init__(message)
        self.missing_operation = missing_operation


class Page:
    """A parsed page WSDL, shared by every thread of one connector.

    Calls go to the message's URL (the connector's URI) rather than the
    ``soap:address`` in the WSDL, which a server behind a proxy or a NAT often
    gets wrong.
    """

    def __init__(self, client: zeep.Client, address: str) -> None:
        self.client = client
        service = next(iter(client.wsdl.services.values()), None)
        port = next(iter(service.ports.values()), None) if service is not None else None
        if port is None:
            raise ValueError("the WSDL declares no service port")
        self.binding = port.binding
        self._lock = threading.Lock()
        self._services: dict[str, ServiceProxy] = {}
        self._operations: dict[str, PageOperation] = {}
        self._parsers = threading.local()
        self.service_for(address)

    def parse(self, content: bytes) -> Any:
        """The root element of an answer, parsed as zeep's ``parse_xml`` parses it
        (same parser settings, same refusals), with the parser made once per thread
        rather than once per answer.

        :raises zeep.exceptions.XMLSyntaxError: not XML.
        :raises zeep.exceptions.DTDForbidden: a doctype, when the settings forbid it.
        :raises zeep.exceptions.EntitiesForbidden: an entity declaration, likewise.
        """
        from lxml import etree
        from zeep.exceptions import DTDForbidden, EntitiesForbidden, XMLSyntaxError
        from zeep.loader import ImportResolver

        settings = self.client.settings
        parser = getattr(self._parsers, "parser", None)
        if parser is None:
            # lxml parsers may not be shared by threads; one each, reused.
            parser = etree.XMLParser(
                remove_comments=True,
                resolve_entities=False,
                recover=not settings.strict,
                huge_tree=settings.xml_huge_tree,
            )
            parser.resolvers.add(ImportResolver(self.binding.transport, settings))
            self._parsers.parser = parser
        try:
            root = etree.fromstring(content, parser=parser)
        except etree.XMLSyntaxError as exc:
            raise XMLSyntaxError(
                f"Invalid XML content received ({exc.msg})", content=content
            ) from None
        docinfo = root.getroottree().docinfo
        if docinfo.doctype and settings.forbid_dtd:
            raise DTDForbidden(docinfo.doctype, docinfo.system_url, docinfo.public_id)
        if settings.forbid_entities:
            for dtd in (docinfo.internalDTD, docinfo.externalDTD):
                for entity in dtd.iterentities() if dtd is not None else ():
                    raise EntitiesForbidden(entity.name, entity.content)
        return root

    @property
    def operation_names(self) -> list[str]:
        return sorted(self.binding.all())

    def service_for(self, address: str) -> ServiceProxy:
        service = self._services.get(address)
        if service is None:
            with self._lock:
                service = self._services.get(address)
                if service is None:
                    service = self.client.create_service(self.binding.name, address)
                    self._services[address] = service
        return service

    def operation(self, name: str) -> PageOperation:
        """The operation ``name``.

        :raises PageError: when the page has no such operation.
        """
        found = self._operations.get(name)
        if found is None:
            try:
                definition = self.binding.get(name)
            except ValueError:
                raise PageError(
                    f"the page has no operation {name!r}; it offers "
                    f"{', '.join(self.operation_names) or 'none'}.",
                    missing_operation=True,
                ) from None
            found = PageOperation(self, name, definition)
            with self._lock:
                self._operations.setdefault(name, found)
        return found


class PageOperation:
    """One operation of a page: which arguments it takes, how to call it."""

    def __init__(self, page: Page, name: str, definition: Any) -> None:
        self.page = page
        self.name = name
        self.definition = definition
        parts = _children(definition.input.body)
        self.wrapper: str | None = None
        self.fields: frozenset[str]
        if len(parts) == 1 and _children(parts[0][1]):
            # Create(Appointment=<record>): the one argument is the page's record.
            self.wrapper = parts[0][0]
            self.fields = frozenset(name for name, _ in _children(parts[0][1]))
        else:
            self.fields = frozenset(name for name, _ in parts)
        #: Encodes a record's call without zeep's value objects, when the page and
        #: client allow it exactly (:mod:`._encode`); ``None``: zeep encodes.
        self.encoder = (
            RecordEncoder.for_operation(page.client, page.binding, definition)
            if self.wrapper
            else None
        )

    def _record(self, payload: Any) -> Mapping[str, Any]:
        if not isinstance(payload, Mapping):
            raise PageError(
                f"operation {self.name!r} needs a record (an object of page fields), "
                f"not {type(payload).__name__}."
            )
        inner = payload.get(self.wrapper) if self.wrapper else None
        return inner if isinstance(inner, Mapping) and len(payload) == 1 else payload

    def dropped_fields(self, payload: Any) -> set[str]:
        """Fields of ``payload`` with a value that the page does not define."""
        if not isinstance(payload, Mapping):
            return set()
        record = self._record(payload)
        return {k for k, v in record.items() if v is not None and k not in self.fields}

    def arguments(self, payload: Any) -> dict[str, Any]:
        """Keyword arguments for the call: the page's fields of ``payload`` that have a value.

        :raises PageError: when ``payload`` is not a record.
        """
        record = self._record(payload)
        kept = {k: v for k, v in record.items() if v is not None and k in self.fields}
        return {self.wrapper: kept} if self.wrapper else kept

    def call(self, address: str, arguments: dict[str, Any]) -> requests.Response:
        """Post the operation (the client returns raw responses)."""
        encoder = self.encoder
        envelope = encoder.encode(arguments) if encoder is not None else None
        if envelope is None:
            return self.page.service_for(address)[self.name](**arguments)
        # What zeep's proxy would do after serialising: post it with its headers.
        return self.page.client.transport.post(address, envelope, encoder.headers)

    def read_reply(self, response: requests.Response) -> None:
        """Check the answer is this operation's result; raise ``zeep.exceptions.Fault`` for a fault.

        zeep's own ``process_reply`` would also turn the returned record into
        Python objects, which nothing here reads and which cost more than the
        rest of the call (bench/bench_soap.py); the envelope is parsed with
        zeep's hardened parser (no DTDs, no entities) and checked instead.

        :raises ValueError: when the answer is not the operation's SOAP result.
        """
        binding = self.page.binding
        doc = self.page.parse(response.content)
        envelope_ns = binding.nsmap["soap-env"]
        body = doc.find(f"{{{envelope_ns}}}Body")
        if doc.tag != f"{{{envelope_ns}}}Envelope" or body is None:
            raise ValueError(f"no SOAP envelope but <{_local(doc.tag)}>")
        if body.find(f"{{{envelope_ns}}}Fault") is not None:
            binding.process_error(doc, self.definition)
        expected = self.definition.output.body.qname
        first = body[0] if len(body) else None
        if first is None or first.tag != expected.text:
            found = "an empty body" if first is None else f"<{_local(first.tag)}>"
            raise ValueError(f"expected <{expected.localname}>, found {found}")


def _local(tag: Any) -> str:
    return str(tag).rpartition("}")[2]


def _children(element: Any) -> list[tuple[str, Any]]:
    """``(name, element)`` of an element's complex type, empty for a simple one."""
    kind = getattr(element, "type", None)
    elements = getattr(kind, "elements", None)
    return list(elements) if elements else []
