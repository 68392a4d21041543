"""Reading the delivery log over HTTP with 1,000,000 deliveries in the store.

Usage: ``python bench/bench_read.py [--deliveries 1000000] [--repeat 30] [--keep DIR]
[--postgresql]``.

The store is a fresh SQLite file made by ``Dispatcher.open`` (the current
schema), filled in seconds by bulk SQL: ``executemany`` of plain ``INSERT``s of
one event and one delivery each, in one transaction (no attempts: the listing
reads none), over three webhook connectors, in the mix of a store that has run
for a while: 97 % delivered, 2 % dead, 0.5 % pending, 0.5 % superseded.
``--keep DIR`` keeps (and reuses) the file.  ``--postgresql`` measures a
throwaway PostgreSQL database instead, filled the same way by one
``INSERT … SELECT … FROM generate_series`` per table, then ``ANALYZE`` (as
autovacuum would soon do).

Then ``writeback serve`` (no worker) answers, over one keep-alive httpx
connection, with a ``read`` key, each request ``--repeat`` times:

- the first page (``GET /v1/deliveries``, 100 items);
- filtered first pages: ``?status=dead``, ``?connector=…``, and both;
- a deep page: ``?after=`` a cursor 900,000 deliveries in (made with
  ``writeback._pages.encode_cursor``, as a client reaches it by following
  ``next``), and the same filtered by status;
- as the baseline of the same run, ``GET /healthz`` (no store, no auth): what
  HTTP itself costs on this machine.

Reported: p50 and p99 per request, in milliseconds; and each query's plan
(``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN`` on PostgreSQL), to show it walks
an index in ``seq`` order rather than sorting.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path

import httpx
from _serve import cli, command, free_port, quantile, running, wait_ready

CONNECTORS = ("hook-a", "hook-b", "hook-c")
#: A connector with few deliveries (one in 10,000): a filter that matches little
#: is the one a scan in ``seq`` order would pay for with the whole table.
RARE = "hook-rare"
MIX = (("delivered", 0.97), ("dead", 0.02), ("pending", 0.005), ("superseded", 0.005))


def build(path: Path, count: int) -> float:
    """Fill a new store at ``path`` with ``count`` deliveries; returns seconds taken."""
    from writeback import Dispatcher

    began = time.perf_counter()
    with Dispatcher.open(f"sqlite:///{path.as_posix()}") as wb:
        for name in (*CONNECTORS, RARE):
            wb.connectors.add(
                {
                    "name": name,
                    "type": "webhook",
                    "uri": f"http://127.0.0.1:9/{name}",
                    "api_type": "json",
                    "source_app": "BENCH",
                }
            )
        ids = {c.name: c.id for c in wb.connectors.list()}
    rng = random.Random(20)
    statuses = [s for s, _ in MIX]
    weights = [w for _, w in MIX]
    now = time.time() - count * 0.01
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous = OFF")
    with db:
        step = 50_000
        for start in range(0, count, step):
            events, rows = [], []
            for n in range(start, min(start + step, count)):
                at = now + n * 0.01
                event_id = f"ev-{n:07d}"
                key = f"BENCH|g-{n}"
                name = RARE if n % 10_000 == 5_000 else CONNECTORS[n % len(CONNECTORS)]
                status = rng.choices(statuses, weights)[0]
                payload = json.dumps({"id": event_id, "action": "create", "n": n})
                events.append((event_id, "create", "BENCH", key, payload, at))
                rows.append(
                    (n + 1, f"dlv_{n:026d}", event_id, ids[name], name, "create", key, status,
                     1 if status != "pending" else 0, 0, at, None, None,
                     "WB-301: refused" if status == "dead" else None,
                     400 if status == "dead" else 200, at, at + 0.2)
                )  # fmt: skip
            db.executemany(
                "INSERT INTO events (id, action, source_app, appointment_key, payload,"
                " submitted_at) VALUES (?, ?, ?, ?, ?, ?)",
                events,
            )
            db.executemany(
                "INSERT INTO deliveries (seq, id, event_id, connector_id, connector_name,"
                " action, appointment_key, status, attempts, replayed_after, next_attempt_at,"
                " lease_owner, lease_expires_at, last_error, last_status_code, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    db.close()
    return time.perf_counter() - began


def build_postgresql(url: str, count: int) -> float:
    """Fill the new PostgreSQL database at ``url`` as :func:`build` does a file."""
    from sqlalchemy import text
    from writeback import Dispatcher

    began = time.perf_counter()
    with Dispatcher.open(url) as wb:
        for name in (*CONNECTORS, RARE):
            wb.connectors.add({"name": name, "type": "webhook", "uri": f"http://127.0.0.1:9/{name}",
                               "api_type": "json", "source_app": "BENCH"})  # fmt: skip
        ids = {c.name: c.id for c in wb.connectors.list()}
        # The same mix as build(), by n: 97 % delivered, 2 % dead, 0.5 % each of the rest.
        name = (
            f"CASE WHEN n % 10000 = 5000 THEN '{RARE}' WHEN n % 3 = 0 THEN 'hook-a' "
            "WHEN n % 3 = 1 THEN 'hook-b' ELSE 'hook-c' END"
        )
        cid = " ".join(f"WHEN {name} = '{k}' THEN {v}" for k, v in ids.items())
        status = (
            "CASE WHEN n % 200 < 194 THEN 'delivered' WHEN n % 200 < 198 THEN 'dead' "
            "WHEN n % 200 = 198 THEN 'pending' ELSE 'superseded' END"
        )
        at = f"{time.time() - count * 0.01} + n * 0.01"
        with wb.store.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO events (id, action, source_app, appointment_key, payload,"
                " submitted_at) SELECT 'ev-' || n, 'create', 'BENCH', 'BENCH|g-' || n,"
                f" '{{}}', {at} FROM generate_series(0, {count - 1}) n"
            ))  # fmt: skip
            conn.execute(text(
                "INSERT INTO deliveries (seq, id, event_id, connector_id, connector_name,"
                " action, appointment_key, status, attempts, replayed_after,"
                " next_attempt_at, created_at, updated_at)"
                f" SELECT n + 1, 'dlv_' || lpad(n::text, 26, '0'), 'ev-' || n,"
                f" CASE {cid} END, {name}, 'create', 'BENCH|g-' || n, {status}, 1, 0,"
                f" {at}, {at}, {at} + 0.2 FROM generate_series(0, {count - 1}) n"
            ))  # fmt: skip
            conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('deliveries', 'seq'), {count + 1})"
            ))  # fmt: skip
        with wb.store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    return time.perf_counter() - began


def plans(url: str) -> list[tuple[str, str]]:
    """The plan of the listing's query, per filter."""
    from sqlalchemy import create_engine, select
    from writeback.store._schema import deliveries

    engine = create_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    found = []
    cases = {
        "first page": {},
        "status": {"status": "dead"},
        "connector": {"connector": "hook-b"},
        "both": {"status": "dead", "connector": "hook-b"},
        "rare": {"connector": RARE},
    }
    with engine.connect() as conn:
        for label, f in cases.items():
            query = select(deliveries).order_by(deliveries.c.seq).where(deliveries.c.seq > 900)
            if "status" in f:
                query = query.where(deliveries.c.status == f["status"])
            if "connector" in f:
                query = query.where(deliveries.c.connector_name == f["connector"])
            sql = str(query.limit(101).compile(engine, compile_kwargs={"literal_binds": True}))
            if sqlite:
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
                found.append((label, "; ".join(r[-1] for r in rows)))
            else:
                rows = conn.exec_driver_sql(f"EXPLAIN {sql}").scalars().all()
                found.append((label, "; ".join(r.strip() for r in rows if "Scan" in r)))
    engine.dispose()
    return found


def measure(db: str, count: int, repeat: int) -> dict[str, tuple[float, float, int]]:
    from writeback._pages import encode_cursor

    key = cli(db, "api-keys", "create", f"bench-{time.time_ns()}", "--scope", "read").strip()
    port = free_port()
    deep = int(count * 0.9)
    requests = {
        "healthz (baseline)": ("/healthz", {}),
        "first page": ("/v1/deliveries", {}),
        "status=dead": ("/v1/deliveries", {"status": "dead"}),
        "connector=hook-b": ("/v1/deliveries", {"connector": "hook-b"}),
        "status=dead&connector=hook-b": (
            "/v1/deliveries",
            {"status": "dead", "connector": "hook-b"},
        ),
        f"connector={RARE} (100 of them)": ("/v1/deliveries", {"connector": RARE}),
        f"after= cursor at {deep:,}": ("/v1/deliveries", {"after": encode_cursor(deep)}),
        f"status=dead&after= cursor at {deep:,}": (
            "/v1/deliveries",
            {"status": "dead", "after": encode_cursor(deep, status="dead")},
        ),
    }
    results = {}
    headers = {"Authorization": f"Bearer {key}"}
    with (
        running(command(db, "serve", "--port", str(port))),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        wait_ready(client)
        for label, (path_, params) in requests.items():
            times = []
            for _ in range(repeat + 2):
                began = time.perf_counter()
                answer = client.get(path_, params=params, headers=headers)
                times.append(time.perf_counter() - began)
                assert answer.status_code == 200, answer.text
            items = answer.json().get("items", [])
            times = times[2:]  # the first two warm the caches
            p50, p99 = quantile(times, 0.5), quantile(times, 0.99)
            results[label] = (1000 * p50, 1000 * p99, len(items))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()
    if args.postgresql:
        from cryptography.fernet import Fernet
        from writeback_testing.postgres import PostgresCluster

        # A server database takes its secrets key from the environment (serve's too).
        os.environ.setdefault("WRITEBACK_SECRET_KEY", Fernet.generate_key().decode())
        with PostgresCluster() as cluster:
            url = cluster.create_database()
            took = build_postgresql(url, args.deliveries)
            print(f"built {args.deliveries:,} deliveries in {took:.1f} s")
            results = measure(url, args.deliveries, args.repeat)
            found = plans(url)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            folder = args.keep or Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"read-{args.deliveries}.db"
            if not path.exists():
                took = build(path, args.deliveries)
                print(f"built {args.deliveries:,} deliveries in {took:.1f} s "
                      f"({path.stat().st_size / 1e6:,.0f} MB)")  # fmt: skip
            url = f"sqlite:///{path.as_posix()}"
            results = measure(url, args.deliveries, args.repeat)
            found = plans(url)
    for label, plan in found:
        print(f"plan, {label}: {plan}")
    kind = "PostgreSQL" if args.postgresql else "SQLite"
    print()
    print(f"| GET ({args.deliveries:,} deliveries, {kind}) | items | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    for label, (p50, p99, items) in results.items():
        print(f"| {label} | {items} | {p50:.1f} | {p99:.1f} |")


if __name__ == "__main__":
    main()
