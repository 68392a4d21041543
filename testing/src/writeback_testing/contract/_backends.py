"""The loopback back offices the contract suites send to, behind one small interface.

Each suite check says what should go wrong (a :class:`Fault`) and the backend
turns it into its simulator's own plan: a ``Step`` for the webhook receiver, a
``SoapStep`` for the SOAP page, a ``BcStep`` for the Business Central API page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from writeback_testing.acceptors import Acceptor

__all__ = ["BACKENDS", "Backend", "BcApiBackend", "Fault", "ReceiverBackend", "SoapPageBackend"]

_READING = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Fault:
    """What the back office does with the next writing request.

    ``status`` answers that HTTP status (with ``text`` as the error the body
    carries); ``retry_after`` adds the header; ``delay`` waits that long first;
    ``drop`` resets the connection; ``soap_fault`` answers a SOAP fault
    (``writeback_testing.soap_page.SoapFault``, SOAP back offices only).
    """

    status: int | None = None
    text: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    drop: bool = False
    soap_fault: Any = None


class Backend:
    """A started simulator and what the suites ask of it."""

    #: The value of a suite's ``backend`` attribute that selects this class.
    name = ""

    def __init__(self, acceptor: Acceptor | None = None) -> None:
        #: What checks the credentials (None: anyone is let in).
        self.acceptor = acceptor
        self.server: Any = self._start(acceptor)

    def _start(self, acceptor: Acceptor | None) -> Any:
        raise NotImplementedError

    @property
    def uri(self) -> str:
        """What a connector row's ``uri`` is."""
        raise NotImplementedError

    def fail_next(self, *faults: Fault) -> None:
        """Answer the next writing requests with ``faults``, one each, then normally."""
        raise NotImplementedError

    def echo(self) -> None:
        """Refuse writing requests with 400, quoting the request back (as careless servers do)."""
        raise NotImplementedError

    def effects(self) -> Any:
        """A snapshot of what the back office holds or was asked to change."""
        raise NotImplementedError

    def arrived(self) -> int:
        """Writing requests that reached the back office (answered or not)."""
        raise NotImplementedError

    def credentials_seen(self) -> list[str]:
        """``Authorization`` values the back office received (where it can tell)."""
        return []

    def stop(self) -> None:
        self.server.stop()


class ReceiverBackend(Backend):
    """:class:`~writeback_testing.WebhookReceiver`: any HTTP endpoint; faults apply to POSTs."""

    name = "receiver"

    def _start(self, acceptor: Acceptor | None) -> Any:
        from writeback_testing.webhook import WebhookReceiver

        return WebhookReceiver(auth=acceptor).start()

    @property
    def uri(self) -> str:
        return self.server.url + "/contract/hook"

    def fail_next(self, *faults: Fault) -> None:
        from writeback_testing.webhook import Step

        steps = []
        for fault in faults:
            body = None
            if fault.text is not None:
                body = {"error": {"code": "ContractCheck", "message": fault.text}}
            steps.append(
                Step(
                    fault.status or 200,
                    retry_after=fault.retry_after,
                    delay=fault.delay,
                    drop=fault.drop,
                    body=body,
                )
            )
        self.server.set_plan(steps)

    def echo(self) -> None:
        from writeback_testing.webhook import echo

        self.server.set_plan(echo(400))

    def effects(self) -> Any:
        return [
            (r.method, r.path, r.body) for r in self.server.requests if r.method not in _READING
        ]

    def arrived(self) -> int:
        return sum(1 for r in self.server.requests if r.method not in _READING)

    def credentials_seen(self) -> list[str]:
        return [
            r.headers["authorization"] for r in self.server.requests if "authorization" in r.headers
        ]


class SoapPageBackend(Backend):
    """:class:`~writeback_testing.soap_page.SoapPageServer`: a BC/NAV page web service."""

    name = "soap_page"

    def _start(self, acceptor: Acceptor | None) -> Any:
        from writeback_testing.soap_page import SoapPageServer

        return SoapPageServer(auth=acceptor).start()

    @property
    def uri(self) -> str:
        return str(self.server.page_url)

    def fail_next(self, *faults: Fault) -> None:
        from writeback_testing.soap_page import SoapStep

        self.server.set_plan(
            [
                SoapStep(
                    fault=f.soap_fault,
                    status=f.status,
                    retry_after=f.retry_after,
                    delay=f.delay,
                    drop=f.drop,
                    body=None if f.text is None else f.text.encode(),
                )
                for f in faults
            ]
        )

    def echo(self) -> None:
        from writeback_testing.soap_page import SoapStep

        def quote(call: Any) -> Any:
            return SoapStep(status=400, body=b"Bad Request: you sent " + call.body)

        self.server.set_plan(quote)

    def effects(self) -> Any:
        return self.server.records

    def arrived(self) -> int:
        return sum(1 for c in self.server.calls if c.operation != "Read")


class BcApiBackend(Backend):
    """:class:`~writeback_testing.bc_api.BcApiServer`: Business Central's staging API page."""

    name = "bc_api"

    def _start(self, acceptor: Acceptor | None) -> Any:
        from writeback_testing.bc_api import BcApiServer

        return BcApiServer(auth=acceptor).start()

    @property
    def uri(self) -> str:
        return str(self.server.endpoint)

    def fail_next(self, *faults: Fault) -> None:
        from writeback_testing.bc_api import BcStep

        self.server.set_plan(
            [
                BcStep(
                    status=f.status,
                    message=f.text,
                    retry_after=f.retry_after,
                    delay=f.delay,
                    drop=f.drop,
                )
                for f in faults
            ]
        )

    def echo(self) -> None:
        from writeback_testing.bc_api import BcStep

        def quote(request: Any) -> Any:
            if request.method in _READING:
                return None
            sent = request.headers.get("authorization", "")
            text = request.body.decode("utf-8", "replace")
            return BcStep(status=400, message=f"you sent {sent} {text}")

        self.server.set_plan(quote)

    def effects(self) -> Any:
        return [(row.id, row.version) for row in self.server.rows]

    def arrived(self) -> int:
        return sum(1 for r in self.server.requests if r.method not in _READING)

    def credentials_seen(self) -> list[str]:
        return [
            r.headers["authorization"] for r in self.server.requests if "authorization" in r.headers
        ]


#: A suite's ``backend`` attribute -> the class it selects.
BACKENDS: dict[str, Callable[..., Backend]] = {
    cls.name: cls for cls in (ReceiverBackend, SoapPageBackend, BcApiBackend)
}
