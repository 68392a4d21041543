"""pytest fixtures: bc simulators (filled in by its issue)."""

from __future__ import annotations
