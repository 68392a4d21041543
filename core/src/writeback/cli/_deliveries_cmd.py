"""``writeback deliveries …``: list, show, retry."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .._errors import UserError
from ._app import STATE, app
from ._output import iso, out, print_json, table

deliveries_app = typer.Typer(help="Inspect and replay deliveries.", no_args_is_help=True)
app.add_typer(deliveries_app, name="deliveries")

STATUSES = ("pending", "delivered", "dead", "superseded")
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def delivery_dict(row: Any) -> dict[str, Any]:
    """A delivery as ``deliveries list --json`` prints it (contract §5)."""
    return {
        "id": row.id,
        "event_id": row.event_id,
        "connector": row.connector_name,
        "action": row.action,
        "appointment": row.appointment_key,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def _short(text: str | None, limit: int = 60) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@deliveries_app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option("--status", help="pending, delivered, dead or superseded.")
    ] = None,
    connector: Annotated[str | None, typer.Option("--connector", help="Connector name.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List deliveries, oldest first."""
    if status is not None and status not in STATUSES:
        raise UserError(f"--status {status!r} is not a status; allowed: {', '.join(STATUSES)}.")
    rows = [
        delivery_dict(r)
        for r in STATE.dispatcher().deliveries.list(status=status, connector=connector)
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no deliveries match.")
        return
    table(
        None,
        ["id", "connector", "action", "appointment", "status", "attempts", "last_error", "updated"],
        [
            [
                r["id"],
                r["connector"],
                r["action"],
                r["appointment"],
                r["status"],
                r["attempts"],
                _short(r["last_error"]),
                r["updated_at"],
            ]
            for r in rows
        ],
    )


@deliveries_app.command("show")
def show(
    delivery_id: Annotated[str, typer.Argument(metavar="ID", help="Delivery id.")],
    as_json: JsonFlag = False,
) -> None:
    """Show one delivery with every attempt."""
    row, history = STATE.dispatcher().deliveries.get(delivery_id)
    data = delivery_dict(row)
    data["history"] = [
        {
            "n": h.n,
            "started_at": iso(h.started_at),
            "duration_ms": round(h.duration_ms, 1),
            "status_code": h.status_code,
            "outcome": h.outcome,
            "error": h.error,
        }
        for h in history
    ]
    if as_json:
        print_json(data)
        return
    for key in ("id", "event_id", "connector", "action", "appointment", "status", "attempts"):
        out.print(f"{key:12} {data[key]}", markup=False)
    if data["last_error"]:
        out.print(f"{'last_error':12} {data['last_error']}", markup=False)
    if history:
        table(
            "attempts",
            ["n", "started_at", "ms", "status", "outcome", "error"],
            [
                [
                    h["n"],
                    h["started_at"],
                    h["duration_ms"],
                    h["status_code"],
                    h["outcome"],
                    h["error"],
                ]
                for h in data["history"]
            ],
        )
    else:
        out.print("no attempts yet")


@deliveries_app.command("retry")
def retry(
    delivery_ids: Annotated[
        list[str] | None, typer.Argument(metavar="ID...", help="Delivery ids to replay.")
    ] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Replay every dead delivery.")] = False,
) -> None:
    """Re-queue deliveries (same id, same webhook-id); their history continues."""
    if bool(delivery_ids) == dead:
        raise UserError("give delivery ids or --dead (one of the two).")
    requeued = STATE.dispatcher().deliveries.retry(delivery_ids or (), all_dead=dead)
    out.print(f"re-queued {len(requeued)} delivery(ies); run 'writeback worker' to send them.")
