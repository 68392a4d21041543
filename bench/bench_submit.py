"""Submitting events: cost against the number of connectors, and batched submission.

Usage: ``python bench/bench_submit.py [--connectors 10000] [--submits 300]
[--events 5000] [--batch 500] [--lines 3000] [--postgresql]``.  Prints three
markdown tables:

1. **One submit, many connectors.** The time of one ``Dispatcher.submit`` in a
   store holding ``--connectors`` connectors, of which 2 match the event,
   against the same in a store holding only those 2 (median of ``--submits``
   each, alternating between the stores).  Beside it, the time to read and
   parse every connector row once: what each submit cost before matching went
   through the ``source_app`` index.
2. **Batched submit.** Events/s through ``Dispatcher.submit_many`` (``--batch``
   events per transaction) against ``submit`` one event at a time, each event
   going to 2 webhook connectors; once without coalescing and once with it on
   (every event an update of an appointment that already has a pending one).
3. **``writeback dispatch``** of a ``--lines`` JSON Lines file as a process,
   printing its table and with ``--json``, against the same command with a
   one-line file (the start-up both pay).

Every submit is durable before it returns (SQLite ``synchronous=FULL``), as in
production; the figures include the disk's commits.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MATCHING = 2
#: Other connectors share a source application two by two, as tenants would.
PER_TENANT = 2


def webhook_row(name: str, source_app: str, **extra: Any) -> dict[str, Any]:
    """A webhook connector row; nothing is ever sent to it here."""
    return {"name": name, "type": "webhook", "uri": "http://127.0.0.1:9/hook",
            "api_type": "json", "source_app": source_app, **extra}  # fmt: skip


def event(n: int, action: str = "create", key: str | None = None) -> dict[str, Any]:
    return {
        "action": action,
        "appointment": {
            "appointmentGuid": key or f"A{n}",
            "sourceApp": "BENCH",
            "subject": "Boiler check",
            "start": "2026-11-24T08:00:00Z",
            "end": "2026-11-24T10:00:00Z",
            "resources": [{"resourceNo": "R-ANNA"}],
        },
    }


def print_row(cells: list[Any]) -> None:
    print("| " + " | ".join(map(str, cells)) + " |", flush=True)


class Databases:
    """New, empty databases: SQLite files, or databases on a throwaway PostgreSQL."""

    def __init__(self, postgresql: bool) -> None:
        self.cluster: Any = None
        if postgresql:
            from cryptography.fernet import Fernet
            from writeback_testing.postgres import PostgresCluster

            os.environ.setdefault("WRITEBACK_SECRET_KEY", Fernet.generate_key().decode())
            self.cluster = PostgresCluster().start()

    def new(self) -> str:
        if self.cluster is not None:
            return str(self.cluster.create_database())
        return f"sqlite:///{tempfile.mkdtemp(prefix='wb-bench-')}/wb.db"

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()


def store_with(url: str, connectors: int, **extra: Any) -> Any:
    """A dispatcher whose store holds ``connectors`` rows, ``MATCHING`` of them for BENCH."""
    from writeback import Dispatcher

    wb = Dispatcher.open(url)
    rows = [webhook_row(f"match-{i}", "BENCH", **extra) for i in range(MATCHING)]
    rows += [
        webhook_row(f"tenant-{i:05d}", f"T{i // PER_TENANT:05d}")
        for i in range(connectors - MATCHING)
    ]
    for start in range(0, len(rows), 1000):
        wb.connectors.add(rows[start : start + 1000])
    return wb


def one_submit(dbs: Databases, many: int, submits: int) -> None:
    print(f"\n### One submit: {many:,} connectors against {MATCHING}\n")
    print_row(["store", "median submit ms", "p90 ms", "ratio to 2 connectors",
               "reading every row once, ms"])  # fmt: skip
    print_row(["---"] * 5)
    small, large = store_with(dbs.new(), MATCHING), store_with(dbs.new(), many)
    times: dict[int, list[float]] = {MATCHING: [], many: []}
    for n in range(submits):
        for count, wb in ((MATCHING, small), (many, large)):
            started = time.perf_counter()
            ids = wb.submit(event(n))
            times[count].append(time.perf_counter() - started)
            assert len(ids) == MATCHING, ids
    scans = []
    for _ in range(5):
        started = time.perf_counter()
        large.store.connectors.list()
        scans.append(time.perf_counter() - started)
    base = statistics.median(times[MATCHING])
    for count, wb in ((MATCHING, small), (many, large)):
        median = statistics.median(times[count])
        p90 = statistics.quantiles(times[count], n=10)[-1]
        scan = statistics.median(scans) * 1000 if count == many else "-"
        scan_cell = f"{scan:.0f}" if isinstance(scan, float) else scan
        print_row([f"{count:,} connectors", f"{median * 1000:.2f}", f"{p90 * 1000:.2f}",
                   f"{median / base:.2f}", scan_cell])  # fmt: skip
        wb.close()


def batched(dbs: Databases, n: int, batch: int) -> None:
    print(f"\n### Batched submit: {n:,} events, {MATCHING} connectors each\n")
    print_row(["connectors", "one by one, events/s", f"batches of {batch}, events/s", "ratio"])
    print_row(["---"] * 4)
    for label, extra, action in (
        ("webhook", {}, "create"),
        ("webhook, coalesce on, updates", {"coalesce": True}, "update"),
    ):
        rates = []
        for size in (1, batch):
            wb = store_with(dbs.new(), MATCHING, **extra)
            if action == "update":  # each appointment already has a pending update
                wb.submit_many([event(i, "update") for i in range(n)], batch_size=batch)
            events = [event(i, action) for i in range(n)]
            count = n if size > 1 else max(1, n // 10)  # one by one is slow: a tenth
            started = time.perf_counter()
            results = wb.submit_many(events[:count], batch_size=size)
            rates.append(count / (time.perf_counter() - started))
            assert all(len(r.deliveries) == MATCHING for r in results)
            wb.close()
        print_row([label, f"{rates[0]:,.0f}", f"{rates[1]:,.0f}", f"{rates[1] / rates[0]:.1f}"])


def dispatch(dbs: Databases, lines: int) -> None:
    print(f"\n### `writeback dispatch` of a {lines:,}-line file\n")
    print_row(["file", "output", "seconds", "events/s", "events/s after start-up"])
    print_row(["---"] * 5)
    folder = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    env = {**os.environ}
    runs = [(1, "table"), (lines, "table"), (lines, "--json")]
    seconds = {}
    for count, output in runs:
        url = dbs.new()
        store_with(url, MATCHING).close()
        path = folder / f"events-{count}.jsonl"
        path.write_text("\n".join(json.dumps(event(i)) for i in range(count)) + "\n")
        flags = ["--json"] if output == "--json" else []
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "writeback", "--db", url, "dispatch", str(path), *flags],
            check=True, capture_output=True, env=env, timeout=900,
        )  # fmt: skip
        seconds[count, output] = time.perf_counter() - started
    start_up = seconds[1, "table"]
    for count, output in runs:
        took = seconds[count, output]
        after = f"{(count - 1) / max(took - start_up, 1e-9):,.0f}" if count > 1 else "-"
        print_row([f"{count:,} line(s)", output, f"{took:.2f}", f"{count / took:,.0f}", after])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connectors", type=int, default=10_000)
    parser.add_argument("--submits", type=int, default=300)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--postgresql", action="store_true", help="also on PostgreSQL")
    args = parser.parse_args()
    for postgresql in (False, True) if args.postgresql else (False,):
        print(f"\n## {'PostgreSQL' if postgresql else 'SQLite'}")
        dbs = Databases(postgresql)
        try:
            one_submit(dbs, args.connectors, args.submits)
            batched(dbs, args.events, args.batch)
            dispatch(dbs, args.lines)
        finally:
            dbs.stop()


if __name__ == "__main__":
    main()
