"""``writeback keys …``: make a key, and re-encrypt every stored secret with the first key."""

from __future__ import annotations

from typing import Annotated

import typer

from ._app import STATE, app
from ._output import err, out, print_json

keys_app = typer.Typer(help="Keys for secrets at rest: generate, rotate.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("generate")
def generate() -> None:
    """Print a new Fernet key (for WRITEBACK_SECRET_KEY); nothing is stored."""
    from .._keyring import generate_key

    out.print(generate_key().decode(), markup=False)


@keys_app.command("rotate")
def rotate(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Re-encrypt every stored secret and token with the first key (workers may keep running).

    With WRITEBACK_SECRET_KEY=NEW,OLD: with NEW.  With a key file: a new key is
    written into it first, and the old keys are removed once all is re-encrypted.
    """
    from .._keyring import KEY_ENV, env_keys
    from ..store import DEFAULT_DB_URL, Store
    from ..store._rotation import rotate_keys

    store = Store.open(STATE.db or DEFAULT_DB_URL)
    try:
        keys = env_keys()
        report = rotate_keys(store)
    finally:
        store.close()
    if as_json:
        print_json(
            {
                "source": report.source,
                "connectors": report.connectors,
                "secrets": report.secrets,
                "tokens": report.tokens,
                "tokens_forgotten": report.tokens_forgotten,
                "keys_removed": report.keys_removed,
            }
        )
        return
    done = (
        f"re-encrypted {report.secrets} secret(s) in {report.connectors} connector(s) "
        f"and {report.tokens} token(s)"
    )
    if keys:
        out.print(f"{done} with the first key of {KEY_ENV}.", markup=False)
        if len(keys) == 1:
            err.print(
                f"note: {KEY_ENV} holds one key; to rotate, put a new key first and the "
                "old one after it (NEW,OLD), then run this again.",
                markup=False,
            )
    else:
        out.print(
            f"wrote a new key into {report.source}; {done} with it; removed the "
            f"{report.keys_removed} old key(s) from the file.",
            markup=False,
        )
    if report.tokens_forgotten:
        err.print(
            f"note: {report.tokens_forgotten} access token(s) no key opens were forgotten; "
            "workers fetch new ones.",
            markup=False,
        )
