"""One requests Session per worker thread, under one shared zeep Transport.

NTLM and Negotiate authenticate a TCP connection, not a request: a Session
shared by threads failed NTLM calls, one Session per thread none
(docs/architecture.md, "Transports").  The zeep ``Client`` (the parsed WSDL) is shared by
every thread of a connector, so its single :class:`PerThreadTransport` looks
the Session up per thread instead of holding one.

The Sessions follow no redirect, and their connections are cut when their
attempt's deadline passes; the transport reads at most a bounded prefix of
each answer (:mod:`._answers`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase
from requests.cookies import RequestsCookieJar, merge_cookies
from requests.hooks import default_hooks
from requests.sessions import merge_setting
from requests.structures import CaseInsensitiveDict
from writeback.plugin import redirect_target
from zeep.transports import Transport

from ._answers import (
    ANSWER_LIMIT,
    ERROR_BODY_LIMIT,
    WSDL_LIMIT,
    GuardedAdapter,
    NoRedirectSession,
    answer_limit,
    read_answer,
    same_origin,
    was_cut,
)

if TYPE_CHECKING:
    from writeback.plugin import AttemptAuth

__all__ = ["PerThreadTransport", "ThreadSessions"]


class ThreadSessions:
    """Makes and remembers the Session of each thread; closes them all at the end.

    :param verify: what requests verifies TLS with (a CA bundle path or True).
    :param proxies: the proxies for the connector's endpoint, read from the
        environment once (see :func:`writeback_soap._tls.environment_proxies`).
    :param headers: default headers of every Session.
    """

    def __init__(
        self, verify: str | bool, proxies: dict[str, str], headers: dict[str, str]
    ) -> None:
        self._verify = verify
        self._proxies = proxies
        self._headers = headers
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[requests.Session] = []
        # Bumped after a 401 so that each thread rebuilds a connection-bound auth
        # object once (re-reading an env: secret) while keeping its connection.
        self._generation = 0
        # Bumped by close(): Sessions of an earlier epoch are closed, not reused.
        self._epoch = 0

    def use(self, auth: AttemptAuth) -> requests.Session:
        """This thread's Session, carrying ``auth`` for the attempt about to run in it.

        Header credentials are set for this attempt only.  A connection-bound
        method's own object (``auth.transport_auth("requests")``) stays with the
        Session, and so with its authenticated connection, until :meth:`renew_auth`.
        """
        local = self._local
        if getattr(local, "auth_generation", None) != self._generation or not self._fresh():
            # First, so that a secret that cannot be revealed leaves nothing behind.
            local.native = auth.transport_auth("requests")
            local.auth_generation = self._generation
        session = self.current()
        native = local.native
        if native is not None:
            session.auth = native
        else:
            headers = auth.headers()
            session.auth = _HeaderAuth(headers) if headers else None
        return session

    def _fresh(self) -> bool:
        local = self._local
        return getattr(local, "session", None) is not None and local.epoch == self._epoch

    def current(self) -> requests.Session:
        """This thread's Session, made on first use."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None or self._local.epoch != self._epoch:
            session = NoRedirectSession()
            # The environment was read once for this connector (proxies, CA
            # bundle); requests would otherwise re-read all of os.environ on
            # every request, and let REQUESTS_CA_BUNDLE override ``verify``.
            session.trust_env = False
            session.verify = self._verify
            session.proxies = dict(self._proxies)
            session.headers.update(self._headers)
            # A thread has one request in flight: one kept-alive connection per
            # Session, so a connection-bound handshake happens once per thread.
            adapter = GuardedAdapter(pool_connections=1, pool_maxsize=1)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            with self._lock:
                self._all.append(session)
                self._local.epoch = self._epoch
            self._local.session = session
            self._local.templates = {}
        return session

    def renew_auth(self) -> None:
        """Ask every thread to rebuild its connection-bound auth object before its next
        attempt."""
        with self._lock:
            self._generation += 1

    def template(self, session: requests.Session, address: str, headers: Mapping[str, str]) -> Any:
        """The prepared template of this thread's POSTs to ``address`` with ``headers``
        (see :func:`prepared_from`), or ``None`` to prepare each in full."""
        templates: dict[Any, Any] = self._local.templates
        key = (address, tuple(headers.items()))
        found = templates.get(key, _NO_TEMPLATE)
        if found is _NO_TEMPLATE:
            if len(templates) >= _TEMPLATES:
                templates.clear()
            found = templates[key] = _template(session, address, headers)
        return found

    @property
    def count(self) -> int:
        """Sessions made so far (one per thread that sent)."""
        with self._lock:
            return len(self._all)

    def close(self) -> None:
        """Close every Session's connections; a later :meth:`current` makes a new one."""
        with self._lock:
            self._epoch += 1
            sessions, self._all = self._all, []
        for session in sessions:
            session.close()


_NO_TEMPLATE = object()
#: Templates kept per thread (one per address and header set: a few per connector).
_TEMPLATES = 16


def _template(session: requests.Session, address: str, headers: Mapping[str, str]) -> Any:
    """The parts of a POST to ``address`` that are the same for every call: the URL,
    parsed and quoted, and the headers merged with the Session's and checked.

    ``None`` when the address carries credentials (``user:pass@``): requests
    treats those per request, and so does the format then.
    """
    if "@" in urlsplit(address).netloc:
        return None
    template = requests.PreparedRequest()
    template.prepare(
        method="POST",
        url=address,
        headers=merge_setting(headers, session.headers, dict_class=CaseInsensitiveDict),
        params=session.params,
    )
    return template


def prepared_from(template: Any, session: requests.Session, body: bytes) -> Any:
    """A request prepared as ``session.post(address, data=body, headers=headers)``
    prepares it (the Session's cookies, auth and hooks, in requests' order), but
    from ``template`` instead of parsing the URL and merging the settings again,
    which cost more than the rest of the call (docs/benchmarks.md, "SOAP page")."""
    prepared = requests.PreparedRequest()
    prepared.method = template.method
    prepared.url = template.url
    prepared.headers = template.headers.copy()
    prepared.hooks = default_hooks()
    prepared.prepare_cookies(merge_cookies(RequestsCookieJar(), session.cookies))
    prepared.prepare_body(body, None)
    if session.auth is not None:
        prepared.prepare_auth(session.auth)
    prepared.prepare_hooks(session.hooks)
    return prepared


class _HeaderAuth(AuthBase):
    """Adds one attempt's credential headers to each request of its Session."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = headers

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(self._headers)
        return request


class PerThreadTransport(Transport):
    """A zeep Transport whose ``session`` is the calling thread's own.

    zeep's own ``__init__`` is not called: it would make (and own) one shared
    Session.  What it sets besides is set here, with the same names.

    :param origin: the connector's URI: the WSDL and whatever it imports are
        read from its origin only (with the connector's credentials).
    :param load_timeout: requests timeout for fetching the WSDL (and its imports).
    :param operation_timeout: requests timeout for each operation call.
    """

    def __init__(
        self,
        sessions: ThreadSessions,
        *,
        origin: str,
        load_timeout: float | tuple[float, float],
        operation_timeout: float | tuple[float, float],
    ) -> None:
        self.cache = None
        self.origin = origin
        self.load_timeout = load_timeout
        self.operation_timeout = operation_timeout
        self.logger = logging.getLogger("zeep.transports")
        self._close_session = False
        self.sessions = sessions

    @property  # type: ignore[override]
    def session(self) -> requests.Session:
        return self.sessions.current()

    def load(self, url: str) -> bytes:
        """A WSDL or schema document, from the connector's origin only.

        zeep would fetch an import from any host with the connector's
        credentials, and read a path without a scheme from the local disk.
        """
        if not same_origin(url, self.origin):
            raise ValueError(
                f"the WSDL refers to {redirect_target(url)}, outside the uri's origin, "
                "which is not read"
            )
        return self._load_remote_data(url)

    def _load_remote_data(self, url: str) -> bytes:
        with answer_limit(WSDL_LIMIT):
            response = self.session.get(url, timeout=self.load_timeout, stream=True)
        if not 200 <= response.status_code < 300:
            read_answer(response, ERROR_BODY_LIMIT)
            raise requests.HTTPError(f"HTTP {response.status_code}", response=response)
        read_answer(response, WSDL_LIMIT)
        if was_cut(response, WSDL_LIMIT):
            raise ValueError(f"the WSDL is larger than {WSDL_LIMIT // (1024 * 1024)} MiB")
        return response.content

    def post(self, address: str, message: bytes, headers: dict[str, str]) -> requests.Response:
        """Post an operation call; at most :data:`ANSWER_LIMIT` bytes of the answer are read."""
        session = self.session
        template = self.sessions.template(session, address, headers)
        if template is None:
            response = session.post(
                address, data=message, headers=headers, timeout=self.operation_timeout, stream=True
            )
        else:
            response = session.send(
                prepared_from(template, session, message),
                stream=True,
                timeout=self.operation_timeout,
                verify=session.verify,
                cert=session.cert,
                proxies=session.proxies,
            )
        read_answer(response, ANSWER_LIMIT)
        return response
