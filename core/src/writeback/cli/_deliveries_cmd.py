"""``writeback deliveries …``: list, show, retry."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._errors import UserError
from ._app import STATE, app
from ._args import utf8_text
from ._output import err, one_line, out, print_json, table

deliveries_app = typer.Typer(help="Inspect and replay deliveries.", no_args_is_help=True)
app.add_typer(deliveries_app, name="deliveries")

if TYPE_CHECKING:
    from .._views import DeliveryView

# The statuses a delivery can have (docs/delivery.md, "Nothing is lost"); the
# store's STATUSES, repeated so that --help does not import the store.
STATUSES = ("pending", "delivered", "dead", "superseded")
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _short(text: str | None, limit: int = 60) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@deliveries_app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option("--status", help="pending, delivered, dead or superseded.")
    ] = None,
    connector: Annotated[
        str | None, typer.Option("--connector", help="Connector name.", callback=utf8_text)
    ] = None,
    limit: Annotated[
        int,
        typer.Option("--limit", min=0, help="List at most N deliveries (0: all).", metavar="N"),
    ] = 1000,
    after: Annotated[
        str | None,
        typer.Option(
            "--after",
            metavar="CURSOR",
            help="Start after the page that printed this cursor.",
            callback=utf8_text,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List deliveries, oldest first, a page of --limit at a time."""
    from .._pages import read_page

    if status is not None and status not in STATUSES:
        raise UserError(f"--status {status!r} is not a status; allowed: {', '.join(STATUSES)}.")
    page = read_page(
        STATE.dispatcher().store.outbox,
        status=status,
        connector=connector,
        limit=limit,
        after=after,
        field="--after",
    )
    rows = [d.to_dict() for d in page.items]
    if page.next is not None:
        # On stderr: --json's stdout stays the list it always was.
        err.print(f"more deliveries follow; for the next page: --after {page.next}", markup=False)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no deliveries match.")
        return
    table(
        None,
        [
            "id",
            "connector",
            "action",
            "appointment",
            "status",
            "attempts",
            "last_error",
            "updated",
            "next attempt",
        ],
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
                r["next_attempt_at"],
            ]
            for r in rows
        ],
    )


@deliveries_app.command("show")
def show(
    delivery_id: Annotated[
        str, typer.Argument(metavar="ID", help="Delivery id.", callback=utf8_text)
    ],
    as_json: JsonFlag = False,
) -> None:
    """Show one delivery with every attempt."""
    from .._views import DeliveryView

    view: DeliveryView = DeliveryView.of(*STATE.dispatcher().deliveries.get(delivery_id))
    data = view.to_dict()
    history = data["history"]
    if as_json:
        print_json(data)
        return
    # One line per field, whatever a value holds (an answer's newline could
    # otherwise print a line that passes for another field).
    for key in ("id", "event_id", "connector", "action", "appointment", "status", "attempts"):
        out.print(f"{key:12} {one_line(str(data[key]))}")
    if data["next_attempt_at"]:
        out.print(f"{'next attempt':12} {data['next_attempt_at']}")
    if data["last_error"]:
        out.print(f"{'last_error':12} {one_line(data['last_error'])}")
    if history:
        table(
            "attempts",
            ["n", "started_at", "ms", "status", "outcome", "code", "error"],
            [
                [
                    h["n"],
                    h["started_at"],
                    h["duration_ms"],
                    h["status_code"],
                    h["outcome"],
                    h["code"],
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
        list[str] | None,
        typer.Argument(metavar="ID...", help="Delivery ids to replay.", callback=utf8_text),
    ] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Replay every dead delivery.")] = False,
    connector: Annotated[
        str | None,
        typer.Option(
            "--connector",
            help="Replay the dead deliveries of this connector.",
            callback=utf8_text,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="TIME",
            help="Replay dead deliveries submitted since TIME: ISO-8601, or an age "
            "like 2h, 30m, 7d.",
        ),
    ] = None,
) -> None:
    """Re-queue deliveries (same id, same webhook-id); their history continues."""
    by_filter = dead or connector is not None or since is not None
    if bool(delivery_ids) == by_filter:
        raise UserError("give delivery ids or --dead, --connector, --since (one of the two kinds).")
    dispatcher = STATE.dispatcher()
    if connector is not None:
        dispatcher.connectors.get(connector)  # an unknown name is a mistake, not "0 re-queued"
    requeued = dispatcher.deliveries.retry(
        delivery_ids or (),
        all_dead=dead,
        connector=connector,
        since=parse_since(since) if since is not None else None,
    )
    out.print(f"re-queued {len(requeued)} delivery(ies); run 'writeback worker' to send them.")


_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, *, now: float | None = None) -> float:
    """``--since``: an ISO-8601 time (UTC unless it says otherwise) or an age (``2h``)."""
    now = time.time() if now is None else now
    match = _AGE.match(text.strip())
    if match:
        return now - float(match.group(1)) * _UNIT[match.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(
            f"--since {text!r} is not a time; give an ISO-8601 time like "
            "2026-11-24T10:00:00Z or an age like 2h, 30m or 7d."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@deliveries_app.command("stats")
def stats(as_json: JsonFlag = False) -> None:
    """Deliveries by status per connector, the oldest pending, and the ledger check.

    The ledger balances when every delivery submitted is delivered, dead,
    superseded or pending; exit 1 when it does not.
    """
    from .._views import StatsView

    result = StatsView.of(STATE.dispatcher().deliveries.stats())
    data = result.to_dict()
    rows = [*data["connectors"], data["totals"]]
    if as_json:
        print_json(data)
    else:
        table(
            None,
            ["connector", *STATUSES, "pruned", "submitted", "oldest pending", "ledger", "paused"],
            [
                [
                    r["connector"],
                    *(r[s] for s in STATUSES),
                    r["pruned"],
                    r["submitted"],
                    _age(r["oldest_pending_age_s"]),
                    "balanced" if r["balanced"] else "UNBALANCED",
                    _paused(r),
                ]
                for r in rows
            ],
        )
        out.print(f"{result.attempts} attempt(s) recorded")
    if not result.balanced:
        raise typer.Exit(1)


def _paused(row: dict[str, Any]) -> str:
    """``paused: reason`` (shortened), ``paused``, or nothing."""
    if not row.get("paused"):
        return ""
    reason = row.get("paused_reason")
    return f"paused: {one_line(reason)[:60]}" if reason else "paused"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


@deliveries_app.command("prune")
def prune(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            metavar="DURATION",
            help="Delete ended deliveries last updated longer ago than this: a whole "
            "number and d, h, m or s, like 30d, 12h, 90m, 45s.",
        ),
    ],
    status: Annotated[
        str,
        typer.Option(
            "--status",
            metavar="S,…",
            help="Which ended statuses to delete, comma-separated: delivered, "
            "superseded, dead (default: all three). Pending deliveries are never deleted.",
        ),
    ] = "delivered,superseded,dead",
    as_json: JsonFlag = False,
) -> None:
    """Delete ended deliveries older than --older-than, with their attempts and the
    events no delivery refers to any more.

    Never a pending delivery.  What was deleted is still counted by
    'deliveries stats' (its pruned column), so the ledger still balances.  Runs
    in small batches, so workers go on delivering meanwhile.  On SQLite the file
    does not shrink: its free pages are reused for new deliveries (VACUUM gives
    them back to the disk).
    """
    from ..store._retention import parse_duration, parse_statuses

    # Both checked before the store is opened: bad input changes nothing.
    seconds = parse_duration(older_than, "--older-than")
    statuses = parse_statuses(status, "--status")
    result = STATE.dispatcher().deliveries.prune(seconds, statuses)
    if as_json:
        print_json(
            {
                "deliveries": result.total,
                "by_status": {s: result.deliveries.get(s, 0) for s in statuses},
                "attempts": result.attempts,
                "events": result.events,
            }
        )
        return
    by_status = ", ".join(f"{s} {result.deliveries.get(s, 0)}" for s in statuses)
    out.print(
        f"pruned {result.total} delivery(ies) older than {older_than.strip()} ({by_status}), "
        f"{result.attempts} attempt(s) and {result.events} event(s)",
        markup=False,
    )
