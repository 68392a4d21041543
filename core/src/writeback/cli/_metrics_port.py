"""``writeback worker --metrics-port``: the worker process's counters over HTTP.

The core defines no metric.  It serves prometheus-client's default registry,
where the installed observers count (``writeback-server`` counts every attempt
there, the same definitions its ``serve`` exposes at ``/metrics``), so that one
piece of code feeds both endpoints and the core never imports the server.
prometheus-client is an optional dependency: it comes with ``writeback-server``.
"""

from __future__ import annotations

from .._errors import UserError
from .._registry import PluginRegistry

__all__ = ["serve_metrics"]

#: Said when prometheus-client is missing (exit 2, nothing started).
MISSING = (
    "--metrics-port needs prometheus-client, which writeback-server installs: "
    "pip install writeback-server."
)


def serve_metrics(host: str, port: int, registry: PluginRegistry) -> tuple[str, str | None]:
    """Serve ``/metrics`` on ``host:port`` from a daemon thread, for the process's life.

    :returns: the endpoint's URL (``port`` 0 picks a free one), and a note when
        no installed plugin observes attempts (the page then holds no writeback
        series).
    :raises UserError: without prometheus-client, or when the port cannot be bound.
    """
    try:
        from prometheus_client import start_http_server
    except ImportError:
        raise UserError(MISSING) from None
    try:
        server, _ = start_http_server(port, addr=host)
    except OSError as exc:
        raise UserError(
            f"--metrics-port {port}: cannot listen on {host}:{port} "
            f"({exc.strerror or exc}); give a free port."
        ) from None
    where = host if ":" not in host else f"[{host}]"
    url = f"http://{where}:{server.server_port}/metrics"
    note = None
    if not registry.observers():
        note = (
            "no installed plugin counts attempts, so /metrics holds no writeback_* "
            "series; install writeback-server for them."
        )
    return url, note
