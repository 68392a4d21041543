"""writeback as a service: an HTTP API, API keys, health and metrics over the store.

``create_app(...)`` builds the ASGI application; ``writeback serve`` runs it on
uvicorn.  docs/service.md describes the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["__version__", "create_app"]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Starlette loads with the app, not with the plugin module's package.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'writeback_server' has no attribute {name!r}")
