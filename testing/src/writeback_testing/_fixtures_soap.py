"""pytest fixtures: soap simulators (filled in by its issue)."""

from __future__ import annotations
