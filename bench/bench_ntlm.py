"""Windows-auth handshakes per 1,000 SOAP deliveries, through the soap format and the nav type.

Each row sends ``-n`` page ``Create`` calls through ``Pipeline.send`` (the nav
connector type, the soap format: zeep over requests, one Session per worker
thread) to the SOAP page simulator guarded by a real acceptor, ``-c`` calls in
flight at once:

- **ntlm**: requests-ntlm against pyspnego's NTLM acceptor (``NTLM``);
- **windows, NTLM in Negotiate**: ``CRONUS\\WEBUSER`` against the Negotiate acceptor;
- **windows, Kerberos**: ``alice@WRITEBACK.TEST`` with a ticket from a throwaway
  KDC (skipped when the MIT KDC or the kerberos extra is missing).

The target is one handshake per connection: handshakes per 1,000 deliveries
should be the connection count (threads + the WSDL fetch), not 1,000.
Run: ``.venv/bin/python bench/bench_ntlm.py [-n 1000] [-c 8]``; prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

from writeback.plugin import Delivery, Pipeline, PluginRegistry, validate_connector
from writeback_testing._fixtures_windows import KERBEROS_USERS, NTLM_USERS, kerberos_missing_reason
from writeback_testing.acceptors_windows import NegotiateAcceptor, NtlmAcceptor
from writeback_testing.soap_page import SoapPageServer

NTLM_USER = "CRONUS\\WEBUSER"


def row(url: str, method: str, user: str, password: str, concurrency: int) -> dict[str, Any]:
    return {
        "name": "nav",
        "type": "nav",
        "api_type": "soap",
        "uri": url,
        "source_app": "CRONUSUS",
        "auth": {"method": method, "username": user, "password": password},
        "throttle": {"max_concurrency": concurrency},
    }


def delivery(i: int) -> Delivery:
    appointment = {"appointmentGuid": f"G{i}", "sourceApp": "CRONUSUS", "subject": "Boiler check"}
    return Delivery(
        id=f"d{i}", event_id=f"e{i}", action="create", appointment=appointment, occurred_at=None
    )


async def run(pipeline: Pipeline, n: int, concurrency: int) -> tuple[float, int]:
    gate = asyncio.Semaphore(concurrency)
    delivered = 0

    async def one(i: int) -> None:
        nonlocal delivered
        async with gate:
            result = await pipeline.send(delivery(i))
            delivered += result.outcome == "delivered"

    await pipeline.send(delivery(-1))  # warm: the WSDL and a first connection
    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - started, delivered


def measure(
    label: str,
    acceptor: Any,
    method: str,
    user: str,
    password: str,
    n: int,
    concurrency: int,
    registry: PluginRegistry,
) -> str:
    with SoapPageServer(auth=acceptor, instance="DynamicsNAV110") as page:
        connector = validate_connector(
            row(page.page_url, method, user, password, concurrency), registry
        )

        async def main() -> tuple[float, int]:
            pipeline = Pipeline.build(connector)
            try:
                return await run(pipeline, n, concurrency)
            finally:
                await pipeline.aclose()

        seconds, delivered = asyncio.run(main())
        totals = acceptor.totals()
        connections = page.connections_accepted
    per_1000 = totals.started * 1000 / (n + 1)
    return (
        f"| {label} | {concurrency} | {delivered}/{n} | {n / seconds:,.0f} | {connections} "
        f"| {totals.started} | {totals.failed} | {per_1000:.1f} |"
    )


@contextlib.contextmanager
def kdc() -> Iterator[Any]:
    from writeback_testing.kdc import TestKdc

    with TestKdc(KERBEROS_USERS) as realm, realm.activated():
        yield realm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="deliveries per row")
    parser.add_argument("-c", "--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    registry = PluginRegistry.load()
    lines = [
        "| auth | in flight | delivered | deliveries/s | connections | handshakes "
        "| failed | handshakes per 1,000 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    pw = NTLM_USERS[NTLM_USER]
    for c in args.concurrency:
        with NtlmAcceptor(NTLM_USERS) as acceptor:
            lines.append(measure("ntlm", acceptor, "ntlm", NTLM_USER, pw, args.n, c, registry))
        with NegotiateAcceptor(NTLM_USERS) as acceptor:
            lines.append(
                measure(
                    "windows, NTLM in Negotiate",
                    acceptor,
                    "windows",
                    NTLM_USER,
                    pw,
                    args.n,
                    c,
                    registry,
                )
            )
    reason = kerberos_missing_reason()
    if reason:
        lines.append(f"| windows, Kerberos | - | skipped: {reason} | | | | | |")
    else:
        with kdc():
            for c in args.concurrency:
                with NegotiateAcceptor() as acceptor:
                    lines.append(
                        measure(
                            "windows, Kerberos",
                            acceptor,
                            "windows",
                            "alice@WRITEBACK.TEST",
                            KERBEROS_USERS["alice"],
                            args.n,
                            c,
                            registry,
                        )
                    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
