"""A page record's call, encoded without zeep's value objects.

zeep serialises a call by building value objects for the record and rendering
them, which cost more client CPU than the HTTP exchange itself
(docs/benchmarks.md, "SOAP page").  A page's ``Create`` and ``Update`` take one
element whose type is a flat sequence of simple fields; for that shape zeep
ends in a handful of lxml calls: an element per field with a value, in the
sequence's order, its text the field's XSD type's own ``xmlvalue``.
:class:`RecordEncoder` makes those calls directly, so its envelope is byte for
byte zeep's (tests/test_encode.py compares them over many records).

Anything else is left to zeep: an operation of another shape (``Read`` and
``Delete`` take key fields), a record with a required field (a page's are
all optional), a client with plugins, WS-Security or WS-Addressing.  An encoder
also checks itself when it is built: the envelope of an empty record must be
zeep's, or the operation is left to zeep.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from lxml import etree
from zeep.wsdl.utils import etree_to_string
from zeep.xsd import ComplexType, Element, Sequence
from zeep.xsd.types.simple import AnySimpleType

if TYPE_CHECKING:
    import zeep

__all__ = ["RecordEncoder"]

#: (keyword name, element qname, the XSD type's ``xmlvalue``)
_Field = tuple[str, Any, Callable[[Any], str]]


class RecordEncoder:
    """Encodes calls of one page operation that takes one record element.

    Build it with :meth:`for_operation`, which returns ``None`` for an operation
    or a client it cannot encode exactly as zeep would.
    """

    def __init__(
        self,
        *,
        nsmap: Mapping[str, str],
        envelope_ns: str,
        operation_qname: Any,
        record_name: str,
        record_qname: Any,
        fields: tuple[_Field, ...],
        headers: Mapping[str, str],
    ) -> None:
        self._nsmap = dict(nsmap)
        self._envelope = f"{{{envelope_ns}}}Envelope"
        self._body = f"{{{envelope_ns}}}Body"
        self._operation = operation_qname
        self._record_name = record_name
        self._record = record_qname
        self._fields = fields
        #: The HTTP headers zeep sends with this operation (SOAPAction, Content-Type).
        self.headers = dict(headers)
        self._template = _Template.of(self)

    @classmethod
    def for_operation(
        cls, client: zeep.Client, binding: Any, definition: Any
    ) -> RecordEncoder | None:
        """The encoder of ``definition`` (a binding operation), or ``None`` when zeep
        must encode its calls."""
        message = definition.input
        if (
            client.wsse
            or client.plugins
            or client.settings.extra_http_headers
            or getattr(definition.abstract, "wsa_action", None)
            or getattr(message, "_is_body_wrapped", True)
            or "soap-env" not in getattr(binding, "nsmap", {})
        ):
            return None
        operation = message.body
        outer = _plain_sequence(operation)
        if outer is None or len(outer) != 1:
            return None
        record_name, record = outer[0]
        inner = _plain_sequence(record)
        if inner is None or not inner:
            return None
        fields = []
        for name, element in inner:
            if (
                _plain_sequence(element) is not None
                or not isinstance(element.type, AnySimpleType)
                or not element.is_optional
            ):
                return None
            fields.append((name, element.qname, element.type.xmlvalue))
        try:
            # zeep's own envelope and headers for an empty record: the template
            # this encoder must reproduce.
            serialized = definition.create(**{record_name: {}})
            binding._set_http_headers(serialized, definition)
            expected = etree_to_string(serialized.content)
        except Exception:  # a page zeep cannot encode empty is left to zeep
            return None
        encoder = cls(
            nsmap={"soap-env": binding.nsmap["soap-env"], **client.wsdl.types._prefix_map_custom},
            envelope_ns=binding.nsmap["soap-env"],
            operation_qname=operation.qname,
            record_name=record_name,
            record_qname=record.qname,
            fields=tuple(fields),
            headers=serialized.headers,
        )
        if encoder.encode({record_name: {}}) != expected:
            return None
        return encoder

    def encode(self, arguments: Mapping[str, Any]) -> bytes | None:
        """The envelope of a call with ``arguments`` (``{record name: {field: value}}``),
        or ``None`` when zeep must encode it (not one record).

        :raises ValueError: a value that is not XML text (a control character), or
            that the field's type cannot write, as zeep would raise it.
        :raises TypeError: likewise.
        """
        record = arguments.get(self._record_name)
        if len(arguments) != 1 or not isinstance(record, Mapping):
            return None
        texts = []
        plain = True
        for index, (name, _, xmlvalue) in enumerate(self._fields):
            value = record.get(name)
            if value is None:
                continue
            text = xmlvalue(value)
            if plain and not (type(text) is str and _PLAIN.match(text)):
                plain = False
            texts.append((index, text))
        if plain and texts and self._template is not None:
            return self._template.render(texts)
        return self.tree(texts)

    def tree(self, texts: list[tuple[int, Any]]) -> bytes:
        """The envelope with field ``index``'s text ``text`` for each pair, made with lxml
        exactly as zeep makes it (and refused by lxml as zeep's would be)."""
        envelope = etree.Element(self._envelope, nsmap=self._nsmap)
        node = etree.SubElement(
            etree.SubElement(etree.SubElement(envelope, self._body), self._operation), self._record
        )
        sub = etree.SubElement
        fields = self._fields
        for index, text in texts:
            sub(node, fields[index][1]).text = text
        return etree_to_string(envelope)


#: Text that lxml writes as it is but for ``&``, ``<`` and ``>`` (no ``\r``, which it
#: writes ``&#13;``, no character XML forbids, which it refuses).
_PLAIN = re.compile(r"[\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*\Z")
#: Stands for field N's text while a template is cut out of lxml's output.
_MARK = re.compile(r"\ue000([0-9]+)\ue001")


class _Template:
    """The envelope as text around each field's text, cut out of lxml's own output:
    joining strings is several times cheaper than building and writing a tree."""

    def __init__(self, prefix: str, tags: list[tuple[str, str]], suffix: str) -> None:
        self.prefix = prefix
        self.tags = tags
        self.suffix = suffix

    @classmethod
    def of(cls, encoder: RecordEncoder) -> _Template | None:
        """The template of ``encoder``'s envelope, or ``None`` when lxml's output for
        every field set cannot be cut into one (then the tree is always made)."""
        count = len(encoder._fields)
        marks = [(i, f"\ue000{i}\ue001") for i in range(count)]
        written = encoder.tree(marks).decode("utf-8")
        pieces = _MARK.split(written)
        # prefix+open0, "0", close0+open1, "1", ..., "n-1", close(n-1)+suffix
        if len(pieces) != 2 * count + 1 or pieces[1::2] != [str(i) for i in range(count)]:
            return None
        between = pieces[0::2]
        opens, closes = [], []
        prefix, _, first = between[0].rpartition("<")
        opens.append("<" + first)
        for piece in between[1:-1]:
            close, _, rest = piece.partition(">")
            closes.append(close + ">")
            opens.append(rest)
        close, _, suffix = between[-1].partition(">")
        closes.append(close + ">")
        template = cls(prefix, list(zip(opens, closes, strict=True)), suffix)
        # Checked against lxml once, with text that needs escaping in every field.
        sample = [(i, "a&b<c>d") for i in range(count)]
        return template if template.render(sample) == encoder.tree(sample) else None

    def render(self, texts: list[tuple[int, str]]) -> bytes:
        """The envelope with each field's text; ``texts`` in field order, each plain."""
        tags = self.tags
        parts = [self.prefix]
        for index, text in texts:
            opening, closing = tags[index]
            escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            parts += (opening, escaped, closing)
        parts.append(self.suffix)
        return "".join(parts).encode("utf-8")


def _plain_sequence(element: Any) -> list[tuple[str, Element]] | None:
    """The child elements of ``element``'s type when it is a plain sequence of
    single elements (no attributes, choices, ``any`` or lists), else ``None``."""
    kind = getattr(element, "type", None)
    if not isinstance(element, Element) or not isinstance(kind, ComplexType):
        return None
    if kind.attributes or not isinstance(kind._element, Sequence):
        return None
    children = list(kind._element)
    if not all(type(child) is Element and not child.accepts_multiple for child in children):
        return None
    return [(child.attr_name, child) for child in children]
