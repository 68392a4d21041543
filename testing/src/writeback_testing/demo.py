"""``writeback demo``: the whole flow against local simulators.

Starts three webhook receivers on loopback (one failing twice before it
recovers, one requiring Basic auth, one verifying signatures), registers
connectors for two source apps, dispatches a batch of create/update/delete
events, drains them with the real worker, and prints what happened.
"""

from __future__ import annotations

import base64
import os
import tempfile
from typing import Any

from rich.console import Console

from .webhook import Step, WebhookReceiver

__all__ = ["DEMO_EVENTS", "demo_connectors", "run_demo"]

SIGNING_SECRET = "whsec_" + base64.b64encode(b"writeback-demo-signing-key-0001").decode()
BASIC = ("demo", "demo-password-not-for-production")


def demo_connectors(flaky: str, basic: str, signed: str) -> list[dict[str, Any]]:
    """The demo's connector rows, pointed at the three receivers."""
    return [
        {
            "name": "crm-webhook",
            "description": "CRONUSUS changes to a CRM; the receiver fails twice first",
            "type": "webhook",
            "uri": f"{flaky}/hooks/crm",
            "api_type": "json",
            "source_app": "CRONUSUS",
            "retry": {"schedule": [0.5, 1, 2, 4]},
        },
        {
            "name": "ops-basic",
            "description": "CRONUSUS creates and updates only, with Basic auth",
            "type": "webhook",
            "uri": f"{basic}/hooks/ops",
            "api_type": "rest",
            "source_app": "CRONUSUS",
            "crud_types": ["create", "update"],
            "auth": {"method": "basic", "username": BASIC[0], "password": BASIC[1]},
        },
        {
            "name": "field-signed",
            "description": "FIELDAPP changes, signed (Standard Webhooks), bare appointment",
            "type": "webhook",
            "uri": f"{signed}/hooks/field",
            "api_type": "json",
            "source_app": "FIELDAPP",
            "options": {"signing_secret": SIGNING_SECRET, "payload": "appointment"},
        },
    ]


def _event(n: int, action: str, guid: str, source: str, subject: str) -> dict[str, Any]:
    return {
        "id": f"demo-{n:03d}",
        "action": action,
        "occurred_at": f"2026-11-24T08:{n:02d}:00Z",
        "appointment": {
            "appointmentGuid": guid,
            "sourceApp": source,
            "sourceType": "SERVICE",
            "jobNo": "SO100",
            "taskNo": "10",
            "subject": subject,
            "start": "2026-11-25T08:00:00Z",
            "end": "2026-11-25T10:00:00Z",
            "resources": [{"resourceNo": "R-ANNA"}],
        },
    }


DEMO_EVENTS = [
    _event(1, "create", "A-1", "CRONUSUS", "Boiler check"),
    _event(2, "update", "A-1", "CRONUSUS", "Boiler check (moved)"),
    _event(3, "create", "A-2", "CRONUSUS", "Valve replacement"),
    _event(4, "delete", "A-2", "CRONUSUS", "Valve replacement"),
    _event(5, "create", "F-1", "FIELDAPP", "Site survey"),
    _event(6, "update", "F-1", "FIELDAPP", "Site survey (2 h)"),
    _event(7, "create", "X-1", "NOBODY", "An app with no connector"),
]


def run_demo(db_url: str | None, *, out: Console, err: Console) -> int:
    """Run the demo; return the exit code (0 when everything arrived as expected)."""
    from writeback import Dispatcher
    from writeback.cli._run_cmd import drain

    folder = None
    if db_url is None:
        folder = tempfile.mkdtemp(prefix="writeback-demo-")
        db_url = f"sqlite:///{os.path.join(folder, 'writeback.db')}"
    flaky = WebhookReceiver(
        plan={"/hooks/crm": [Step(503, retry_after=1), Step(503, retry_after=1)]}
    )
    basic = WebhookReceiver(basic_auth=BASIC)
    signed = WebhookReceiver(signing_secret=SIGNING_SECRET)
    with flaky, basic, signed, Dispatcher.open(db_url) as wb:
        out.print(f"[bold]writeback demo[/] on {db_url}")
        rows = demo_connectors(flaky.url, basic.url, signed.url)
        wb.connectors.add(rows, replace=True)
        for r in rows:
            out.print(f"  connector [cyan]{r['name']}[/]: {r['description']}")
        results = wb.submit_many(DEMO_EVENTS)
        made = sum(len(r.deliveries) for r in results)
        unmatched = [r.event_id for r in results if not r.deliveries]
        out.print(
            f"dispatched {len(results)} events -> {made} deliveries"
            + (f"; no connector for {', '.join(unmatched)}" if unmatched else "")
        )
        stats = drain(wb, until_idle=True, concurrency=8)
        _print_table(wb, out)
        signatures = [r.signature_valid for r in signed.deliveries]
        out.print(
            f"receivers: crm got {flaky.count()} requests ({flaky.count(503)} answered 503), "
            f"ops got {len(basic.deliveries)}, field got {len(signed.deliveries)} "
            f"(signatures valid: {all(signatures) and bool(signatures)})"
        )
        ok = stats.dead == 0 and all(signatures) and len(signed.deliveries) == 2
    db_flag = f"--db {db_url}"
    out.print("\nwhere to look next:")
    out.print(f"  writeback {db_flag} deliveries list")
    out.print(f"  writeback {db_flag} deliveries show <id>      every attempt of one delivery")
    out.print(f"  writeback {db_flag} connectors list")
    out.print("  writeback plugins                               what is installed")
    if not ok:
        err.print("demo: something did not arrive as expected (see the table above)")
    return 0 if ok else 1


def _print_table(wb: Any, out: Console) -> None:
    from rich.table import Table

    grid = Table(title="deliveries", title_justify="left")
    for column in (
        "delivery",
        "connector",
        "action",
        "appointment",
        "status",
        "attempts",
        "last error",
    ):
        grid.add_column(column, no_wrap=column in ("delivery", "status"))
    for row in wb.deliveries.list():
        grid.add_row(
            row.id,
            row.connector_name,
            row.action,
            row.appointment_key,
            row.status,
            str(row.attempts),
            (row.last_error or "")[:50],
        )
    out.print(grid)
