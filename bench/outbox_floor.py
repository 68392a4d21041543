"""The floor: the least any outbox that keeps every attempt on record must do.

``bench_outbox.py`` compares the outbox with raw httpx, which keeps nothing.
This is a second baseline between the two: the same raw client, but each
process reads its payloads from the same database (all of its share in one
query) and records every response there, in one transaction per concurrency's
worth of results (the attempts as rows, the deliveries' status changed), in a
task of its own while the requests go on, on the outbox's settings (SQLite in
WAL with ``synchronous=NORMAL``, PostgreSQL with ``synchronous_commit=off``).
It has none of the rest: no claims or leases (each process owns a fixed range
of rows, so it cannot share work or survive a crash), no order per
appointment, no coalescing, no retries, no throttling, no signatures.  What
the outbox costs beyond this floor is the price of those; what the floor costs
below raw httpx, any outbox that records its attempts pays on this machine.

Payloads are stored as the envelopes raw httpx posts, so the floor builds
nothing per delivery.  The database runs on the same cores as the client.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from typing import Any

#: How the baseline processes (raw httpx and the floor) are started: as fresh
#: interpreters, as the ``writeback worker`` processes are.  A fork would carry
#: whatever the benchmark's own process had imported (SQLAlchemy, the
#: PostgreSQL helpers) into the baseline, for its collector to walk.
CLIENT_PROCESSES = multiprocessing.get_context("spawn")

SCHEMA = [
    "CREATE TABLE floor_deliveries (id INTEGER PRIMARY KEY, body {blob} NOT NULL, "
    "status TEXT NOT NULL DEFAULT 'pending')",
    "CREATE TABLE floor_attempts (id {serial} PRIMARY KEY, delivery_id INTEGER NOT NULL, "
    "status_code INTEGER NOT NULL, started_at DOUBLE PRECISION NOT NULL, "
    "ended_at DOUBLE PRECISION NOT NULL)",
]


def _conninfo(db: str) -> str:
    """libpq's form of a SQLAlchemy ``postgresql+psycopg://`` URL."""
    from sqlalchemy.engine import make_url

    return make_url(db).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(db: str) -> str:
    """The file of a ``sqlite:///path`` URL (the benchmarks make only such)."""
    return db.removeprefix("sqlite:///")


def prepare(db: str, bodies: list[bytes]) -> None:
    """Create the floor's tables in ``db`` (a new database) and store ``bodies``."""
    rows = [(i + 1, body) for i, body in enumerate(bodies)]
    if db.startswith("sqlite"):
        conn = sqlite3.connect(_sqlite_path(db))
        conn.execute("PRAGMA journal_mode=WAL")
        for statement in SCHEMA:
            conn.execute(statement.format(blob="BLOB", serial="INTEGER"))
        conn.executemany("INSERT INTO floor_deliveries (id, body) VALUES (?, ?)", rows)
        conn.commit()
        conn.close()
        return
    import psycopg

    with psycopg.connect(_conninfo(db)) as conn:
        for statement in SCHEMA:
            conn.execute(statement.format(blob="BYTEA", serial="BIGSERIAL"))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO floor_deliveries (id, body) VALUES (%s, %s)", rows)


class _SQLite:
    """One transaction per batch, on the loop's thread (as the outbox's SQLite claims)."""

    marker = "?"

    async def open(self, db: str) -> None:
        self.conn = sqlite3.connect(_sqlite_path(db), isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=30000")

    @staticmethod
    def record_steps(batch: list[tuple[int, int, float, float]]) -> list[tuple[str, Any, bool]]:
        """Insert the attempts, mark the deliveries: ``executemany``, which costs
        SQLite less than reading the batch from one JSON parameter (measured)."""
        return [
            (
                "INSERT INTO floor_attempts (delivery_id, status_code, started_at, ended_at) "
                "VALUES (?, ?, ?, ?)",
                batch,
                True,
            ),
            (
                "UPDATE floor_deliveries SET status = 'delivered' WHERE id = ?",
                [(row[0],) for row in batch],
                True,
            ),
        ]

    async def transact(self, steps: list[tuple[str, Any, bool]]) -> list[tuple[Any, ...]]:
        self.conn.execute("BEGIN IMMEDIATE")
        rows: list[tuple[Any, ...]] = []
        for sql, params, many in steps:
            if many:
                self.conn.executemany(sql, params)
            else:
                rows = self.conn.execute(sql, params).fetchall()
        self.conn.execute("COMMIT")
        return rows

    async def close(self) -> None:
        self.conn.close()


class _PostgreSQL:
    """One transaction per batch, on psycopg's asyncio connection (as the outbox's)."""

    marker = "%s"

    async def open(self, db: str) -> None:
        import psycopg

        self.conn = await psycopg.AsyncConnection.connect(
            _conninfo(db), options="-c synchronous_commit=off"
        )

    @staticmethod
    def record_steps(batch: list[tuple[int, int, float, float]]) -> list[tuple[str, Any, bool]]:
        """Insert the attempts, mark the deliveries: one statement each, with the
        batch as arrays (as the outbox, whose executemany cost psycopg ~15 µs of
        CPU per row)."""
        ids, codes, began, ended = (list(column) for column in zip(*batch, strict=True))
        return [
            (
                "INSERT INTO floor_attempts (delivery_id, status_code, started_at, ended_at) "
                "SELECT * FROM unnest(%s::int[], %s::int[], %s::float8[], %s::float8[])",
                (ids, codes, began, ended),
                False,
            ),
            ("UPDATE floor_deliveries SET status = 'delivered' WHERE id = ANY(%s)", (ids,), False),
        ]

    async def transact(self, steps: list[tuple[str, Any, bool]]) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        async with self.conn.transaction(), self.conn.cursor() as cur:
            for sql, params, many in steps:
                if many:
                    await cur.executemany(sql, params)
                else:
                    await cur.execute(sql, params)
                    rows = await cur.fetchall() if cur.description else []
        return rows

    async def close(self) -> None:
        await self.conn.close()


def wait_for_start(start_at: float, on_start: Callable[[], None] | None = None) -> float:
    """Sleep until ``start_at``, which must not have passed: a share that starts late
    would make its side look slower than it is.  Calls ``on_start`` then; returns
    the start time."""
    late = time.time() - start_at
    assert late < 0, f"a process was ready {late:.3f} s after the common start"
    time.sleep(-late)
    if on_start is not None:
        on_start()
    return time.time()


async def run_share(
    db: str,
    url: str,
    first: int,
    last: int,
    concurrency: int,
    start_at: float,
    on_start: Callable[[], None] | None = None,
) -> tuple[float, float, list[float]]:
    """Deliver rows ``first``..``last``: (start, end, each completion's time).
    ``on_start``: called at the start."""
    import httpx

    store = _SQLite() if db.startswith("sqlite") else _PostgreSQL()
    await store.open(db)
    m = store.marker
    read = f"SELECT id, body FROM floor_deliveries WHERE id >= {m} AND id <= {m} ORDER BY id"
    ready: deque[tuple[int, bytes]] = deque()
    finished: list[tuple[int, int, float, float]] = []
    done: list[float] = []
    closing = False
    batch_ended = asyncio.Event()  # a concurrency's worth of results to record

    async def bookkeeper() -> None:
        """Record what ended, a transaction per concurrency's worth of results,
        while the runners go on sending (as the outbox's worker records)."""
        nonlocal finished
        while not closing or finished:
            await batch_ended.wait()
            batch_ended.clear()
            batch, finished = finished, []
            if batch:
                await store.transact(store.record_steps(batch))

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def runner() -> None:
            while ready:
                row_id, body = ready.popleft()
                headers = {
                    "content-type": "application/json",
                    "webhook-id": f"floor_{row_id}",
                    "webhook-timestamp": str(int(time.time())),
                }
                began = time.time()
                response = await client.post(url, content=body, headers=headers)
                response.raise_for_status()
                ended = time.time()
                finished.append((row_id, response.status_code, began, ended))
                done.append(ended)
                if len(finished) >= concurrency:
                    batch_ended.set()

        # The client made and the database open, all processes start together
        # (blocking: nothing runs on the loop yet).
        started = wait_for_start(start_at, on_start)
        # One read for the whole share: the least reading an outbox can do.
        rows = await store.transact([(read, (first, last), False)])
        ready.extend((row_id, bytes(body)) for row_id, body in rows)
        keeper = asyncio.create_task(bookkeeper())
        await asyncio.gather(*(runner() for _ in range(concurrency)))
        closing = True
        batch_ended.set()
        await keeper
        ended = time.time()
    await store.close()
    return started, ended, done


def _share(
    db: str, url: str, first: int, last: int, concurrency: int, start_at: float, out: Any
) -> None:
    out.put(asyncio.run(run_share(db, url, first, last, concurrency, start_at)))


def floor_run(
    db: str, url: str, n: int, concurrency: int, processes: int, *, start_at: float
) -> tuple[float, list[float]]:
    """Deliver the ``n`` rows :func:`prepare` stored, in ``processes`` processes of
    ``concurrency`` each: (requests/s over the whole run, every completion's time)."""
    out: multiprocessing.Queue = CLIENT_PROCESSES.Queue()  # type: ignore[type-arg]
    size = -(-n // processes)
    procs = [
        CLIENT_PROCESSES.Process(
            target=_share,
            args=(db, url, 1 + i * size, min(n, (i + 1) * size), concurrency, start_at, out),
        )
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    spans = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    whole = n / (max(e for _, e, _ in spans) - min(s for s, _, _ in spans))
    return whole, [t for _, _, done in spans for t in done]
