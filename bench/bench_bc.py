"""BC JSON deliveries per second: through writeback's outbox vs raw httpx, same simulator.

Both paths post the same staging rows to one Business Central API page
simulator (``writeback_testing.bc_api``) running in its own process (so that
the receiver does not share the GIL with the client), at the same concurrency:

- **raw httpx**: one ``httpx.AsyncClient`` with ``concurrency`` connections,
  posting prebuilt rows, counting 201s with a ``Location``: the floor of what
  any Python client on this machine pays for the HTTP alone;
- **writeback**: events submitted to a SQLite outbox, then the real worker
  (``Dispatcher.run_worker``) drains them through the ``bc`` type and the
  ``json`` format; every attempt recorded.

Run: ``.venv/bin/python bench/bench_bc.py [--n 1000] [--concurrency 8]``.
Prints a markdown table.  Figures on a shared 2-core machine vary ±40 %.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from writeback import Dispatcher
from writeback_bc.staging import staging_row

SERVER = """
import sys
from writeback_testing.bc_api import BcApiServer
with BcApiServer() as server:
    print(server.endpoint, flush=True)
    sys.stdin.read()
"""


def appointment(n: int) -> dict[str, object]:
    return {
        "appointmentGuid": f"6f0c2f4e-0000-4000-8000-{n:012d}",
        "sourceApp": "BENCH",
        "subject": f"Bench appointment {n}",
        "jobNo": "SO100",
        "taskNo": "10",
        "start": "2026-11-24T08:00:00Z",
        "end": "2026-11-24T10:00:00Z",
        "resources": [{"resourceNo": "R-ANNA"}],
    }


async def raw_httpx(endpoint: str, n: int, concurrency: int) -> float:
    rows = [staging_row("create", appointment(i)) for i in range(n)]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    ok = 0
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def post(row: dict[str, object]) -> None:
            nonlocal ok
            async with gate:
                answer = await client.post(endpoint, json=row)
                ok += answer.status_code == 201 and "location" in answer.headers

        started = time.perf_counter()
        await asyncio.gather(*(post(row) for row in rows))
        elapsed = time.perf_counter() - started
    assert ok == n, f"raw httpx: {ok} of {n} delivered"
    return elapsed


def outbox(endpoint: str, n: int, concurrency: int, folder: Path) -> tuple[float, float]:
    os.environ["WRITEBACK_SECRET_KEY"] = "VGhpcy1pcy1hLWJlbmNoLWtleS0wMTIzNDU2Nzg5MDE="
    with Dispatcher.open(f"sqlite:///{folder / 'bench.db'}") as dispatcher:
        dispatcher.connectors.add(
            {
                "name": "bc-bench",
                "type": "bc",
                "api_type": "json",
                "uri": endpoint,
                "source_app": "BENCH",
                "auth": {"method": "basic", "username": "WEBUSER", "password": "bench-key"},
                # The type's default rate (BC online's 6000/300s) would measure the limit,
                # not the machinery; concurrency is the same as the raw client's.
                "throttle": {"max_concurrency": concurrency},
            }
        )
        started = time.perf_counter()
        for i in range(n):
            dispatcher.submit({"action": "create", "appointment": appointment(i)})
        submitted = time.perf_counter() - started
        started = time.perf_counter()
        dispatcher.run_worker(until_idle=True, concurrency=concurrency)
        drained = time.perf_counter() - started
        delivered = dispatcher.deliveries.counts().get("delivered", 0)
    assert delivered == n, f"writeback: {delivered} of {n} delivered"
    return submitted, drained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="staging rows per path")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        endpoint = server.stdout.readline().strip()
        raw = asyncio.run(raw_httpx(endpoint, args.n, args.concurrency))
        with tempfile.TemporaryDirectory() as folder:
            submitted, drained = outbox(endpoint, args.n, args.concurrency, Path(folder))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
    n, c = args.n, args.concurrency
    print(f"BC JSON staging rows, {n} per path, concurrency {c}, simulator in its own process\n")
    print("| path | seconds | deliveries/s |")
    print("|---|---:|---:|")
    print(f"| raw httpx AsyncClient, prebuilt rows | {raw:.2f} | {n / raw:,.0f} |")
    worker = "writeback worker (outbox, bc + json, attempts recorded)"
    print(f"| {worker} | {drained:.2f} | {n / drained:,.0f} |")
    print(f"| writeback submit (events into the outbox) | {submitted:.2f} | {n / submitted:,.0f} |")
    print(f"\nworker / raw: {raw / drained:.0%} of the raw client's rate")


if __name__ == "__main__":
    main()
