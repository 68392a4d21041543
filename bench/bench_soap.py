"""SOAP deliveries per second: writeback's soap format against raw POSTs, in one run.

Every row sends the same page ``Create`` to the same SOAP page simulator
(:class:`writeback_testing.soap_page.SoapPageServer`, in a child process so that
the server does not share the client's GIL), with the same concurrency:

- **raw POST**: a prebuilt envelope POSTed with requests, one Session per thread;
  the floor any SOAP client on requests pays.
- **soap format**: ``SoapFormat.send`` from asyncio, i.e. zeep serialising the
  record, the POST, zeep parsing the reply, and the classification.
- **… with NTLM**: the same two against pyspnego's real NTLM acceptor, with the
  NTLM handshakes per 1,000 deliveries (one per connection is the target).
- **outbox + worker** (when ``writeback-nav`` is installed): events dispatched
  into a SQLite outbox first, then timed through ``writeback worker --until-idle``,
  once with the row's ``throttle.max_concurrency`` and once without a throttle.

Run: ``.venv/bin/python bench/bench_soap.py [-n 1000] [--concurrency 8] [--rounds 3]``.
The WSDL fetch is made before the clock starts and reported on its own.
Prints a markdown table: each row's rate against its raw baseline (``/ raw``),
and the client's CPU per delivery (this process only; the page simulator runs
in its own), which moves less than wall time on a shared machine.  The no-auth
rows alternate for ``--rounds`` rounds and keep each side's best.  The machine
is noisy: compare rows of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

NTLM_USER, NTLM_PASSWORD = "CRONUS\\WEBUSER", "Ntlm-Pa55!"
BASIC_USER, BASIC_PASSWORD = "WEBUSER", "bench-password"
RECORD = {
    "Database_Action": "I",
    "Source_App": "CRONUSUS",
    "Appointment_Guid": "6f0c0000-0000-0000-0000-000000000001",
    "Subject": "Boiler check",
    "Start_Date_Time": "2026-11-24T08:00:00Z",
    "End_Date_Time": "2026-11-24T10:00:00Z",
    "Is_All_Day_Event": False,
    "Planning_Quantity": 2,
    "Resource_Nos": "R-ANNA",
}


# -- the server, in a child process -------------------------------------------------


def _serve(auth: str, conn: Any) -> None:
    from writeback_testing.soap_page import SoapPageServer

    acceptor: Any = None
    if auth == "ntlm":
        from writeback_testing.acceptors_windows import NtlmAcceptor

        acceptor = NtlmAcceptor({NTLM_USER: NTLM_PASSWORD})
    elif auth == "basic":
        from writeback_testing.acceptors import BasicAcceptor

        acceptor = BasicAcceptor({BASIC_USER: BASIC_PASSWORD})
    with SoapPageServer(auth=acceptor) as page:
        conn.send(page.page_url)
        conn.recv()  # "stop"
        stats = {
            "creates": page.count("Create", 200),
            "wsdl_gets": page.wsdl_gets,
            "connections": page.connections_accepted,
            "handshakes": acceptor.totals().started if auth == "ntlm" else None,
            "failed_handshakes": acceptor.totals().failed if auth == "ntlm" else None,
        }
    conn.send(stats)


class Page:
    """A page simulator in a child process."""

    def __init__(self, auth: str = "none") -> None:
        self._conn, child = mp.Pipe()
        self._process = mp.get_context("spawn").Process(
            target=_serve, args=(auth, child), daemon=True
        )
        self._process.start()
        self.url: str = self._conn.recv()

    def stop(self) -> dict[str, Any]:
        self._conn.send("stop")
        stats: dict[str, Any] = self._conn.recv()
        self._process.join(10)
        return stats


# -- the clients --------------------------------------------------------------------


def raw_posts(url: str, n: int, concurrency: int, auth: str) -> tuple[float, float]:
    """Seconds for ``n`` POSTs, and this process's CPU seconds for them."""
    import requests
    from writeback_testing.soap_page import request_envelope

    envelope = request_envelope("Appointment", "Create", {"Appointment": RECORD})
    headers = {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": '"urn:microsoft-dynamics-schemas/page/appointment:Create"',
    }
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            # As the format's Sessions: the environment is not re-read per request.
            local.session.trust_env = False
            if auth == "ntlm":
                from requests_ntlm import HttpNtlmAuth

                local.session.auth = HttpNtlmAuth(NTLM_USER, NTLM_PASSWORD)
        return local.session

    def post(_: int) -> None:
        answer = session().post(url, data=envelope, headers=headers, timeout=30)
        if answer.status_code != 200:
            raise RuntimeError(f"raw POST answered {answer.status_code}")

    with ThreadPoolExecutor(concurrency) as pool:
        # Untimed warm-up, as the format's first call is: connections (and
        # NTLM handshakes) are made here.
        list(pool.map(post, range(concurrency * 4)))
        cpu, started = time.process_time(), time.perf_counter()
        list(pool.map(post, range(n)))
        return time.perf_counter() - started, time.process_time() - cpu


def _context(url: str, concurrency: int, auth: str) -> Any:
    from pydantic import SecretStr
    from writeback import Connector, Throttle
    from writeback._secrets import reveal
    from writeback.plugin import NoSettings, PipelineContext

    row_auth: dict[str, Any] = {"method": "none"}
    settings: Any = NoSettings()
    if auth == "ntlm":
        from writeback_auth_windows.plugin import WindowsSettings

        settings = WindowsSettings(username=NTLM_USER, password=SecretStr(NTLM_PASSWORD))
        row_auth = {"method": "ntlm", "username": NTLM_USER, "password": NTLM_PASSWORD}
    context = PipelineContext(
        connector=Connector(
            name="bench",
            type="nav",
            uri=url,
            api_type="soap",
            source_app="CRONUSUS",
            auth=row_auth,
            throttle=Throttle(max_concurrency=concurrency),
        ),
        options=NoSettings(),
        auth_settings=settings,
        variant="default",
        transport="requests",
        reveal=reveal,
    )
    if auth == "ntlm":
        from dataclasses import replace

        from writeback.plugin import PluginRegistry

        mechanism = PluginRegistry.load().auth_method("ntlm").factory(context)
        context = replace(context, auth=mechanism)
    return context


def soap_format(url: str, n: int, concurrency: int, auth: str) -> tuple[float, float, float]:
    """Seconds for ``n`` deliveries, this process's CPU seconds for them, and seconds
    of the first one (WSDL fetch and parse)."""
    from writeback.plugin import NO_AUTH, OutboundMessage, Outcome
    from writeback_soap import SoapFormat

    context = _context(url, concurrency, auth)
    fmt = SoapFormat(context)
    message = OutboundMessage(url, operation="Create", payload=RECORD)

    async def send() -> Any:
        # As the pipeline does: the mechanism's per-attempt auth, then the send.
        attempt = await context.auth.attempt_auth() if context.auth is not None else NO_AUTH
        return await fmt.send(message, attempt)

    async def run() -> tuple[float, float, float]:
        started = time.perf_counter()
        first = await send()
        warm = time.perf_counter() - started
        if first.outcome is not Outcome.DELIVERED:
            raise RuntimeError(f"first delivery: {first.error}")
        await asyncio.gather(*(send() for _ in range(concurrency * 4 - 1)))
        cpu, started = time.process_time(), time.perf_counter()
        results = await asyncio.gather(*(send() for _ in range(n)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        await fmt.aclose()
        if bad := [r.error for r in results if r.outcome is not Outcome.DELIVERED]:
            raise RuntimeError(f"{len(bad)} not delivered, e.g. {bad[0]}")
        return elapsed, cpu, warm

    return asyncio.run(run())


def outbox_worker(url: str, n: int, concurrency: int, *, throttled: bool = True) -> float | None:
    """Seconds for ``writeback worker --until-idle`` to deliver ``n`` dispatched events.

    :param throttled: the row sets ``throttle.max_concurrency`` (every attempt then
        takes a share of its fleet-wide budget in the store); else ``throttle: {}``
        and the worker's ``--concurrency`` alone bounds it.
    """
    try:
        import writeback_nav  # noqa: F401
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "WRITEBACK_DB": f"sqlite:///{folder}/bench.db"}

        def cli(*args: str) -> None:
            subprocess.run(
                [sys.executable, "-m", "writeback", *args], env=env, check=True, capture_output=True
            )

        row = {
            "name": "nav-bench",
            "type": "nav",
            "api_type": "soap",
            "uri": url,
            "source_app": "CRONUSUS",
            "auth": {"method": "basic", "username": BASIC_USER, "password": BASIC_PASSWORD},
            "coalesce": False,
            "throttle": {"max_concurrency": concurrency} if throttled else {},
            "options": {"allow_insecure_http": True},
        }
        (Path(folder) / "row.json").write_text(json.dumps(row))
        events = (
            json.dumps(
                {
                    "id": f"e{i}",
                    "action": "create",
                    "appointment": {
                        "appointmentGuid": f"g{i}",
                        "sourceApp": "CRONUSUS",
                        "subject": "Boiler check",
                        "start": "2026-11-24T08:00:00Z",
                        "end": "2026-11-24T10:00:00Z",
                    },
                }
            )
            for i in range(n)
        )
        (Path(folder) / "events.jsonl").write_text("\n".join(events))
        cli("connectors", "add", f"{folder}/row.json")
        cli("dispatch", f"{folder}/events.jsonl")
        started = time.perf_counter()
        cli("worker", "--until-idle", "--concurrency", str(concurrency))
        return time.perf_counter() - started


# -- the table ----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="deliveries per row (default 1000)")
    parser.add_argument("--concurrency", type=int, default=8, help="threads / in flight (8)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds, best kept")
    args = parser.parse_args()
    n, c = args.n, args.concurrency
    #: (label, wall seconds, client CPU seconds or None, baseline row index, note)
    rows: list[tuple[str, float, float | None, int, str]] = []

    page = Page()
    raw, fmt, raw_cpu, fmt_cpu, warm = (float("inf"),) * 4 + (0.0,)
    for _ in range(args.rounds):
        # Alternating, so that a busy moment of the machine hits both sides.
        seconds, cpu = raw_posts(page.url, n, c, "none")
        raw, raw_cpu = min(raw, seconds), min(raw_cpu, cpu)
        seconds, cpu, warm = soap_format(page.url, n, c, "none")
        fmt, fmt_cpu = min(fmt, seconds), min(fmt_cpu, cpu)
    rows.append(("raw POST of a prebuilt envelope (requests)", raw, raw_cpu, 0, ""))
    rows.append(
        (
            "writeback-soap format (zeep + requests)",
            fmt,
            fmt_cpu,
            0,
            f"first call {warm * 1000:.0f} ms",
        )
    )
    stats = page.stop()
    notes = [
        f"no auth: {args.rounds} alternating rounds of each, best kept; WSDL GETs "
        f"{stats['wsdl_gets']} (one per format instance), connections {stats['connections']}"
    ]

    try:
        import writeback_auth_windows  # noqa: F401
        import writeback_testing.acceptors_windows  # noqa: F401
    except ImportError:
        notes.append("NTLM rows skipped: writeback-auth-windows is not installed")
    else:
        page = Page("ntlm")
        raw, raw_cpu = raw_posts(page.url, n, c, "ntlm")
        raw_stats = page.stop()
        page = Page("ntlm")
        elapsed, cpu, _ = soap_format(page.url, n, c, "ntlm")
        fmt_stats = page.stop()
        base = len(rows)
        for label, seconds, used, s in (
            ("raw POST, NTLM (requests-ntlm)", raw, raw_cpu, raw_stats),
            ("writeback-soap format, NTLM", elapsed, cpu, fmt_stats),
        ):
            per_1000 = s["handshakes"] * 1000 / s["creates"]
            rows.append(
                (
                    label,
                    seconds,
                    used,
                    base,
                    f"one round; {per_1000:.1f} handshakes / 1,000 ({s['handshakes']} on "
                    f"{s['connections']} connections, {s['failed_handshakes']} failed)",
                )
            )

    for throttled, label in (
        (True, f"throttle.max_concurrency {c}"),
        (False, "no throttle, --concurrency alone"),
    ):
        page = Page("basic")
        seconds = outbox_worker(page.url, n, c, throttled=throttled)
        page.stop()
        if seconds is None:
            notes.append("outbox rows skipped: writeback-nav is not installed")
            break
        rows.append(
            (
                f"outbox + `writeback worker` (nav, basic, SQLite), {label}",
                seconds,
                None,
                0,
                "dispatch not timed; worker start-up included",
            )
        )

    print(f"SOAP page `Create`, {n} deliveries per row, concurrency {c}\n")
    print(
        "| path | deliveries/s | ms per delivery (wall) | / raw "
        "| client CPU ms per delivery | notes |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for label, secs, used, base, note in rows:
        ratio = rows[base][1] / secs
        cpu = "" if used is None else f"{used * 1000 / n:.2f}"
        print(
            f"| {label} | {n / secs:,.0f} | {secs * 1000 / n:.2f} | {ratio:.2f} | {cpu} | {note} |"
        )
    print()
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
