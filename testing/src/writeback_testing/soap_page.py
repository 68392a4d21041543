"""A Business Central / NAV page web service on loopback, speaking real SOAP 1.1.

``GET`` on the page URL (``/BC/WS/CRONUS%20US/Page/Appointment``) returns the
page's WSDL; ``POST`` runs ``Create``, ``Read``, ``Update`` or ``Delete`` on an
in-memory staging table.  A plan makes the next calls fail on purpose: a SOAP
fault (HTTP 500), an HTTP status with ``Retry-After``, a delay, a dropped
connection.  Any :class:`~writeback_testing.acceptors.Acceptor` guards it.
"""

from __future__ import annotations

import base64
import threading
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import quote, urlsplit

from writeback_testing._server import LoopbackHandler, LoopbackServer
from writeback_testing._soap_xml import (
    ENVELOPE_NS,
    PAGE_FIELD_TYPES,
    PAGE_FIELDS,
    envelope,
    fault_envelope,
    page_namespace,
    page_wsdl,
    request_envelope,
    result_envelope,
)
from writeback_testing.acceptors import auth_response_headers

if TYPE_CHECKING:
    from writeback_testing.acceptors import Acceptor

__all__ = [
    "BROKER_FAULT",
    "BUSY",
    "MODIFIED",
    "PAGE_FIELDS",
    "SoapCall",
    "SoapFault",
    "SoapPageServer",
    "SoapStep",
    "page_wsdl",
    "request_envelope",
    "result_envelope",
]

BROKER_FAULT = "a:Microsoft.Dynamics.Nav.Service.WebServices.ServiceBrokerException"


@dataclass(frozen=True)
class SoapFault:
    """A SOAP 1.1 fault as the page sends it, with HTTP 500."""

    faultstring: str
    faultcode: str = BROKER_FAULT
    detail: str | None = None


#: The optimistic-concurrency fault BC/NAV give for a stale ``Key``: not worth a retry.
MODIFIED = SoapFault('Other user has modified "Appointment" "Entry No.=\'1\'". Start again.')
#: The fault of a server too busy to take the call: worth a retry.
BUSY = SoapFault(
    "Server Busy: the server is busy with other requests; try again later.",
    faultcode="a:Microsoft.Dynamics.Nav.Types.NavServerBusyException",
)


@dataclass(frozen=True)
class SoapStep:
    """How to answer one SOAP call (an authenticated POST).

    ``fault`` answers 500 with that fault; ``status`` answers that HTTP status
    with a plain-text body (``body`` overrides it); neither: the call runs.
    ``retry_after`` adds the header; ``delay`` waits first; ``drop`` resets the
    connection without answering.
    """

    fault: SoapFault | None = None
    status: int | None = None
    retry_after: int | str | None = None
    delay: float = 0.0
    drop: bool = False
    body: bytes | None = None

    def __post_init__(self) -> None:
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be 100-599, not {self.status}")
        if self.delay < 0:
            raise ValueError(f"delay must not be negative, not {self.delay}")


@dataclass(frozen=True)
class SoapCall:
    """One SOAP call as the page saw it: ``status`` None when dropped.

    ``record`` is the record (or arguments) the call carried, typed per the WSDL;
    ``fault`` the faultstring answered, if any; ``connection`` numbers TCP
    connections from 1.
    """

    operation: str | None
    soap_action: str | None
    arguments: dict[str, Any]
    status: int | None
    fault: str | None
    connection: int
    principal: str | None
    body: bytes = field(repr=False, default=b"")


Plan: TypeAlias = Sequence[SoapStep] | Callable[[SoapCall], SoapStep | None] | None
_RUN = SoapStep()


class _CallFault(Exception):
    def __init__(self, fault: SoapFault, status: int = 500) -> None:
        super().__init__(fault.faultstring)
        self.fault = fault
        self.status = status


class SoapPageServer(LoopbackServer):
    """The page web service ``service`` of company ``company`` on server instance ``instance``.

    :param fields: page fields to publish (default: all of :data:`PAGE_FIELDS`);
        ``Key`` and ``Entry_No`` are always published. A call carrying a field
        that is not published gets a fault, like a real page.
    :param auth: an acceptor every request must pass (WSDL included).
    :param plan: steps consumed one per SOAP call, or a callable choosing one.
    :param wsdl_plan: steps consumed one per authenticated WSDL ``GET``.
    :param advertised_url: the ``soap:address`` in the WSDL (default: the page URL).
    """

    def __init__(
        self,
        *,
        service: str = "Appointment",
        company: str = "CRONUS US",
        instance: str = "BC",
        fields: Iterable[str] | None = None,
        auth: Acceptor | None = None,
        plan: Plan = None,
        wsdl_plan: Sequence[SoapStep] = (),
        advertised_url: str | None = None,
    ) -> None:
        super().__init__()
        published = tuple(PAGE_FIELDS if fields is None else fields)
        if unknown := [f for f in published if f not in PAGE_FIELD_TYPES]:
            raise ValueError(f"not page fields: {', '.join(unknown)}; known: {PAGE_FIELDS}")
        self.service = service
        self.namespace = page_namespace(service)
        self.path = f"/{instance}/WS/{quote(company)}/Page/{quote(service)}"
        self.fields = tuple(f for f in PAGE_FIELDS if f in {*published, "Key", "Entry_No"})
        self.auth = auth
        self._advertised = advertised_url
        self._cond = threading.Condition()
        self._plan: deque[SoapStep] | Callable[[SoapCall], SoapStep | None] | None = None
        self._wsdl_plan: deque[SoapStep] = deque(wsdl_plan)
        self._calls: list[SoapCall] = []
        self._table: dict[int, dict[str, Any]] = {}
        self._next_entry = 1
        self._timestamp = 1000
        self.wsdl_gets = 0
        self.set_plan(plan)

    # -- what tests configure and read ------------------------------------------------

    @property
    def page_url(self) -> str:
        """The page's web service URL: the connector's ``uri``."""
        return self.url + self.path

    def set_plan(self, plan: Plan) -> None:
        """Replace the plan for the next SOAP calls (then they run normally)."""
        with self._cond:
            self._plan = plan if plan is None or callable(plan) else deque(plan)

    def set_wsdl_plan(self, steps: Sequence[SoapStep]) -> None:
        with self._cond:
            self._wsdl_plan = deque(steps)

    @property
    def calls(self) -> list[SoapCall]:
        """Every SOAP call answered or dropped, in the order answered (a copy)."""
        with self._cond:
            return list(self._calls)

    @property
    def records(self) -> list[dict[str, Any]]:
        """The staging table's rows in ``Entry_No`` order (copies)."""
        with self._cond:
            return [dict(row) for _, row in sorted(self._table.items())]

    def count(self, operation: str | None = None, status: int | None = None) -> int:
        """SOAP calls of ``operation`` (any when None) answered with ``status`` (any when None)."""
        with self._cond:
            return sum(
                1
                for c in self._calls
                if operation in (None, c.operation) and status in (None, c.status)
            )

    def wait_for(self, n: int, timeout: float = 10.0, operation: str = "Create") -> list[SoapCall]:
        """Block until ``n`` calls of ``operation`` succeeded (200); return them.

        :raises AssertionError: after ``timeout`` seconds, saying what did arrive.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                done = [c for c in self._calls if c.operation == operation and c.status == 200]
                if len(done) >= n:
                    return done
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.operation, c.status, c.fault) for c in self._calls[-20:]]
                    raise AssertionError(
                        f"expected {n} successful {operation} calls within {timeout}s, "
                        f"got {len(done)}; last calls: {seen}"
                    )
                self._cond.wait(left)

    # -- serving ----------------------------------------------------------------------

    def handle_request(self, handler: LoopbackHandler) -> None:
        principal = None
        extra: list[tuple[str, str]] = []
        if self.auth is not None:
            principal = self.auth.authenticate(handler)
            if principal is None:
                return  # the acceptor answered 401 with its challenge
            # Kerberos' mutual-authentication token rides on the answer.
            extra = auth_response_headers(self.auth, handler)
        if urlsplit(handler.path).path != self.path:
            self._answer(handler, extra, 404, f"no web service at {handler.path}".encode())
        elif handler.command in ("GET", "HEAD"):
            self._serve_wsdl(handler, extra)
        elif handler.command == "POST":
            self._serve_call(handler, principal, extra)
        else:
            self._answer(handler, extra, 405, b"use GET for the WSDL, POST for calls")

    @staticmethod
    def _answer(
        handler: LoopbackHandler,
        extra: list[tuple[str, str]],
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        retry_after: int | str | None = None,
    ) -> None:
        headers = [("Content-Type", content_type), *extra]
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        handler.respond(status, body, headers)

    def _serve_wsdl(self, handler: LoopbackHandler, extra: list[tuple[str, str]]) -> None:
        with self._cond:
            step = self._wsdl_plan.popleft() if self._wsdl_plan else _RUN
        if self._before(handler, step):
            return
        if step is not _RUN and (step.status or step.fault):
            self._answer_step(handler, step, extra)
            return
        with self._cond:
            self.wsdl_gets += 1
        wsdl = page_wsdl(self.service, self.fields, self._advertised or self.page_url)
        self._answer(handler, extra, 200, wsdl, _XML)

    def _serve_call(
        self, handler: LoopbackHandler, principal: str | None, extra: list[tuple[str, str]]
    ) -> None:
        action = handler.headers.get("SOAPAction")
        action = action.strip().strip('"') if action is not None else None
        call = SoapCall(
            None, action, {}, None, None, handler.connection_id, principal, handler.body
        )
        problem: _CallFault | None = None
        try:
            operation, arguments = self._parse(handler, action)
            call = replace(call, operation=operation, arguments=arguments)
        except _CallFault as exc:
            problem = exc
        step = self._next_step(call)
        if self._before(handler, step):
            self._record(call)
            return
        if step.status or step.fault:
            fault = step.fault.faultstring if step.fault else None
            self._record(replace(call, status=step.status or 500, fault=fault))
            self._answer_step(handler, step, extra)
            return
        try:
            if problem is not None:
                raise problem
            assert call.operation is not None
            with self._cond:
                result = _OPERATIONS[call.operation](self, call.arguments)
        except _CallFault as exc:
            self._record(replace(call, status=exc.status, fault=exc.fault.faultstring))
            body = fault_envelope(exc.fault.faultcode, exc.fault.faultstring, exc.fault.detail)
            self._answer(handler, extra, exc.status, body, _XML)
            return
        self._record(replace(call, status=200))
        body = envelope(self.namespace, f"{call.operation}_Result", result)
        self._answer(handler, extra, 200, body, _XML)

    def _next_step(self, call: SoapCall) -> SoapStep:
        with self._cond:
            plan = self._plan
            if isinstance(plan, deque):
                return plan.popleft() if plan else _RUN
        if plan is None:
            return _RUN
        step = plan(call)
        if step is not None and not isinstance(step, SoapStep):
            raise TypeError(
                f"a plan callable returns a SoapStep or None, not {type(step).__name__}"
            )
        return step or _RUN

    def _before(self, handler: LoopbackHandler, step: SoapStep) -> bool:
        """Delay and drop; True when the connection was dropped."""
        # Stopping cuts a delay short: the answer is dropped rather than keeping stop() waiting.
        if step.drop or (step.delay and self.sleep(step.delay)):
            handler.drop()
            return True
        return False

    def _answer_step(
        self, handler: LoopbackHandler, step: SoapStep, extra: list[tuple[str, str]]
    ) -> None:
        if step.fault is not None:
            f = step.fault
            body = step.body or fault_envelope(f.faultcode, f.faultstring, f.detail)
            self._answer(handler, extra, step.status or 500, body, _XML, step.retry_after)
            return
        assert step.status is not None
        body = step.body or HTTPStatus(step.status).phrase.encode()
        self._answer(handler, extra, step.status, body, retry_after=step.retry_after)

    def _record(self, call: SoapCall) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()

    # -- SOAP -------------------------------------------------------------------------

    def _parse(self, handler: LoopbackHandler, action: str | None) -> tuple[str, dict[str, Any]]:
        content_type = handler.headers.get("Content-Type", "")
        if not content_type.lower().startswith("text/xml"):
            raise _CallFault(_client(f"SOAP 1.1 needs text/xml, not {content_type!r}."), 415)
        try:
            root = ET.fromstring(handler.body)
        except ET.ParseError as exc:
            raise _CallFault(_client(f"The request is not XML: {exc}.")) from None
        body = root.find(f"{{{ENVELOPE_NS}}}Body")
        if root.tag != f"{{{ENVELOPE_NS}}}Envelope" or body is None or len(body) != 1:
            raise _CallFault(_client("The request is not a SOAP 1.1 envelope with one body."))
        request = body[0]
        ns, _, operation = request.tag[1:].partition("}")
        if ns != self.namespace or operation not in _OPERATIONS:
            raise _CallFault(_client(f"No operation {request.tag} on page {self.service}."))
        if action != f"{self.namespace}:{operation}":
            raise _CallFault(_client(f"SOAPAction {action!r} does not match {operation}."))
        arguments: dict[str, Any] = {}
        for child in request:
            name = child.tag.partition("}")[2]
            if name == self.service:
                arguments[name] = self._record_of(child)
            else:
                arguments[name] = _typed(name, child.text or "", PAGE_FIELD_TYPES.get(name))
        return operation, arguments

    def _record_of(self, element: ET.Element) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for child in element:
            ns, _, name = child.tag[1:].partition("}")
            if ns != self.namespace or name not in self.fields:
                raise _CallFault(
                    _client(f"The element '{name}' is not a field of page {self.service}.")
                )
            record[name] = _typed(name, child.text or "", PAGE_FIELD_TYPES[name])
        return record

    def _create(self, arguments: dict[str, Any]) -> dict[str, Any]:
        record = dict(arguments.get(self.service) or {})
        record.pop("Key", None)
        entry = self._next_entry
        self._next_entry += 1
        record["Entry_No"] = entry
        record["Key"] = self._key(entry)
        self._table[entry] = record
        return {self.service: _ordered(record)}

    def _read(self, arguments: dict[str, Any]) -> dict[str, Any]:
        row = self._table.get(arguments.get("Entry_No", -1))
        return {self.service: _ordered(row)} if row else {}

    def _update(self, arguments: dict[str, Any]) -> dict[str, Any]:
        changes = dict(arguments.get(self.service) or {})
        row = self._by_key(changes.pop("Key", None))
        changes.pop("Entry_No", None)
        row.update(changes)
        row["Key"] = self._key(row["Entry_No"])
        return {self.service: _ordered(row)}

    def _delete(self, arguments: dict[str, Any]) -> dict[str, Any]:
        row = self._by_key(arguments.get("Key"))
        del self._table[row["Entry_No"]]
        return {"Delete_Result": True}

    def _by_key(self, key: str | None) -> dict[str, Any]:
        if not key:
            raise _CallFault(_broker(f"The {self.service} needs its Key; read it first."))
        entry = int(key.split(";", 1)[0]) if key.split(";", 1)[0].isdigit() else -1
        row = self._table.get(entry)
        if row is None:
            raise _CallFault(
                _broker(
                    f"The {self.service} does not exist. Identification fields and values: "
                    f"Entry No.='{entry}'"
                )
            )
        if row["Key"] != key:
            raise _CallFault(
                _broker(
                    f'Other user has modified "{self.service}" '
                    f"\"Entry No.='{entry}'\". Start again."
                )
            )
        return row

    def _key(self, entry: int) -> str:
        # Like BC: the primary key, encoded, then the row's timestamp, which
        # changes with every modification (so a stale Key is detected).
        self._timestamp += 1
        encoded = base64.b64encode(f"{self.service}:{entry}".encode()).decode()
        return f"{entry};{encoded};{self._timestamp};"


_OPERATIONS: dict[str, Callable[[SoapPageServer, dict[str, Any]], dict[str, Any]]] = {
    "Create": SoapPageServer._create,
    "Read": SoapPageServer._read,
    "Update": SoapPageServer._update,
    "Delete": SoapPageServer._delete,
}
_XML = "text/xml; charset=utf-8"


def _client(text: str) -> SoapFault:
    return SoapFault(text, faultcode="s:Client")


def _broker(text: str) -> SoapFault:
    return SoapFault(text)


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in PAGE_FIELDS if row.get(name) is not None}


def _typed(name: str, text: str, kind: str | None) -> Any:
    """The value of an element as the page's field type reads it; a fault when it cannot."""
    try:
        if kind == "boolean":
            if text not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text in ("true", "1")
        if kind == "int":
            return int(text)
        if kind == "decimal":
            return Decimal(text)
        if kind == "dateTime":
            datetime.fromisoformat(text)
            return text
    except (ValueError, InvalidOperation):
        raise _CallFault(
            _client(f"The value '{text}' of '{name}' is not a valid xsd:{kind}.")
        ) from None
    return text
