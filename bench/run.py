"""Run every benchmark in this folder, one after another; ``make bench`` calls it.

Each ``bench_*.py`` measures writeback against a baseline in the same run and
prints a markdown table of ratios; docs/benchmarks.md collects the figures.
Each takes its own options (``python bench/bench_outbox.py --help``); here they
run with their defaults.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n## {script.stem}\n", flush=True)
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
