"""``python -m writeback``: the CLI."""

from writeback.cli import main

main()
