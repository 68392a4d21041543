"""Retention keeps the SQLite store's size flat: rounds of submit -> deliver -> prune.

Each round submits ``--events`` events to one webhook connector (a loopback
receiver from writeback-testing), delivers them with an in-process worker and,
with retention, prunes every ended delivery (``--older-than 0s``).  Printed per
round: the database file's size with retention and, as the baseline in the same
run, without.  With retention the size levels off after the first rounds (free
pages are reused); without, it grows by the same amount every round.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from writeback import Dispatcher
from writeback_testing import WebhookReceiver


def _size(path: Path) -> int:
    # The WAL is checkpointed into the file as it grows; count both.
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def run(folder: Path, url: str, rounds: int, events: int, retain: bool) -> list[int]:
    path = folder / ("retained.db" if retain else "kept.db")
    sizes = []
    with Dispatcher.open(f"sqlite:///{path}") as wb:
        wb.connectors.add({"name": "hook", "type": "webhook", "uri": url, "api_type": "json",
                           "source_app": "BENCH"})  # fmt: skip
        for r in range(rounds):
            batch = [
                {"action": "create", "appointment": {"appointmentGuid": f"R{r}-{n}",
                 "sourceApp": "BENCH", "subject": "x" * 200}}
                for n in range(events)
            ]  # fmt: skip
            wb.submit_many(batch)
            wb.run_worker(until_idle=True, concurrency=16)
            if retain:
                wb.deliveries.prune(0.0)
            sizes.append(_size(path))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("WRITEBACK_SECRET_KEY", "")
    with WebhookReceiver() as rx, tempfile.TemporaryDirectory() as tmp:
        kept = run(Path(tmp), rx.url, args.rounds, args.events, retain=False)
        retained = run(Path(tmp), rx.url, args.rounds, args.events, retain=True)
    print(f"{args.events} events a round; file size in KiB after each round\n")
    print("| round | no retention | prune --older-than 0s | ratio |")
    print("|---:|---:|---:|---:|")
    for n, (a, b) in enumerate(zip(kept, retained, strict=True), 1):
        print(f"| {n} | {a // 1024:,} | {b // 1024:,} | {b / a:.2f} |")


if __name__ == "__main__":
    main()
