"""Delivered/s through the outbox vs raw httpx posting the same payloads, in one run.

Usage: ``python bench/bench_outbox.py [--n 3000] [--concurrency 8] [--workers 1 3]
[--postgresql]``.  Prints a markdown table of ratios (ours / raw httpx), and of
ours against the floor (``outbox_floor.py``): raw httpx that also reads its
payloads from the same database and records every attempt there, the least any
outbox with every attempt on record does.

Both sides post the same webhook envelopes to the same receiver, which runs in
a process of its own; the raw side is ``httpx.AsyncClient`` in as many
processes, at the same concurrency each, as there are ``writeback worker``
processes on our side.  Our rate counts from the first attempt's start to the
last attempt's end as recorded in the store, so process start-up and the
submission of the events (timed separately) are left out of both: the
deliveries become due only ``WORKER_START_ALLOWANCE`` seconds after the worker
processes are started, so that they all begin at once, and the raw and floor
processes, once their clients are made, wait for a common start likewise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from outbox_floor import CLIENT_PROCESSES, floor_run, prepare, wait_for_start

ROOT = Path(__file__).resolve().parent.parent
#: Seconds the worker processes get to start (import, connect) before any
#: delivery is due: three starting at once took 1.0 s here (one alone 0.6 s).
WORKER_START_ALLOWANCE = 3.0
#: The same for the raw and floor processes (fresh interpreters, as the workers
#: are: ``CLIENT_PROCESSES``): each imports httpx, makes its client (and opens its
#: database), then waits for the common start.
CLIENT_START_ALLOWANCE = 1.0


def _receiver(queue: multiprocessing.Queue, delay: float) -> None:  # type: ignore[type-arg]
    from writeback_testing import WebhookReceiver

    with WebhookReceiver(default_delay=delay) as receiver:
        queue.put(receiver.url)
        while True:
            time.sleep(3600)


def start_receiver(delay: float = 0.0) -> tuple[multiprocessing.Process, str]:
    """A receiver in its own process; ``delay``: seconds it takes to answer."""
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    process = multiprocessing.Process(target=_receiver, args=(queue, delay), daemon=True)
    process.start()
    return process, queue.get(timeout=30)


def raw_share(
    url: str,
    bodies: list[bytes],
    concurrency: int,
    start_at: float,
    out: multiprocessing.Queue,  # type: ignore[type-arg]
    on_start: Callable[[], None] | None = None,
) -> None:
    """Post ``bodies`` from ``concurrency`` tasks from ``start_at``; put (start, end,
    each completion's time) in ``out``.  ``on_start``: called at the start."""
    import httpx

    async def main() -> tuple[float, float, list[float]]:
        done: list[float] = []
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def runner() -> None:
                while not queue.empty():
                    body = queue.get_nowait()
                    headers = {
                        "content-type": "application/json",
                        "webhook-id": "dlv_raw",
                        "webhook-timestamp": str(int(time.time())),
                    }
                    response = await client.post(url, content=body, headers=headers)
                    response.raise_for_status()
                    done.append(time.time())

            # Blocking the loop is fine here: nothing runs on it yet.
            started = wait_for_start(start_at, on_start)
            await asyncio.gather(*(runner() for _ in range(concurrency)))
            return started, time.time(), done

    out.put(asyncio.run(main()))


def raw_httpx(
    url: str, bodies: list[bytes], concurrency: int, processes: int
) -> tuple[float, float]:
    """Requests/s of raw httpx, ``processes`` processes x ``concurrency`` each: over
    the whole run, and over its middle (:func:`middle_rate`)."""
    out: multiprocessing.Queue = CLIENT_PROCESSES.Queue()  # type: ignore[type-arg]
    shares = [bodies[i::processes] for i in range(processes)]
    start_at = time.time() + CLIENT_START_ALLOWANCE
    procs = [
        CLIENT_PROCESSES.Process(target=raw_share, args=(url, share, concurrency, start_at, out))
        for share in shares
    ]
    for p in procs:
        p.start()
    spans = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    whole = len(bodies) / (max(e for _, e, _ in spans) - min(s for s, _, _ in spans))
    return whole, middle_rate([t for _, _, done in spans for t in done])


def middle_rate(completions: list[float]) -> float:
    """Completions/s between the tenth and the ninetieth percentile completion.

    Leaves out the start, where the processes begin, and the end, where the last
    few requests run on fewer connections (our workers' local queues make that
    tail longer than the raw client's even shares): the steady rate.
    """
    times = sorted(completions)
    first, last = len(times) // 10, len(times) - 1 - len(times) // 10
    return (last - first) / (times[last] - times[first])


def events(n: int) -> list[dict]:
    return [
        {
            "action": "update",
            "appointment": {
                "appointmentGuid": f"A{i}",
                "sourceApp": "BENCH",
                "subject": "Boiler check",
                "start": "2026-11-24T08:00:00Z",
                "end": "2026-11-24T10:00:00Z",
                "resources": [{"resourceNo": "R-ANNA"}],
            },
        }
        for i in range(n)
    ]


def envelope(event: dict) -> bytes:
    return json.dumps(
        {
            "type": "appointment.updated",
            "timestamp": "2026-11-24T08:00:00Z",
            "data": event["appointment"],
        },
        separators=(",", ":"),
    ).encode()


def writeback(db: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "writeback", "--db", db, *args],
        capture_output=True, text=True, env=env, check=True, timeout=900,
    )  # fmt: skip


def outbox(
    db: str, url: str, n: int, concurrency: int, workers: int, env: dict[str, str]
) -> tuple[float, float, float]:
    """(delivered/s, delivered/s in the middle of the run, submitted/s) through
    ``writeback dispatch`` + ``worker`` processes."""
    folder = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    (folder / "c.json").write_text(json.dumps(webhook_row(url)))
    (folder / "e.jsonl").write_text("\n".join(json.dumps(e) for e in events(n)))
    writeback(db, "connectors", "add", str(folder / "c.json"), env=env)
    started = time.perf_counter()
    writeback(db, "dispatch", str(folder / "e.jsonl"), env=env)
    submitted = n / (time.perf_counter() - started)
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    # Due only once every worker process has started: a worker with nothing due
    # sleeps until the earliest next_attempt_at, so all of them begin together.
    # Otherwise the first one to finish importing works alone for a while, where
    # raw httpx's processes wait for a common start.  (The three-worker ratios
    # moved within the noise when this came in.)
    due_at = time.time() + WORKER_START_ALLOWANCE
    with engine.begin() as conn:
        conn.execute(text("UPDATE deliveries SET next_attempt_at = :t"), {"t": due_at})
    command = [sys.executable, "-m", "writeback", "--db", db, "worker", "--until-idle",
               "--concurrency", str(concurrency)]  # fmt: skip
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL) for _ in range(workers)]
    for p in procs:
        assert p.wait(timeout=900) == 0
    with engine.connect() as conn:
        first, last, count = conn.execute(
            text(
                "SELECT min(started_at), max(started_at + duration_ms / 1000), count(*) "
                "FROM attempts"
            )
        ).one()
        delivered = conn.execute(
            text("SELECT count(*) FROM deliveries WHERE status = 'delivered'")
        ).scalar()
        ended = conn.execute(text("SELECT started_at + duration_ms / 1000 FROM attempts"))
        completions = [t for (t,) in ended]
    engine.dispose()
    assert delivered == n == count, (delivered, n, count)
    assert first >= due_at, "an attempt started before its deliveries were due"
    return n / (last - first), middle_rate(completions), submitted


@contextlib.contextmanager
def services(latency: float, *, postgresql: bool) -> Iterator[tuple[str, Any]]:
    """The receiver, answering after ``latency`` seconds, and with ``postgresql`` a
    throwaway cluster: ``(url, cluster or None)``, both stopped at the end."""
    receiver, url = start_receiver(latency)
    cluster = None
    try:
        if postgresql:
            from writeback_testing.postgres import PostgresCluster

            cluster = PostgresCluster().start()
        yield url, cluster
    finally:
        if cluster is not None:
            cluster.stop()
        receiver.kill()


def webhook_row(url: str, name: str = "bench") -> dict[str, str]:
    """The connector both sides of the outbox benchmarks deliver through."""
    return {"name": name, "type": "webhook", "uri": url, "api_type": "json",
            "source_app": "BENCH"}  # fmt: skip


def print_row(cells: list[Any]) -> None:
    """One row of a markdown table."""
    print("| " + " | ".join(map(str, cells)) + " |", flush=True)


def new_database(engine: str, cluster: Any) -> str:
    """A new, empty database of kind ``engine`` (on ``cluster`` for PostgreSQL)."""
    if engine == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp(prefix='wb-bench-')}/wb.db"
    return cluster.create_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--postgresql", action="store_true", help="also on a throwaway PostgreSQL")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds the receiver takes to answer (0: as fast as it can; a real "
        "back office takes 20-200 ms)",
    )
    args = parser.parse_args()

    env = {**os.environ}
    engines = ["sqlite"] + (["postgresql"] if args.postgresql else [])
    if args.postgresql:
        from cryptography.fernet import Fernet

        env["WRITEBACK_SECRET_KEY"] = Fernet.generate_key().decode()
    bodies = [envelope(e) for e in events(args.n)]
    print(
        f"{args.n} deliveries, concurrency {args.concurrency} per process, receiver latency "
        f"{args.latency * 1000:g} ms, best of {args.repeat}\n"
    )
    print(
        "| store | worker processes | raw httpx /s | floor /s | outbox delivered /s | ratio "
        "| ratio, middle 80% | floor / raw | outbox / floor | outbox / floor, middle 80% "
        "| dispatch submitted /s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with services(args.latency, postgresql=args.postgresql) as (url, cluster):
        for engine in engines:
            for workers in args.workers:
                raws, ours, raw_middles, our_middles, subs = [], [], [], [], []
                floors, floor_middles = [], []
                for _ in range(args.repeat):
                    raw, raw_middle = raw_httpx(url + "/raw", bodies, args.concurrency, workers)
                    raws.append(raw)
                    raw_middles.append(raw_middle)
                    floor_db, db = new_database(engine, cluster), new_database(engine, cluster)
                    prepare(floor_db, bodies)
                    floor, completions = floor_run(
                        floor_db, url + "/floor", args.n, args.concurrency, workers,
                        start_at=time.time() + CLIENT_START_ALLOWANCE,
                    )  # fmt: skip
                    floors.append(floor)
                    floor_middles.append(middle_rate(completions))
                    rate, middle, submitted = outbox(
                        db, url + "/wb", args.n, args.concurrency, workers, env
                    )
                    ours.append(rate)
                    our_middles.append(middle)
                    subs.append(submitted)
                raw, floor, our = max(raws), max(floors), max(ours)
                steady = max(our_middles) / max(raw_middles)
                floor_steady = max(our_middles) / max(floor_middles)
                cells = [engine, workers, f"{raw:,.0f}", f"{floor:,.0f}", f"{our:,.0f}",
                         f"{our / raw:.2f}", f"{steady:.2f}", f"{floor / raw:.2f}",
                         f"{our / floor:.2f}", f"{floor_steady:.2f}",
                         f"{statistics.median(subs):,.0f}"]  # fmt: skip
                print_row(cells)


if __name__ == "__main__":
    main()
