"""What an attempt observer costs the worker: one no-op observer installed vs none.

Usage: ``python bench/bench_observers.py [--n 2000] [--concurrency 8] [--rounds 6]``.

A plugin implementing ``writeback_attempt_finished`` is called once per
recorded attempt.  Both sides run the same ``Worker`` over the same store and
webhook pipeline against the instant receiver (its own process); one has a
plugin whose observer does nothing registered, the other none.  Each round
runs both sides, in alternating order, each on a fresh SQLite database.
Against an instant receiver the worker is bound by its own CPU, so deliveries
per second of CPU (``time.process_time``, this process's) is the figure.  Runs
of the same side spread by a third on a shared machine, so the ratio is taken
per round (observed / none, the two runs next to each other) and the table
gives the median and range of those, with each side's median rates.

Below it, the observer's own cost, which that noise hides: the CPU the worker
spends per attempt to build the record and call one no-op observer
(``Observers.notify`` over as many recorded attempts), as a share of the CPU
per delivery of the observed side.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import types

from bench_outbox import events, new_database, print_row, services, webhook_row
from bench_outbox_parts import Clock


def noop_observer() -> types.ModuleType:
    from writeback.plugin import hookimpl

    module = types.ModuleType("bench_noop_observer")

    @hookimpl
    def writeback_attempt_finished(record: object) -> None:
        return None

    module.writeback_attempt_finished = writeback_attempt_finished  # type: ignore[attr-defined]
    return module


def worker_side(url: str, evs: list[dict], concurrency: int, observed: bool) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one worker delivering ``evs``."""
    from writeback import Dispatcher
    from writeback._worker import Worker
    from writeback.plugin import PluginRegistry

    registry = PluginRegistry.load()
    if observed:
        registry.register(noop_observer(), name="noop", distribution="bench-noop")
    assert bool(registry.observers()) is observed
    dispatcher = Dispatcher.open(new_database("sqlite", None), registry=registry)
    dispatcher.connectors.add(webhook_row(url))
    for ev in evs:
        dispatcher.submit(ev)
    clock = Clock()
    began: list[float] = []

    def ready() -> None:
        began.append(time.perf_counter())
        clock.start()

    worker = Worker(dispatcher.store, registry, concurrency=concurrency, on_ready=ready)
    try:
        asyncio.run(worker.run(until_idle=True))
        wall = time.perf_counter() - began[0]
        assert worker.stats.delivered == len(evs), worker.stats
    finally:
        dispatcher.close()
    return clock.stop(), wall


def notify_cost(n: int) -> float:
    """CPU seconds per attempt of ``Observers.notify`` with one no-op observer."""
    from writeback._observers import Observer, Observers
    from writeback.store import AttemptRecord, Claim, Finished

    claim = Claim(1, "dlv_1", "evt_1", 1, "bench", "update", 0, {}, 0, "A-1")
    attempt = AttemptRecord(1, time.time(), 1.5, 200, "delivered", None, None)
    finished = [Finished(claim, attempt, "delivered") for _ in range(n)]
    observer = noop_observer().writeback_attempt_finished
    observers = Observers([Observer("noop", "bench-noop", observer)])
    best = float("inf")
    for _ in range(5):
        began = time.process_time()
        observers.notify(finished)
        best = min(best, time.process_time() - began)
    return best / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    evs = events(args.n)
    print(
        f"{args.n} deliveries, concurrency {args.concurrency}, SQLite, instant receiver, "
        f"{args.rounds} rounds\n"
    )
    cpu: dict[bool, list[float]] = {False: [], True: []}
    wall: dict[bool, list[float]] = {False: [], True: []}
    with services(0.0, postgresql=False) as (url, _):
        for i in range(args.rounds):
            # Alternate which side goes first, against drift in the machine's load.
            for observed in (False, True) if i % 2 == 0 else (True, False):
                spent, took = worker_side(url + "/wb", evs, args.concurrency, observed)
                cpu[observed].append(args.n / spent)
                wall[observed].append(args.n / took)
    ratios = sorted(o / n for o, n in zip(cpu[True], cpu[False], strict=True))
    print("| deliveries per CPU second: none | one no-op observer | observer / none, "
          "median of rounds | range | wall deliveries/s: none | observer |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    print_row([f"{statistics.median(cpu[False]):.0f}", f"{statistics.median(cpu[True]):.0f}",
               f"{statistics.median(ratios):.3f}", f"{ratios[0]:.2f}-{ratios[-1]:.2f}",
               f"{statistics.median(wall[False]):.0f}",
               f"{statistics.median(wall[True]):.0f}"])  # fmt: skip
    per_attempt = notify_cost(50_000)
    per_delivery = 1 / statistics.median(cpu[True])
    print(
        f"\nrecord + one no-op observer: {per_attempt * 1e6:.2f} µs per attempt, "
        f"{per_attempt / per_delivery:.2%} of the observed worker's CPU per delivery"
    )


if __name__ == "__main__":
    main()
