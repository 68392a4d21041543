"""Ingest over HTTP: ``POST /v1/events`` into ``writeback serve`` on SQLite.

Usage: ``python bench/bench_ingest.py [--batches 40] [--batch 100] [--singles 300]``.

Starts ``writeback serve`` (no worker: the submissions alone are measured) as
its own process on a fresh SQLite file with one webhook connector, so each
event makes one delivery, and an ``ingest`` key.  The client is httpx in this
process, one keep-alive connection, requests one after another.  Reported:

- batches of ``--batch`` events: events per second over the whole run;
- single events (one per request): p50 and p99 latency, and requests/s;
- as the baseline of the same run, ``Dispatcher.submit_many`` in this process
  on a second fresh file, in the same batch size (no HTTP): the service's
  events/s as a share of it says what HTTP, JSON and auth cost.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import httpx
from _serve import cli, command, free_port, quantile, running, wait_ready


def _events(prefix: str, start: int, count: int) -> list[dict]:
    return [
        {
            "id": f"{prefix}-{n}",
            "action": "create",
            "appointment": {
                "appointmentGuid": f"g-{prefix}-{n}",
                "sourceApp": "BENCH",
                "subject": "Boiler check",
                "start": "2026-11-24T08:00:00Z",
            },
        }
        for n in range(start, start + count)
    ]


ROW = {
    "name": "bench-hook",
    "type": "webhook",
    "uri": "http://127.0.0.1:9/hook",
    "api_type": "json",
    "source_app": "BENCH",
}


def bench_service(folder: Path, batches: int, batch: int, singles: int) -> dict[str, float]:
    db = f"sqlite:///{(folder / 'serve.db').as_posix()}"
    rows = folder / "row.json"
    rows.write_text(json.dumps(ROW))
    cli(db, "connectors", "add", str(rows))
    key = cli(db, "api-keys", "create", "bench", "--scope", "ingest").strip()
    port = free_port()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with (
        running(command(db, "serve", "--port", str(port))),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        wait_ready(client)
        bodies = [json.dumps(_events("b", i * batch, batch)) for i in range(batches)]
        client.post("/v1/events", content=json.dumps(_events("warm", 0, batch)), headers=headers)
        began = time.perf_counter()
        for body in bodies:
            answer = client.post("/v1/events", content=body, headers=headers)
            assert answer.status_code == 202, answer.text
        batch_rate = batches * batch / (time.perf_counter() - began)
        latencies = []
        for n in range(singles):
            body = json.dumps(_events("s", n, 1)[0])
            start = time.perf_counter()
            answer = client.post("/v1/events", content=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            assert answer.status_code == 202, answer.text
    return {
        "batch_rate": batch_rate,
        "p50_ms": 1000 * quantile(latencies, 0.5),
        "p99_ms": 1000 * quantile(latencies, 0.99),
        "single_rate": len(latencies) / sum(latencies),
    }


def bench_in_process(folder: Path, batches: int, batch: int) -> float:
    from writeback import Dispatcher

    with Dispatcher.open(f"sqlite:///{(folder / 'direct.db').as_posix()}") as wb:
        wb.connectors.add(ROW)
        wb.submit_many(_events("warm", 0, batch))
        lots = [_events("d", i * batch, batch) for i in range(batches)]
        began = time.perf_counter()
        for events in lots:
            wb.submit_many(events)
        return batches * batch / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--singles", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        served = bench_service(folder, args.batches, args.batch, args.singles)
        direct = bench_in_process(folder, args.batches, args.batch)
    print(
        f"POST /v1/events, batches of {args.batch} ({args.batches} batches, httpx, "
        f"one keep-alive connection): {served['batch_rate']:,.0f} events/s"
    )
    print(
        f"submit_many in process, same batches (baseline): {direct:,.0f} events/s; "
        f"service/baseline {served['batch_rate'] / direct:.2f}"
    )
    print(
        f"single events ({args.singles} requests): p50 {served['p50_ms']:.1f} ms, "
        f"p99 {served['p99_ms']:.1f} ms, {served['single_rate']:,.0f} requests/s"
    )


if __name__ == "__main__":
    main()
