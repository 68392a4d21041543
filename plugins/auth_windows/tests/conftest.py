"""Fixtures for the Windows auth tests: a guarded loopback server and a stand-in pipeline.

The stand-in connector type (:mod:`writeback_testing.standin`) and format keep
these tests independent of the SOAP format and the bc/nav types: the format
posts the appointment as JSON with one requests Session per thread, as the SOAP
format does, so what is tested here is the auth methods on a real socket
against the real acceptors.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from writeback._outcome import classify_status, connection_failure
from writeback.plugin import (
    ApiFormatSpec,
    AttemptAuth,
    AttemptResult,
    Delivery,
    OutboundMessage,
    Pipeline,
    PipelineContext,
    PluginRegistry,
    ValidatedConnector,
)
from writeback_testing._server import LoopbackHandler, LoopbackServer
from writeback_testing.acceptors import Acceptor, auth_response_headers
from writeback_testing.standin import standin_connector, standin_registry


class GuardedServer(LoopbackServer):
    """Answers 200 with the principal's name to whoever ``acceptor`` lets in."""

    def __init__(self, acceptor: Acceptor) -> None:
        super().__init__()
        self.acceptor = acceptor
        self.accepted: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def handle_request(self, handler: LoopbackHandler) -> None:
        principal = self.acceptor.authenticate(handler)
        if principal is None:
            return
        with self._lock:
            self.accepted.append((handler.connection_id, principal))
        headers = [("Content-Type", "text/plain"), *auth_response_headers(self.acceptor, handler)]
        handler.respond(200, principal.encode(), headers)


class RequestsFormat:
    """A minimal requests-transport format: one Session per thread, auth from the mechanism."""

    def __init__(self, context: PipelineContext) -> None:
        self.context = context
        self._local = threading.local()
        self.sessions: list[Any] = []

    def session(self, auth: AttemptAuth) -> Any:
        import requests

        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False
            session.auth = auth.transport_auth("requests")
            self._local.session = session
            self.sessions.append(session)
        return session

    def post(self, message: OutboundMessage, auth: AttemptAuth) -> AttemptResult:
        import requests

        try:
            answer = self.session(auth).post(
                message.url, data=json.dumps(message.payload).encode(), timeout=10
            )
        except requests.ConnectionError as exc:
            return connection_failure(str(exc))
        return classify_status(answer.status_code, dict(answer.headers), answer.text)

    async def send(self, message: OutboundMessage, auth: AttemptAuth) -> AttemptResult:
        return await asyncio.to_thread(self.post, message, auth)

    async def aclose(self) -> None:
        for session in self.sessions:
            session.close()


DELIVERY = Delivery(
    id="dlv_1",
    event_id="evt_1",
    action="create",
    appointment={"appointmentNo": "A-1", "sourceApp": "CRONUSUS"},
    occurred_at=None,
)


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    """The installed ``ntlm`` and ``windows`` methods and the stand-ins, nothing else."""
    rawreq = ApiFormatSpec(
        name="rawreq", summary="JSON over requests", transport="requests", factory=RequestsFormat
    )
    return standin_registry(
        {"windows"}, methods=("ntlm", "windows"), formats=("rawreq",), api_formats=[rawreq]
    )


@pytest.fixture
def make_connector(registry: PluginRegistry) -> Callable[..., ValidatedConnector]:
    """``make_connector(method, uri=…, **auth_settings)``: a validated stand-in row."""

    def make(method: str, uri: str = "http://127.0.0.1:9/", **auth: Any) -> ValidatedConnector:
        return standin_connector(registry, method=method, api_format="rawreq", uri=uri, **auth)

    return make


def _deliver(connector: ValidatedConnector, count: int = 1) -> list[AttemptResult]:
    async def run() -> list[AttemptResult]:
        pipeline = Pipeline.build(connector)
        try:
            return [await pipeline.send(DELIVERY) for _ in range(count)]
        finally:
            await pipeline.aclose()

    return asyncio.run(run())


@pytest.fixture
def deliver() -> Callable[..., list[AttemptResult]]:
    """``deliver(connector, count=1)``: that many deliveries, one after the other, one pipeline."""
    return _deliver


@pytest.fixture
def make_session() -> Iterator[Callable[[Any], Any]]:
    """``make_session(auth)``: a requests Session (no proxies from the environment) using
    ``auth``; every one is closed after the test."""
    import requests

    made: list[requests.Session] = []

    def make(auth: Any) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        session.auth = auth
        made.append(session)
        return session

    yield make
    for session in made:
        session.close()


@pytest.fixture
def guarded_factory() -> Iterator[Callable[[Acceptor], GuardedServer]]:
    """Start :class:`GuardedServer` instances; all are stopped after the test."""
    servers: list[GuardedServer] = []

    def make(acceptor: Acceptor) -> GuardedServer:
        server = GuardedServer(acceptor).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
        assert server.errors == []
