"""Draining a Business Central backlog at BC's per-user limits: ``$batch`` against one
request per change.

N pending changes (distinct appointments) for one BC principal are drained by
three ``writeback worker --until-idle`` processes through one ``bc`` connector
over json with its default throttle (5 at once, 6000/300s, shared by the
principal's throttle group).  The BC simulator enforces the same limits per user
(5 at once, a budget per sliding window, 429 with ``Retry-After`` beyond) and
takes ``--operation-ms`` per operation.  Three runs, the same limits on both
sides: ``batch_size 1`` (one request per change), and the default
``batch_size 20`` with the simulator counting a ``$batch`` as one request, then
as its operations (Microsoft does not document which it does).

Reported per run: the wall time from the workers' start until they are idle,
HTTP requests and round trips, 429s, and what the simulator saw: the most
requests in progress at once and the most counted in any window.

Run: ``.venv/bin/python bench/bench_bc_drain.py [--changes N] [--window 6000/300]``
(SQLite in a temporary folder).  With a shorter window at the same rate
(``--window 600/30``) the single-request run takes as long (it is held to the
rate), the sliding window's effect on the batch-as-operations run shrinks.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from writeback_testing.acceptors import BasicAcceptor
from writeback_testing.bc_api import BcApiServer, BcLimits

KEY = "Web-Service-Access-Key-0123"


def cli(db: str, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "writeback", "--db", db, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def drain(folder: Path, args: argparse.Namespace, batch_size: int, counts_as: str) -> dict:
    requests, seconds = (float(x) for x in args.window.split("/"))
    limits = BcLimits(
        window_requests=int(requests),
        window_seconds=seconds,
        batch_counts_as=counts_as,  # type: ignore[arg-type]
        operation_seconds=args.operation_ms / 1000,
    )
    db = f"sqlite:///{folder / f'drain-{batch_size}-{counts_as}.db'}"
    with BcApiServer(auth=BasicAcceptor({"WEBUSER": KEY}), limits=limits) as api:
        row = {
            "name": "bc",
            "type": "bc",
            "api_type": "json",
            "uri": api.endpoint,
            "source_app": "CRONUSUS",
            "auth": {"method": "basic", "username": "WEBUSER", "password": KEY},
            # The per-user limit, over the same window as the simulator's.
            "throttle": {"max_concurrency": 5, "rate": f"{int(requests)}/{int(seconds)}s"},
            # A 429 waits as long as Retry-After says; this only keeps it from going dead.
            "retry": {"schedule": [1] * 50},
            "options": {"batch_size": batch_size},
        }
        (folder / "row.json").write_text(json.dumps(row))
        cli(db, "connectors", "add", str(folder / "row.json"))
        events = (
            json.dumps(
                {
                    "action": "create",
                    "appointment": {
                        "appointmentGuid": f"G{k}",
                        "sourceApp": "CRONUSUS",
                        "subject": "backlog",
                    },
                }
            )
            for k in range(args.changes)
        )
        (folder / "events.jsonl").write_text("\n".join(events))
        cli(db, "dispatch", str(folder / "events.jsonl"))
        start = time.perf_counter()
        command = [sys.executable, "-m", "writeback", "--db", db, "worker", "--until-idle"]
        command += ["--concurrency", str(args.concurrency)]
        workers = [
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(args.workers)
        ]
        for worker in workers:
            worker.wait()
        wall = time.perf_counter() - start
        sent = [r for r in api.requests if r.batch_id is None]
        stats = api.limit_stats("WEBUSER")
        counts = json.loads(cli(db, "deliveries", "stats", "--json"))
        return {
            "wall": wall,
            "requests": len(sent),
            "throttled": sum(1 for r in sent if r.status == 429),
            "rows": len(api.rows),
            "peak": stats.peak_concurrency,
            "window": stats.max_window_count,
            "delivered": counts.get("totals", counts).get("delivered"),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--window", default="6000/300", help="requests/seconds per user")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8, help="each worker's --concurrency")
    parser.add_argument("--operation-ms", type=float, default=10.0)
    parser.add_argument(
        "--runs", default="1:request,20:request,20:operations", help="batch_size:counts_as,…"
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in args.runs.split(","):
            size, counts_as = run.split(":")
            print(f"draining {args.changes} with batch_size {size}, {counts_as}…", file=sys.stderr)
            results.append((int(size), counts_as, drain(Path(tmp), args, int(size), counts_as)))
    print(
        f"{args.changes} changes, {args.workers} workers, limits 5 at once and "
        f"{args.window.replace('/', ' per ')} s per user, {args.operation_ms:g} ms per operation\n"
    )
    print("| batch_size | a batch counts as | drained in | HTTP requests | 429s | "
          "most at once | most in a window | delivered |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for size, counts_as, r in results:
        print(
            f"| {size} | {counts_as if size > 1 else '-'} | {r['wall']:.1f} s | {r['requests']} | "
            f"{r['throttled']} | {r['peak']} | {r['window']} | {r['delivered']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
