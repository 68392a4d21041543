"""pytest fixtures: tokens simulators (filled in by its issue)."""

from __future__ import annotations
