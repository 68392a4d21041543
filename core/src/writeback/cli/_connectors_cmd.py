"""``writeback connectors …``: validate, add, list, show, enable, disable, remove, test."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .._errors import InvalidConnectorError
from ._app import STATE, app
from ._args import utf8_text
from ._output import err, out, print_json, table

connectors_app = typer.Typer(help="Manage connector rows.", no_args_is_help=True)
app.add_typer(connectors_app, name="connectors")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
NameArg = Annotated[str, typer.Argument(help="The connector's name.", callback=utf8_text)]
FileArg = Annotated[str, typer.Argument(help="JSON or YAML file: one connector or a list.")]


def _validate_file(path: str) -> list[Any]:
    """Validate every row of the file; report every problem of every row, then raise."""
    from .._files import read_rows
    from .._registry import PluginRegistry
    from .._validation import validate_connector

    rows = read_rows(path)
    registry = PluginRegistry.load()
    validated, problems = [], []
    for index, row in enumerate(rows):
        try:
            validated.append(validate_connector(row, registry))
        except InvalidConnectorError as exc:
            label = exc.connector_name or f"#{index + 1}"
            problems += [f"connector {label!r}: {p}" for p in exc.problems]
    if problems:
        raise InvalidConnectorError(problems)
    return validated


def _print_invalid(exc: InvalidConnectorError) -> None:
    err.print(f"error: {exc.code}: {len(exc.problems)} problem(s):", markup=False)
    for problem in exc.problems:
        err.print(f"  - {problem}", markup=False)


@connectors_app.command("validate")
def validate(file: FileArg) -> None:
    """Check a file of connector rows against the installed plugins (exit 0 valid, 2 not)."""
    try:
        validated = _validate_file(file)
    except InvalidConnectorError as exc:
        _print_invalid(exc)
        raise typer.Exit(2) from None
    for item in validated:
        for warning in item.warnings:
            err.print(f"warning: {warning}", markup=False)
    out.print(f"valid: {len(validated)} connector(s): {', '.join(v.name for v in validated)}")


@connectors_app.command("add")
def add(
    file: FileArg,
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite connectors with the same name.")
    ] = False,
) -> None:
    """Validate, then store every connector in the file (all or nothing)."""
    try:
        validated = _validate_file(file)
    except InvalidConnectorError as exc:
        _print_invalid(exc)
        raise typer.Exit(2) from None
    STATE.dispatcher().store.connectors.add(validated, replace=replace)
    for item in validated:
        for warning in item.warnings:
            err.print(f"warning: {warning}", markup=False)
    out.print(f"added {len(validated)} connector(s): {', '.join(v.name for v in validated)}")


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": row["name"],
        "type": row["type"],
        "api_type": row["api_type"],
        "auth": row.get("auth", {}).get("method"),
        "source_app": row["source_app"],
        "crud_types": row.get("crud_types"),
        "enabled": row["enabled"],
        "uri": row["uri"],
    }


@connectors_app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """List connectors (secrets as ***)."""
    from .._views import ConnectorView

    dispatcher = STATE.dispatcher()
    rows = [
        ConnectorView.of(c, dispatcher.registry).to_dict() for c in dispatcher.connectors.list()
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no connectors yet; add some with 'writeback connectors add FILE'.")
        return
    table(
        None,
        [
            "name",
            "type",
            "api_type",
            "auth",
            "source_app",
            "crud_types",
            "enabled",
            "paused",
            "uri",
        ],
        [
            [
                *list(_summary(r).values())[:5],
                ",".join(r.get("crud_types", ())),
                r["enabled"],
                r["paused"],
                r["uri"],
            ]
            for r in rows
        ],
    )


@connectors_app.command("show")
def show(name: NameArg, as_json: JsonFlag = False) -> None:
    """Show one connector row (secrets as ***), with the throttle and coalescing in effect."""
    from .._views import ConnectorView

    dispatcher = STATE.dispatcher()
    row = ConnectorView.of(dispatcher.connectors.get(name), dispatcher.registry).to_dict()
    if as_json:
        print_json(row)
        return
    import yaml

    out.print(yaml.safe_dump(row, sort_keys=False, allow_unicode=True).rstrip(), markup=False)


@connectors_app.command("enable")
def enable(name: NameArg) -> None:
    """Let dispatch select this connector again."""
    STATE.dispatcher().connectors.enable(name)
    out.print(f"enabled {name}")


@connectors_app.command("disable")
def disable(name: NameArg) -> None:
    """Make dispatch ignore this connector (queued deliveries still go out)."""
    STATE.dispatcher().connectors.disable(name)
    out.print(f"disabled {name}")


#: The longest ``--reason`` kept: a sentence, not a document.
REASON_LIMIT = 500


@connectors_app.command("pause")
def pause(
    name: NameArg,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            metavar="TEXT",
            help="Why, shown by 'connectors list/show' and 'deliveries stats' "
            f"(at most {REASON_LIMIT} characters).",
            callback=utf8_text,
        ),
    ] = None,
) -> None:
    """Stop sending this connector's deliveries (a back office in maintenance).

    Its deliveries stay pending and new events still queue for it;
    'writeback connectors resume NAME' sends them, in order.  Attempts a worker
    has already started finish.
    """
    from .._errors import UserError

    if reason is not None and len(reason) > REASON_LIMIT:
        raise UserError(f"--reason is {len(reason)} characters long; give at most {REASON_LIMIT}.")
    was_paused = STATE.dispatcher().connectors.pause(name, reason or None)
    note = " (it was paused already)" if was_paused else ""
    out.print(
        f"paused {name}{note}; its deliveries wait until 'writeback connectors resume {name}'",
        markup=False,
    )


@connectors_app.command("resume")
def resume(name: NameArg) -> None:
    """Send a paused connector's deliveries again, in order, and new ones as they come."""
    was_paused = STATE.dispatcher().connectors.resume(name)
    if was_paused:
        out.print(f"resumed {name}; a running worker sends its pending deliveries", markup=False)
    else:
        out.print(f"{name} was not paused; nothing changed", markup=False)


@connectors_app.command("remove")
def remove(name: NameArg) -> None:
    """Remove a connector; its pending deliveries become dead (kept in history)."""
    given_up = STATE.dispatcher().connectors.remove(name)
    note = f"; {given_up} pending delivery(ies) marked dead" if given_up else ""
    out.print(f"removed {name}{note}")


@connectors_app.command("test")
def test(name: NameArg) -> None:
    """Reach the endpoint and authenticate, writing nothing (exit 0 ok, 1 not)."""
    report = STATE.dispatcher().connectors.test(name)
    if report.ok:
        out.print(f"ok: {name}: {report.detail}", markup=False)
        return
    err.print(f"failed: {name}: {report.detail}", markup=False)
    raise typer.Exit(1)
