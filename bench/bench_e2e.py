"""End to end: an event posted to ``writeback serve --worker`` until the receiver has it.

Usage: ``python bench/bench_e2e.py [--rate 200] [--seconds 15]``.

Each setup runs on a fresh SQLite file with one webhook connector pointing at
an instant receiver in this process (a threaded ``http.server`` answering 200
at once, keep-alive, noting when each ``webhook-id`` arrives).  The client posts
single events (``POST /v1/events``, httpx, one keep-alive connection) open
loop at ``--rate`` per second; a request that falls behind the schedule is sent
at once.  The latency of an event is from the start of its POST to its
arrival at the receiver.  Setups, in one run:

- ``serve --worker``: one process; the submit wakes the worker at once;
- baseline, polling: ``serve`` plus a separate ``writeback worker`` process
  (default ``--poll-interval`` 0.5 s).  On SQLite nothing tells another
  process of a submit, so this is the worker finding work by polling alone;
- baseline, floor: the same POSTs straight to the receiver, no writeback in
  between (what the client, HTTP and this machine cost).

Reported per setup: events delivered; p50, p99 and max latency in milliseconds;
and the p99 of the POST's own answer (the ingest's share of the latency).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from _serve import cli, command, free_port, quantile, running, wait_ready


class Receiver:
    """An instant webhook receiver that notes when each ``webhook-id`` arrived."""

    def __init__(self) -> None:
        arrived: dict[str, float] = {}
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.perf_counter()
                key = self.headers.get("webhook-id") or self.headers.get("x-bench-id") or ""
                with lock:
                    arrived.setdefault(key, at)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.arrived = arrived
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _event(n: int) -> str:
    return json.dumps(
        {
            "id": f"e2e-{n}",
            "action": "create",
            "appointment": {
                "appointmentGuid": f"g-e2e-{n}",
                "sourceApp": "BENCH",
                "subject": "Boiler check",
                "start": "2026-11-24T08:00:00Z",
            },
        }
    )


#: How long each POST took to be answered, per setup (ms): the ingest's share.
ANSWERED: dict[str, list[float]] = {}


def _schedule(post, count: int, rate: float, label: str) -> dict[str, float]:
    """Call ``post(n)`` ``count`` times at ``rate`` per second; returns ``{id: start}``."""
    sent: dict[str, float] = {}
    answered = ANSWERED.setdefault(label, [])
    began = time.perf_counter()
    for n in range(count):
        due = began + n / rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        start = time.perf_counter()
        sent[post(n)] = start
        answered.append(1000 * (time.perf_counter() - start))
    return sent


def _latencies(sent: dict[str, float], receiver: Receiver, timeout: float = 60) -> list[float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(k not in receiver.arrived for k in sent):
        time.sleep(0.05)
    arrived = receiver.arrived
    return sorted(1000 * (arrived[k] - start) for k, start in sent.items() if k in arrived)


def through_service(folder: Path, rate: float, count: int, *, separate: bool) -> list[float]:
    receiver = Receiver()
    db = f"sqlite:///{(folder / ('polling.db' if separate else 'woken.db')).as_posix()}"
    row = folder / "row.json"
    row.write_text(json.dumps({
        "name": "e2e", "type": "webhook", "uri": f"{receiver.url}/hook", "api_type": "json",
        "source_app": "BENCH",
    }))  # fmt: skip
    cli(db, "connectors", "add", str(row))
    key = cli(db, "api-keys", "create", "bench", "--scope", "ingest").strip()
    port = free_port()
    serve = command(db, "serve", "--port", str(port))
    # Separate: the worker as its own process, finding work by polling alone.
    procs = [serve, command(db, "worker")] if separate else [[*serve, "--worker"]]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    try:
        with (
            running(*procs),
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
        ):
            wait_ready(client)

            def post(n: int) -> str:
                answer = client.post("/v1/events", content=_event(n), headers=headers)
                assert answer.status_code == 202, answer.text
                return answer.json()["events"][0]["deliveries"][0]["id"]

            # Warm up (the worker's pipeline, the connection), then measure.
            _latencies({post(-1 - n): time.perf_counter() for n in range(5)}, receiver)
            sent = _schedule(post, count, rate, "polling" if separate else "woken")
            return _latencies(sent, receiver)
    finally:
        receiver.close()


def floor(rate: float, count: int) -> list[float]:
    receiver = Receiver()
    try:
        with httpx.Client(base_url=receiver.url, timeout=60) as client:

            def post(n: int) -> str:
                key = f"raw-{n}"
                client.post("/hook", content=_event(n), headers={"x-bench-id": key})
                return key

            sent = _schedule(post, count, rate, "floor")
            return _latencies(sent, receiver)
    finally:
        receiver.close()


def _row(label: str, latencies: list[float], count: int, key: str) -> str:
    answered = ANSWERED.get(key) or [0.0]
    if not latencies:
        return f"| {label} | 0 of {count} | - | - | - | - |"
    p50, p99 = quantile(latencies, 0.5), quantile(latencies, 0.99)
    return (
        f"| {label} | {len(latencies)} of {count} | {p50:.1f} "
        f"| {p99:.1f} | {latencies[-1]:.1f} | {quantile(answered, 0.99):.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    count = int(args.rate * args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        woken = through_service(folder, args.rate, count, separate=False)
        polled = through_service(folder, args.rate, count, separate=True)
    raw = floor(args.rate, count)
    print(f"| {args.rate:g} events/s for {args.seconds:g} s, SQLite | delivered "
          "| p50 ms | p99 ms | max ms | POST answered, p99 ms |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    print(_row("serve --worker (woken by the submit)", woken, count, "woken"))
    print(_row("baseline: serve + worker process (polling, 0.5 s)", polled, count, "polling"))
    print(_row("baseline: POST straight to the receiver", raw, count, "floor"))


if __name__ == "__main__":
    main()
