"""Where a delivery's CPU goes: the pipeline alone and the outbox around it, vs raw httpx.

Usage: ``python bench/bench_outbox_parts.py [--n 3000] [--concurrency 8]
[--repeat 3] [--postgresql]``.

``bench_outbox.py`` gives the outbox's throughput against raw httpx; against an
instant receiver a client is bound by its own CPU, so the ratio is one of CPU
per delivery.  This splits that CPU, in one process, against the same receiver:

- **raw**: ``httpx.AsyncClient`` posting the prebuilt envelopes (as in
  ``bench_outbox.py``);
- **floor**: the same, reading the payloads from a database and recording every
  response there (``outbox_floor.py``);
- **pipeline**: our webhook type and json format sending each delivery (envelope
  built, signed, sent, answer classified), with no store: what a delivery costs
  us on the wire;
- **worker**: the whole outbox: a ``Worker`` claiming from the store, sending
  through the same pipeline, recording every attempt.

``worker - pipeline`` is then the outbox's own cost per delivery (claims,
leases, order, attempt records, the worker's bookkeeping), set against raw's
whole cost per request.  The sides alternate within each round; the table
gives the median of the rounds.  CPU is this process's (``time.process_time``):
the receiver (and PostgreSQL) run in processes of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import time
from typing import Any

from bench_outbox import (
    envelope,
    events,
    new_database,
    print_row,
    raw_share,
    services,
    webhook_row,
)
from outbox_floor import prepare, run_share

#: Seconds between a side's set-up and its start (the raw and floor runners wait
#: for a start time; nothing runs on the loop meanwhile).
START_AFTER = 0.3


class _Box:
    """Stands in for the multiprocessing queue ``raw_share`` reports to."""

    def put(self, value: Any) -> None:
        self.value = value


class Clock:
    """A side's CPU (this process's) from its start to its end.

    Each side starts once its set-up is done (client made, pipeline built,
    deliveries submitted), as in ``bench_outbox.py``, where the set-up happens
    before the clock starts too.  At the start, what set-up made is collected and
    frozen out of later garbage collections, as ``writeback worker`` does for
    itself: the same for every side, undone at the end.
    """

    def __init__(self) -> None:
        self.began: float | None = None

    def start(self) -> None:
        gc.collect()
        gc.freeze()
        self.began = time.process_time()

    def stop(self) -> float:
        assert self.began is not None, "the side never started"
        cpu = time.process_time() - self.began
        gc.unfreeze()
        return cpu


def raw_side(url: str, bodies: list[bytes], concurrency: int) -> float:
    clock = Clock()
    raw_share(url, bodies, concurrency, time.time() + START_AFTER, _Box(), clock.start)
    return clock.stop()


def floor_side(db: str, url: str, bodies: list[bytes], concurrency: int) -> float:
    prepare(db, bodies)
    clock = Clock()
    start_at = time.time() + START_AFTER
    asyncio.run(run_share(db, url, 1, len(bodies), concurrency, start_at, clock.start))
    return clock.stop()


def pipeline_side(url: str, evs: list[dict], concurrency: int) -> float:
    from writeback._validation import validate_connector
    from writeback.plugin import Delivery, Pipeline, PluginRegistry

    connector = validate_connector(webhook_row(url), PluginRegistry.load())
    clock = Clock()

    async def main() -> None:
        pipeline = Pipeline.build(connector)
        queue = [(i, ev) for i, ev in enumerate(evs)]
        queue.reverse()

        async def runner() -> None:
            while queue:
                i, ev = queue.pop()
                # Made per send, as the worker makes one per attempt.
                delivery = Delivery(id=f"dlv_{i}", event_id=f"evt_{i}", action=ev["action"],
                                    appointment=ev["appointment"], occurred_at=None)  # fmt: skip
                result = await pipeline.send(delivery)
                assert result.outcome.value == "delivered", result

        clock.start()
        await asyncio.gather(*(runner() for _ in range(concurrency)))
        await pipeline.aclose()

    asyncio.run(main())
    return clock.stop()


def worker_side(db: str, url: str, evs: list[dict], concurrency: int) -> float:
    from writeback import Dispatcher
    from writeback._worker import Worker

    dispatcher = Dispatcher.open(db)
    dispatcher.connectors.add(webhook_row(url))
    for ev in evs:
        dispatcher.submit(ev)
    clock = Clock()
    # Started when its pipelines are built, before its first claim.
    worker = Worker(
        dispatcher.store, dispatcher.registry, concurrency=concurrency, on_ready=clock.start
    )
    try:
        asyncio.run(worker.run(until_idle=True))
        assert worker.stats.delivered == len(evs), worker.stats
    finally:
        dispatcher.close()
    return clock.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgresql", action="store_true", help="also on a throwaway PostgreSQL")
    args = parser.parse_args()

    evs = events(args.n)
    bodies = [envelope(e) for e in evs]
    if args.postgresql and "WRITEBACK_SECRET_KEY" not in os.environ:
        from cryptography.fernet import Fernet

        os.environ["WRITEBACK_SECRET_KEY"] = Fernet.generate_key().decode()
    engines = ["sqlite"] + (["postgresql"] if args.postgresql else [])
    print(
        f"{args.n} deliveries, concurrency {args.concurrency}, instant receiver, "
        f"median of {args.repeat}; CPU µs per delivery\n"
    )
    print("| store | raw | floor | pipeline | worker | pipeline / raw | floor - raw "
          "| worker - pipeline | (worker - pipeline) / raw |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    with services(0.0, postgresql=args.postgresql) as (url, cluster):
        for engine in engines:
            sides: dict[str, list[float]] = {"raw": [], "floor": [], "pipeline": [], "worker": []}
            concurrency = args.concurrency
            for _ in range(args.repeat):
                sides["raw"].append(raw_side(url + "/raw", bodies, concurrency))
                floor_db = new_database(engine, cluster)
                sides["floor"].append(floor_side(floor_db, url + "/floor", bodies, concurrency))
                sides["pipeline"].append(pipeline_side(url + "/pipeline", evs, concurrency))
                worker_db = new_database(engine, cluster)
                sides["worker"].append(worker_side(worker_db, url + "/wb", evs, concurrency))
            per = {k: statistics.median(v) / args.n * 1e6 for k, v in sides.items()}
            own = per["worker"] - per["pipeline"]
            cells = [engine, *(f"{per[k]:.0f}" for k in sides),
                     f"{per['pipeline'] / per['raw']:.2f}", f"{per['floor'] - per['raw']:+.0f}",
                     f"{own:+.0f}", f"{own / per['raw']:+.2f}"]  # fmt: skip
            print_row(cells)


if __name__ == "__main__":
    main()
