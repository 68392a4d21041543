"""``writeback dispatch``, ``worker`` and ``plugins`` (and ``plugins check``).

``demo`` is a plugin's command (``writeback-testing``, ``writeback_commands``).
"""

from __future__ import annotations

import contextlib
import gc
import signal
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._app import STATE, app
from ._output import err, out, print_json, real_console, table

if TYPE_CHECKING:
    from .._dispatcher import Dispatcher
    from .._worker import Worker, WorkerStats

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Any]:
    """A progress bar on a terminal; nothing when stderr is a file or pipe."""
    if not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("delivering"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        console=real_console(err),
        transient=True,
    ) as bar:
        yield bar, bar.add_task("drain", total=total or None, detail="")


def drain(
    dispatcher: Dispatcher,
    *,
    until_idle: bool,
    concurrency: int,
    only: Collection[str] | None = None,
    retention: float | None = None,
    **options: Any,
) -> WorkerStats:
    """Run a worker with a progress display, stopping cleanly on SIGTERM/SIGINT.

    The first signal stops claiming and lets in-flight attempts finish (up to the
    grace period); a second one interrupts them (they stay pending). With
    ``only``, the worker stops once none of those deliveries is pending.
    """
    from .._worker import Worker
    from ._waiting import announce_waits

    total = dispatcher.deliveries.counts().get("pending", 0)
    with _progress(total) as progress:

        def on_progress(stats: WorkerStats) -> None:
            if progress is not None:
                bar, task = progress
                bar.update(
                    task,
                    completed=stats.delivered + stats.dead,
                    detail=f"ok {stats.delivered} retrying {stats.retried} dead {stats.dead}",
                )

        worker = Worker(
            dispatcher.store,
            dispatcher.registry,
            concurrency=concurrency,
            on_progress=on_progress,
            on_ready=freeze_what_start_made,
            **options,
        )
        import asyncio

        async def run() -> WorkerStats:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, worker.stop)
            watcher = asyncio.create_task(_stop_when_settled(dispatcher, worker, only))
            # On the worker's loop, its database work in a thread (``store._retention``).
            pruner = None
            if retention is not None:
                from ..store._retention import prune_periodically

                engine = dispatcher.store.engine
                pruner = asyncio.create_task(prune_periodically(engine, retention))
            # Run until idle, the wait for a later retry is said on stderr (_waiting).
            waits = (
                asyncio.create_task(announce_waits(dispatcher.store.engine)) if until_idle else None
            )
            try:
                return await worker.run(until_idle=until_idle)
            finally:
                watcher.cancel()
                if pruner is not None:
                    pruner.cancel()
                if waits is not None:
                    waits.cancel()

        return asyncio.run(run())


def freeze_what_start_made() -> None:
    """Leave what the process made to get started (modules, plugins, pipelines)
    out of every later garbage collection: the worker's ``on_ready``.

    It lives as long as the process, yet each full collection went over all of
    it, early in the work and at a cost worth avoiding (docs/benchmarks.md,
    "The worker's loop").  Collected first, so that no
    garbage is frozen with it.  The command owns its process; a host that runs a
    worker in its own process decides this for itself.
    """
    gc.collect()
    gc.freeze()


async def _stop_when_settled(
    dispatcher: Dispatcher, worker: Worker, only: Collection[str] | None
) -> None:
    if only is None:
        return
    import asyncio

    while True:
        await asyncio.sleep(0.2)
        if not dispatcher.store.outbox.pending_among(only):
            worker.stop()
            return


def _report(stats: WorkerStats) -> None:
    out.print(
        f"attempts {stats.attempts}, delivered {stats.delivered}, dead {stats.dead}, "
        f"still pending {stats.pending}"
    )
    for delivery_id in stats.dead_ids:
        out.print(f"dead: {delivery_id}  (see 'writeback deliveries show {delivery_id}')")


@app.command("dispatch")
def dispatch(
    source: Annotated[
        str, typer.Argument(metavar="FILE|-", help="Events: a JSON object, a list, or JSON Lines.")
    ],
    as_json: JsonFlag = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Deliver now; exit 1 if any delivery went dead.")
    ] = False,
) -> None:
    """Submit appointment events; print the deliveries made."""
    from .._dispatcher import parse_events
    from .._files import read_events

    events = parse_events(read_events(source))
    dispatcher = STATE.dispatcher()
    # Validated above, whole: submitted in batches, one transaction each.
    results = dispatcher.submit_many(events)
    # An event no connector matches is reported once, by the dispatcher's log line.
    if as_json:
        # Without "created": resubmitting a file prints exactly what it printed first.
        print_json([{k: v for k, v in r.to_dict().items() if k != "created"} for r in results])
    else:
        rows = [
            [r.event_id, c, d, "new" if r.created else "known"]
            for r in results
            for d, c in r.deliveries
        ]
        if rows:
            table(None, ["event", "connector", "delivery", "event was"], rows)
        out.print(f"{len(results)} event(s), {len(rows)} delivery(ies)")
    if wait:
        ours = {d for r in results for d, _ in r.deliveries}
        if ours:
            drain(dispatcher, until_idle=True, concurrency=8, only=ours)
        dead = [row.id for row in dispatcher.deliveries.list(status="dead") if row.id in ours]
        for delivery_id in dead:
            err.print(f"dead: {delivery_id}  (see 'writeback deliveries show {delivery_id}')")
        if dead:
            raise typer.Exit(1)


@app.command("worker")
def worker(
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Return once nothing is pending.")
    ] = False,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Attempts in flight at once.", min=1, max=1000)
    ] = 8,
    lease: Annotated[
        float,
        typer.Option(
            "--lease",
            metavar="SECONDS",
            help="How long a claim holds without renewal: after a crash, the "
            "deliveries in flight are taken up again this much later.",
            min=1,
            max=3600,
        ),
    ] = 60.0,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            metavar="SECONDS",
            help="On SIGTERM, how long in-flight attempts may finish before they are "
            "interrupted (a second SIGTERM interrupts at once).",
            min=0,
            max=3600,
        ),
    ] = 30.0,
    retention: Annotated[
        str | None,
        typer.Option(
            "--retention",
            metavar="DURATION",
            help="Also delete ended deliveries older than this (30d, 12h, 90m, 45s), "
            "as 'deliveries prune --older-than' does, at most once a minute.",
        ),
    ] = None,
    poll_interval: Annotated[
        float,
        typer.Option(
            "--poll-interval",
            metavar="SECONDS",
            help="How often an idle worker looks for work it was not told of "
            "(submits of other processes on SQLite).",
            min=0.05,
            max=86400,
        ),
    ] = 0.5,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            metavar="PORT",
            help="Serve this process's counters at http://HOST:PORT/metrics "
            "(Prometheus; needs writeback-server). 0: a free port.",
            min=0,
            max=65535,
        ),
    ] = None,
    metrics_host: Annotated[
        str,
        typer.Option("--metrics-host", metavar="ADDRESS", help="Address /metrics listens on."),
    ] = "127.0.0.1",
) -> None:
    """Send due deliveries; runs until SIGTERM/Ctrl-C, or with --until-idle until done."""
    retain = None
    if retention is not None:
        from ..store._retention import parse_duration

        retain = parse_duration(retention, "--retention")
    dispatcher = STATE.dispatcher()
    if metrics_port is not None:
        from ._metrics_port import serve_metrics

        url, note = serve_metrics(metrics_host, metrics_port, dispatcher.registry)
        err.print(f"writeback worker: metrics on {url}", markup=False, soft_wrap=True)
        if note is not None:
            err.print(f"note: {note}", markup=False)
    stats = drain(
        dispatcher,
        retention=retain,
        until_idle=until_idle,
        concurrency=concurrency,
        lease_seconds=lease,
        grace_seconds=grace,
        poll_interval=poll_interval,
    )
    _report(stats)


plugins_app = typer.Typer(
    help="Installed plugins and the support matrix they declare.",
    invoke_without_command=True,
    rich_markup_mode=None,
)
app.add_typer(plugins_app, name="plugins")


@plugins_app.callback(invoke_without_command=True)
def plugins(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Installed plugins and the support matrix they declare."""
    if ctx.invoked_subcommand is not None:
        return
    from .._registry import PluginRegistry

    registry = PluginRegistry.load()
    summary = registry.summary()
    if as_json:
        print_json(summary)
        return
    matrix = []
    for t in summary["connector_types"]:
        spec = registry.connector_types[t["name"]]
        for rule in spec.auth_rules:
            variant, fmt = spec.label(rule.variant), rule.api_format
            label = t["name"] if variant == "default" else f"{t['name']} ({variant})"
            installed = t["auth"][variant][fmt]
            accepted = registry.effective_methods(spec, rule.variant, fmt)
            missing = [
                f"{m} ({t['missing_auth'][m]})" if t["missing_auth"].get(m) else m
                for m in accepted
                if m not in installed
            ]
            matrix.append(
                [
                    label,
                    fmt,
                    ", ".join(installed),
                    ", ".join(missing),
                    t["distribution"],
                    t["version"],
                ]
            )
    table(
        "connector types",
        ["type", "api_type", "auth methods", "not installed", "distribution", "version"],
        matrix,
    )
    table(
        "API formats",
        ["name", "aliases", "transport", "distribution", "version"],
        [
            [f["name"], ", ".join(f["aliases"]), f["transport"], f["distribution"], f["version"]]
            for f in summary["api_formats"]
        ],
    )
    table(
        "auth methods",
        ["name", "transports", "distribution", "version"],
        [
            # No transports named: the method's credentials are headers, which
            # every format sends, whatever its transport.
            [
                a["name"],
                ", ".join(a["transports"]) or "any (headers)",
                a["distribution"],
                a["version"],
            ]
            for a in summary["auth_methods"]
        ],
    )
    for problem in summary["load_errors"]:
        err.print(
            f"load error: {problem['name']} ({problem['distribution']}): {problem['error']}",
            markup=False,
        )


@plugins_app.command("check")
def plugins_check() -> None:
    """Exit 0 when every installed plugin loads and passes the conformance checks, else 1."""
    from .._load_advice import with_advice
    from .._registry import PluginRegistry

    registry = PluginRegistry.load()
    for problem in registry.load_errors:
        line = with_advice(problem.distribution, problem.error)
        out.print(f"{problem.distribution}: {line}", markup=False)
    if registry.load_errors:
        raise typer.Exit(1)
    dists = sorted(
        {
            spec.distribution
            for table_ in (
                registry.connector_types,
                registry.api_formats,
                registry.auth_methods,
                registry.commands,
            )
            for spec in table_.values()
        }
    )
    out.print(f"ok: {len(dists)} distribution(s) pass: {', '.join(dists)}", markup=False)
