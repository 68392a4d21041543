"""Fleet-wide limits: what the store-kept budget costs per attempt, and what it holds.

1. Overhead: one ``writeback worker --until-idle`` process delivers N events to a
   loopback receiver through a connector whose limits never bind
   (``max_concurrency`` 1000: each attempt holds a slot in the store, handed on to
   the next attempt in the worker) and through one without limits (nothing asked
   of the store: what per-process limits cost).  Alternating rounds; the worker's
   CPU seconds per delivery (its rusage) and the wall time, as ratios.
2. Held: three worker processes, ``max_concurrency`` 4 and ``rate`` 50/1s on one
   connector: the most requests the receiver held at once and the most that
   arrived in any one-second window.

Run: ``.venv/bin/python bench/bench_fleet_limits.py [--events N] [--rounds R]``
(SQLite; ``--db-url postgresql+psycopg://…`` with ``WRITEBACK_SECRET_KEY`` set
for PostgreSQL, a fresh database each run).
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from writeback_testing import WebhookReceiver


def cli(db: str, *args: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "writeback", "--db", db, *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return out.stdout


def row(name: str, url: str, source: str, throttle: dict | None) -> dict:
    return {
        "name": name,
        "type": "webhook",
        "uri": url,
        "api_type": "json",
        "source_app": source,
        "throttle": throttle,
    }


def events(source: str, n: int, tag: str) -> str:
    return "\n".join(
        json.dumps(
            {
                "action": "create",
                "appointment": {
                    "appointmentGuid": f"{tag}-{k}",
                    "sourceApp": source,
                    "subject": "bench",
                },
            }
        )
        for k in range(n)
    )


def run_workers(db: str, n: int, env: dict[str, str], *args: str) -> tuple[float, float]:
    """Wall seconds and the workers' CPU seconds (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "writeback", "--db", db, "worker", "--until-idle", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        for _ in range(n)
    ]
    for p in procs:
        p.wait()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def submit(db: str, text: str, folder: Path, env: dict[str, str]) -> None:
    path = folder / f"events-{time.monotonic_ns()}.jsonl"
    path.write_text(text)
    cli(db, "dispatch", str(path), env=env)


def overhead(db: str, rx: WebhookReceiver, folder: Path, n: int, rounds: int, env) -> dict:
    rows = [
        row("fleet", rx.url + "/fleet", "FLEET", {"max_concurrency": 1000}),
        row("local", rx.url + "/local", "LOCAL", None),
    ]
    (folder / "rows.json").write_text(json.dumps(rows))
    cli(db, "connectors", "add", str(folder / "rows.json"), env=env)
    per: dict[str, list[tuple[float, float]]] = {"fleet": [], "local": []}
    for r in range(rounds):
        for name, source in (("local", "LOCAL"), ("fleet", "FLEET"))[:: 1 if r % 2 else -1]:
            submit(db, events(source, n, f"{name}{r}"), folder, env)
            wall, cpu = run_workers(db, 1, env, "--concurrency", "8")
            per[name].append((wall / n, cpu / n))
    cpu_ratio = statistics.median(
        f[1] / lo[1] for f, lo in zip(per["fleet"], per["local"], strict=True)
    )
    wall_ratio = statistics.median(
        f[0] / lo[0] for f, lo in zip(per["fleet"], per["local"], strict=True)
    )
    return {
        "local_cpu_ms": statistics.median(c for _, c in per["local"]) * 1000,
        "fleet_cpu_ms": statistics.median(c for _, c in per["fleet"]) * 1000,
        "cpu_ratio": cpu_ratio,
        "wall_ratio": wall_ratio,
    }


def held(db: str, folder: Path, n: int, env) -> dict:
    with WebhookReceiver(default_delay=0.02) as rx:
        limits = {"max_concurrency": 4, "rate": "50/1s"}
        (folder / "held.json").write_text(json.dumps([row("held", rx.url, "HELD", limits)]))
        cli(db, "connectors", "add", str(folder / "held.json"), env=env)
        submit(db, events("HELD", n, "held"), folder, env)
        wall, _ = run_workers(db, 3, env, "--concurrency", "8")
        arrivals = sorted(r.received_at for r in rx.requests if r.method == "POST")
        window = max(bisect.bisect_left(arrivals, t + 1.0) - i for i, t in enumerate(arrivals))
        return {
            "delivered": len(rx.deliveries),
            "max_in_flight": rx.max_in_flight,
            "max_per_second": window,
            "rate": len(arrivals) / (arrivals[-1] - arrivals[0]),
            "wall": wall,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--held-events", type=int, default=300)
    parser.add_argument("--db-url", default=None)
    args = parser.parse_args()
    env = {**os.environ}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = args.db_url or f"sqlite:///{folder / 'bench.db'}"
        with WebhookReceiver() as rx:
            cost = overhead(db, rx, folder, args.events, args.rounds, env)
        seen = held(db, folder, args.held_events, env)
    print("| measure | value |")
    print("|---|---|")
    print(
        "| worker CPU per delivery, no limits (per-process gate only) | "
        f"{cost['local_cpu_ms']:.2f} ms |"
    )
    print(f"| worker CPU per delivery, fleet budget | {cost['fleet_cpu_ms']:.2f} ms |")
    print(f"| CPU ratio fleet / per-process (median of rounds) | {cost['cpu_ratio']:.2f} |")
    print(f"| wall ratio fleet / per-process (median of rounds) | {cost['wall_ratio']:.2f} |")
    print(
        "| 3 workers, max_concurrency 4: most in flight at the receiver | "
        f"{seen['max_in_flight']} |"
    )
    print(f"| 3 workers, rate 50/1s: most arrivals in any 1 s window | {seen['max_per_second']} |")
    print(f"| 3 workers: mean rate first to last arrival | {seen['rate']:.1f}/s |")
    print(f"| delivered | {seen['delivered']} of {args.held_events} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
