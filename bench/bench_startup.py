"""What starting the ``writeback`` command costs: ``writeback --help`` vs ``python -c pass``.

Usage: ``python bench/bench_startup.py [--rounds 15] [--command "--help"]``.

Each round runs, one right after the other, a bare interpreter
(``python -c pass``) and the command line the way a user runs it
(``python -m writeback --help``, every installed distribution's plugins
present), and takes the CPU each child process used (user + system, from
``resource.getrusage(RUSAGE_CHILDREN)``).  CPU rather than wall time, because
the machine is shared; the ratio per round (command / bare interpreter) rather
than absolute seconds, because both sides of a round meet the same load.  The
table gives the median and range of the ratios and each side's median CPU.
"""

from __future__ import annotations

import argparse
import resource
import shlex
import statistics
import subprocess
import sys


def child_cpu(argv: list[str]) -> float:
    """CPU seconds (user + system) one child process running ``argv`` used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--command", default="--help", help="arguments after 'writeback'")
    args = parser.parse_args()
    bare = [sys.executable, "-c", "pass"]
    command = [sys.executable, "-m", "writeback", *shlex.split(args.command)]
    child_cpu(command)  # warm the file cache and the .pyc files first
    ratios, bare_cpu, command_cpu = [], [], []
    for _ in range(args.rounds):
        base = child_cpu(bare)
        cost = child_cpu(command)
        bare_cpu.append(base)
        command_cpu.append(cost)
        ratios.append(cost / max(base, 1e-3))
    print(f"| measure (`writeback {args.command}`, {args.rounds} rounds) | value |")
    print("|---|---|")
    print(f"| `python -c pass`, median CPU | {statistics.median(bare_cpu) * 1000:.0f} ms |")
    print(
        f"| `writeback {args.command}`, median CPU | {statistics.median(command_cpu) * 1000:.0f} ms"
        f" (range {min(command_cpu) * 1000:.0f}-{max(command_cpu) * 1000:.0f}) |"
    )
    print(
        f"| ratio per round, median | {statistics.median(ratios):.1f}x "
        f"(range {min(ratios):.1f}-{max(ratios):.1f}) |"
    )


if __name__ == "__main__":
    main()
