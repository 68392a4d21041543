"""The service's hold on the store: the host API's ``AsyncDispatcher``, the API
keys, readiness, and the translation of the core's errors into HTTP answers.

Request handlers reach the store only through here, and every call here is
awaited off the event loop: the dispatcher runs its database calls in its own
thread pool, and the few queries of the service's own (keys, readiness, the
metrics' gauges) run in Starlette's.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, select, text
from starlette.concurrency import run_in_threadpool
from writeback import AsyncDispatcher, InvalidConnectorError, InvalidEventError, WritebackError

from ._errors import ApiError
from ._keys import ApiKey, ApiKeys
from ._metrics import StoreCollector

__all__ = ["Service", "WorkerOptions", "api_errors"]

T = TypeVar("T")

_metadata = MetaData()
#: The columns of the core's ``tokens`` table the metrics read: its key starts
#: with the connector's name, and ``generation`` counts the tokens stored under it.
_tokens = Table(
    "tokens",
    _metadata,
    Column("key", String(200), primary_key=True),
    Column("generation", Integer, nullable=False),
)

#: Core error codes that are the client's input being invalid (422), or naming
#: something that does not exist (404).
_INVALID = {"WB-101", "WB-102", "WB-103", "WB-104"}
_NOT_FOUND = {"WB-106", "WB-107"}


@dataclass(frozen=True)
class WorkerOptions:
    """``serve --worker``: a worker on the service's own loop."""

    concurrency: int = 8
    #: Seconds in-flight attempts may take to end on shutdown.
    grace: float = 30.0
    #: Seconds between looks for work nobody announced: submits through this
    #: service wake the worker at once (the store's ``queued`` signal), and on
    #: PostgreSQL so do other processes' (LISTEN/NOTIFY).
    poll_interval: float = 0.5


@contextlib.contextmanager
def api_errors() -> Any:
    """Turn the core's errors into HTTP answers: 422 invalid input (with the
    problems), 404 unknown, 400 other bad input, 503 the store, 500 the rest."""
    try:
        yield
    except (InvalidEventError, InvalidConnectorError) as exc:
        raise ApiError(422, exc.code, exc.message, problems=_problems(exc)) from None
    except WritebackError as exc:
        code = getattr(exc, "code", "WB-000")
        if code in _INVALID:
            raise ApiError(422, code, exc.message, problems=[exc.message]) from None
        if code in _NOT_FOUND:
            raise ApiError(404, code, exc.message) from None
        if code.startswith("WB-4"):
            raise ApiError(503, code, exc.message) from None
        if code.startswith(("WB-1", "WB-2")):
            raise ApiError(400, code, exc.message) from None
        raise ApiError(500, code, exc.message) from None


def _problems(exc: InvalidEventError | InvalidConnectorError) -> list[str]:
    """Each problem as a sentence that stands alone: the message's prefix
    (``event #3:``, ``connector 'x':``) given to each."""
    joined = " ".join(exc.problems)
    prefix = exc.message[: len(exc.message) - len(joined)] if exc.message.endswith(joined) else ""
    return [prefix + p for p in exc.problems] or [exc.message]


@dataclass
class Service:
    """What one running service holds: the dispatcher, the keys, its options."""

    db_url: str | None
    max_body: int
    worker_options: WorkerOptions | None = None
    host: AsyncDispatcher | None = None
    keys: ApiKeys | None = None
    #: The schema revision the store had when the service opened it (and
    #: migrated it): the revision this code expects.
    schema_revision: str | None = None
    metrics_registry: CollectorRegistry | None = None
    _runner: Any = field(default=None, repr=False)

    # -- lifetime -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Service]:
        """Open the store (and start the worker); on the way out stop it gracefully."""
        self.host = await AsyncDispatcher.open(self.db_url)
        engine = self.engine
        self.keys = ApiKeys(engine)
        self.schema_revision = await run_in_threadpool(_revision, engine)
        self.metrics_registry = CollectorRegistry(auto_describe=False)
        self.metrics_registry.register(StoreCollector(self._store_figures))
        if self.worker_options is not None:
            self._runner = self.host.start_worker(
                concurrency=self.worker_options.concurrency,
                grace_seconds=self.worker_options.grace,
                poll_interval=self.worker_options.poll_interval,
            )
        try:
            yield self
        finally:
            if self._runner is not None and self._runner.running:
                await self._runner.stop(grace=self.worker_options.grace)
            await self.host.aclose()

    def circuits(self) -> dict[str, str] | None:
        """The in-process worker's circuit per connector name (``serve --worker``);
        None when this process runs no worker (the circuits are other processes')."""
        if self._runner is None or not self._runner.running:
            return None
        return self._runner.circuits()

    @property
    def engine(self) -> Engine:
        assert self.host is not None, "the service is not running"
        return self.host.dispatcher.store.engine

    @property
    def dispatcher(self) -> AsyncDispatcher:
        assert self.host is not None, "the service is not running"
        return self.host

    # -- calls ----------------------------------------------------------------------

    async def call(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await a host API call, its errors turned into HTTP answers."""
        with api_errors():
            return await fn(*args, **kwargs)

    async def verify_key(self, key: str) -> ApiKey | None:
        assert self.keys is not None
        return await run_in_threadpool(self.keys.verify, key)

    async def readiness(self) -> str | None:
        """Why the service is not ready, or None when it is."""
        try:
            found = await run_in_threadpool(_revision, self.engine)
        except Exception as exc:
            return f"the store does not answer ({type(exc).__name__})."
        if found != self.schema_revision:
            return (
                f"the store's schema is at revision {found}, this service expects "
                f"{self.schema_revision}; run 'writeback db upgrade' or restart the service "
                "with the release that matches."
            )
        return None

    def _store_figures(self) -> tuple[Any, dict[str, bool], dict[str, int]]:
        sync = self.dispatcher.dispatcher
        stats = sync.deliveries.stats()
        paused = {c.name: bool(getattr(c, "paused", False)) for c in sync.connectors.list()}
        tokens: dict[str, int] = {}
        with self.engine.begin() as conn:
            for key, generation in conn.execute(select(_tokens.c.key, _tokens.c.generation)):
                # The key is "<connector name>|<method>|<digest>" (names may hold '|').
                name = str(key).rsplit("|", 2)[0]
                tokens[name] = tokens.get(name, 0) + int(generation or 0)
        return stats, paused, tokens


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
