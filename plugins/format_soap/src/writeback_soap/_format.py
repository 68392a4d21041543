"""The working ``soap`` format: calls one connector's page operations with zeep.

Per connector: one zeep ``Client`` (the WSDL fetched from the connector's URI
once, with the auth applied, and parsed once), shared by a small pool of worker
threads, each with its own requests Session (see :mod:`._sessions`).  ``send``
runs a blocking call in that pool, so the worker's event loop is never blocked.

``timeout`` is the deadline of a whole attempt (:class:`writeback.plugin.Deadline`,
its timer on the worker's event loop); no redirect
is followed and at most a bounded prefix of an answer is read (:mod:`._answers`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from typing import TYPE_CHECKING, Any

import requests
import writeback
import zeep
import zeep.exceptions
from writeback.plugin import (
    NO_AUTH,
    AttemptAuth,
    AttemptResult,
    Deadline,
    DeadlinePassed,
    OutboundMessage,
    Outcome,
    classify_status,
    connection_failure,
    current_deadline,
    deadline_passed,
    endpoint_of,
    secret_safe_logger,
)

from ._answers import answer_text, read_answer, was_cut
from ._classify import (
    CODE_NO_OPERATION,
    CODE_NOT_SOAP,
    CODE_RECORD,
    CODE_WSDL_FETCH,
    CODE_WSDL_INVALID,
    fault_result,
    short,
)
from ._describe import describe_connection_error, describe_timeout
from ._page import Page, PageError
from ._sessions import PerThreadTransport, ThreadSessions
from ._threads import ThreadBridge
from ._tls import environment_proxies, verify_setting
from ._watchdog import Watchdog

if TYPE_CHECKING:
    from writeback import Throttle
    from writeback.plugin import PipelineContext

__all__ = ["CONNECT_TIMEOUT", "DEFAULT_TIMEOUT", "SoapFormat", "pool_size"]

log = secret_safe_logger("writeback.soap")

#: Seconds a whole attempt may take when the connector type sets no ``timeout``
#: (also the longest wait for each read).
DEFAULT_TIMEOUT = 30.0
#: Seconds to wait for a TCP (and TLS) connection, at most the read timeout.
CONNECT_TIMEOUT = 10.0


def pool_size(throttle: Throttle | None) -> int:
    """Worker threads (and so Sessions, connections) per connector: the throttle's
    concurrency, 8 when unset, 1 to 16.

    Each thread holds one kept-alive, possibly NTLM-authenticated connection;
    more than 16 buys nothing from a single page endpoint on a Python client:
    requests' throughput stopped growing near 8 threads (docs/benchmarks.md,
    "The soap format").
    """
    wanted = throttle.max_concurrency if throttle is not None else None
    return min(max(wanted or 8, 1), 16)


class _Unusable(Exception):
    """The WSDL could not be had; carries the attempt result that says why."""

    def __init__(self, result: AttemptResult) -> None:
        super().__init__(result.error)
        self.result = result


class SoapFormat:
    """One connector's SOAP sender: a shared zeep Client, one Session per thread."""

    def __init__(self, context: PipelineContext) -> None:
        self.context = context
        self.uri = context.connector.uri
        read = float(context.timeout)
        self.timeout = read
        self._timeouts = (min(CONNECT_TIMEOUT, read), read)
        self.workers = pool_size(context.throttle or context.connector.throttle)
        self.sessions = ThreadSessions(
            verify_setting(),
            environment_proxies(self.uri),
            {"User-Agent": f"writeback/{writeback.__version__}"},
        )
        self.transport = PerThreadTransport(
            self.sessions,
            origin=self.uri,
            load_timeout=self._timeouts,
            operation_timeout=self._timeouts,
        )
        self._threads: ThreadBridge | None = None
        self._page: Page | None = None
        self._page_lock = threading.Lock()
        #: How many times the WSDL was fetched (successfully); 1 in steady state.
        self.wsdl_loads = 0

    def _pool(self) -> ThreadBridge:
        if self._threads is None:
            self._threads = ThreadBridge(
                self.workers, f"writeback-soap:{self.context.connector.name}"
            )
        return self._threads

    async def send(self, message: OutboundMessage, auth: AttemptAuth = NO_AUTH) -> AttemptResult:
        """Send ``message`` once with ``auth``'s credentials in a worker thread and
        classify the answer.

        With an ``operation`` the page operation is called with ``payload`` as
        the record; without one, a plain authenticated HTTP request is made
        (``connectors test`` fetches the WSDL that way).
        """
        loop = asyncio.get_running_loop()
        deadline = Deadline(self.timeout)
        # The loop's timer is armed here, in the loop's thread: armed from the
        # worker thread it would cost a wake-up of the loop per attempt.
        watchdog = Watchdog(loop, deadline)
        call = functools.partial(self.send_sync, message, auth, deadline)
        try:
            return await self._pool().run(call)
        finally:
            watchdog.cancel()

    def send_sync(
        self,
        message: OutboundMessage,
        auth: AttemptAuth = NO_AUTH,
        deadline: Deadline | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> AttemptResult:
        """The blocking body of :meth:`send`; runs in one of the connector's threads.

        :param loop: an event loop whose timer is to cut the attempt at its
            deadline (:meth:`send` arms its own instead; with neither, only the
            body reader checks the clock).
        """
        # Everything this thread sends in the attempt (the WSDL, the call) carries it.
        self.sessions.use(auth)
        deadline = deadline or Deadline(self.timeout)
        deadline.start(loop)
        with deadline.applied():
            if message.operation is None:
                result = self._plain(message)
            else:
                try:
                    page = self._load_page()
                    result = self._call(page, message)
                except _Unusable as exc:
                    result = exc.result
        if result.status_code == 401:
            # Header credentials are the pipeline's to refresh; a connection-bound
            # object is rebuilt by each thread before its next attempt (an env:
            # secret changed meanwhile is read again).
            self.sessions.renew_auth()
        return result

    def _plain(self, message: OutboundMessage) -> AttemptResult:
        session = self.sessions.current()
        try:
            response = session.request(
                message.method.upper(),
                message.url,
                headers=message.headers,
                data=message.content,
                timeout=self._timeouts,
                stream=True,
            )
            read_answer(response)
        except requests.RequestException as exc:
            return self._failure(exc, message.url)
        text = None if response.ok else answer_text(response)
        return classify_status(response.status_code, response.headers, text, url=message.url)

    def _load_page(self) -> Page:
        page = self._page
        if page is not None:
            return page
        # One thread fetches; the others wait for it rather than fetching too.
        with self._page_lock:
            if self._page is None:
                self._page = self._fetch_page()
                self.wsdl_loads += 1
            return self._page

    def _fetch_page(self) -> Page:
        where = endpoint_of(self.uri)
        try:
            # Raw responses, so that the status and Retry-After reach the
            # classification; PageOperation.read_reply parses the reply after.
            settings = zeep.Settings(raw_response=True)
            client = zeep.Client(self.uri, transport=self.transport, settings=settings)
            return Page(client, self.uri)
        except requests.HTTPError as exc:
            answer = exc.response
            if answer is None:
                raise _Unusable(connection_failure(f"fetching the WSDL: {exc}")) from None
            text = answer_text(answer)
            verdict = classify_status(answer.status_code, answer.headers, text, url=self.uri)
            if verdict.outcome is Outcome.DELIVERED:  # a 2xx cannot raise; be safe anyway
                verdict = AttemptResult(Outcome.FAILED, status_code=answer.status_code)
            error = (
                f"{CODE_WSDL_FETCH}: the WSDL could not be fetched from {where}: {verdict.error}"
            )
            raise _Unusable(_with_error(verdict, error, CODE_WSDL_FETCH)) from None
        except requests.RequestException as exc:
            raise _Unusable(self._failure(exc, self.uri, "fetching the WSDL: ")) from None
        except (zeep.exceptions.Error, ValueError, LookupError) as exc:
            # lxml's XMLSyntaxError is a ValueError; a WSDL without the parts a
            # page has raises zeep's own errors.
            raise _Unusable(
                AttemptResult(
                    Outcome.FAILED,
                    status_code=200,
                    error=f"{CODE_WSDL_INVALID}: {where} did not answer with a usable WSDL "
                    f"({short(str(exc), 200)}); check that the uri is the page's "
                    "web service URL.",
                    code=CODE_WSDL_INVALID,
                )
            ) from None

    def _call(self, page: Page, message: OutboundMessage) -> AttemptResult:
        assert message.operation is not None
        try:
            operation = page.operation(message.operation)
            arguments = operation.arguments(message.payload)
        except PageError as exc:
            code = CODE_NO_OPERATION if exc.missing_operation else CODE_RECORD
            return AttemptResult(Outcome.FAILED, error=f"{code}: {exc}", code=code)
        if log.isEnabledFor(logging.DEBUG) and (
            dropped := operation.dropped_fields(message.payload)
        ):
            log.debug(
                "connector %s: the page's %s does not define %s; left out",
                self.context.connector.name,
                operation.name,
                ", ".join(sorted(dropped)),
            )
        try:
            response = operation.call(message.url, arguments)
        except requests.RequestException as exc:
            return self._failure(exc, message.url)
        except (zeep.exceptions.ValidationError, TypeError, ValueError) as exc:
            return AttemptResult(
                Outcome.FAILED,
                error=f"{CODE_RECORD}: the record cannot be encoded for operation "
                f"{operation.name!r}: {short(str(exc), 200)}",
                code=CODE_RECORD,
            )
        return self._judge(operation, response)

    def _judge(self, operation: Any, response: requests.Response) -> AttemptResult:
        status = response.status_code
        headers = response.headers
        is_xml = "xml" in headers.get("Content-Type", "").lower()
        url = response.url
        if was_cut(response):
            # Too long to read whole: the status has the last word, a 200 that
            # the call was made, any other that it was not.
            is_xml = False
            if status == 200:
                return AttemptResult(Outcome.DELIVERED, status_code=status, headers=_lower(headers))
        if status != 200 and not (status == 500 and is_xml):
            return classify_status(status, headers, answer_text(response), url=url)
        try:
            operation.read_reply(response)
        except zeep.exceptions.Fault as fault:
            return fault_result(fault.code, fault.message, status, headers)
        except (zeep.exceptions.Error, ValueError, LookupError) as exc:
            if status != 200:
                return classify_status(status, headers, answer_text(response), url=url)
            return AttemptResult(
                Outcome.FAILED,
                status_code=status,
                error=f"{CODE_NOT_SOAP}: the answer to {operation.name!r} is not a SOAP "
                f"response the page's WSDL describes ({short(str(exc), 200)}).",
                headers=_lower(headers),
                code=CODE_NOT_SOAP,
            )
        if status != 200:  # a 500 with an envelope but no Fault element
            return classify_status(status, headers, answer_text(response), url=url)
        return AttemptResult(Outcome.DELIVERED, status_code=status, headers=_lower(headers))

    def _failure(self, exc: requests.RequestException, url: str, prefix: str = "") -> AttemptResult:
        """A request that got no (complete) answer: past the deadline, timed out, or failed."""
        deadline = current_deadline()
        if isinstance(exc, DeadlinePassed) or (deadline is not None and deadline.over()):
            return deadline_passed(self.timeout, url, prefix=prefix)
        if isinstance(exc, requests.Timeout):
            text = describe_timeout(exc, url, self._timeouts)
            return connection_failure(f"{prefix}{text}", timeout=True)
        return connection_failure(f"{prefix}{describe_connection_error(exc, url)}")

    async def aclose(self) -> None:
        """Stop the threads and close every Session; a later send starts afresh."""
        threads, self._threads = self._threads, None
        if threads is not None:
            await asyncio.get_running_loop().run_in_executor(None, threads.close)
        self.sessions.close()


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _with_error(result: AttemptResult, error: str, code: str) -> AttemptResult:
    return AttemptResult(
        result.outcome,
        status_code=result.status_code,
        error=error,
        retry_after=result.retry_after,
        headers=result.headers,
        code=code,
    )
