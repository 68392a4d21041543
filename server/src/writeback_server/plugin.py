"""writeback-server's plugin: the ``serve`` and ``api-keys`` commands, and the
attempt observer that feeds ``/metrics``.

Only descriptors and a small observer here: Starlette, uvicorn and
prometheus-client load when a command runs or the first attempt ends, so
listing commands costs them nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from writeback.plugin import AttemptFinished, CommandSpec, hookimpl


def _serve() -> Any:
    from ._serve_cmd import app

    return app


def _api_keys() -> Any:
    from ._keys_cmd import app

    return app


@hookimpl
def writeback_commands() -> Sequence[CommandSpec]:
    return [
        CommandSpec(
            name="serve",
            summary="Run the HTTP API (and with --worker, a worker) over the store.",
            factory=_serve,
        ),
        CommandSpec(
            name="api-keys",
            summary="API keys for 'writeback serve': create (shown once), list, revoke.",
            factory=_api_keys,
        ),
    ]


@hookimpl
def writeback_attempt_finished(record: AttemptFinished) -> None:
    from ._metrics import count_attempt

    count_attempt(record)
