"""How much faster does a sweep finish with more worker processes?

Runs the same 6-cell `bench run` (whole commands, start-up included, as a user sees them) with
`--jobs 1` and with `--jobs N` into fresh folders, alternating, and prints the ratio of wall times.
Cells train with one thread each either way, so both sweeps give the same numbers.

    python benchmarks/jobs_speedup.py --jobs 2
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

import click

from bench.speed import LONG_SWEEP as SWEEP  # `bench speed` times the same sweep


def sweep_seconds(jobs: int) -> float:
    """Wall seconds of the whole sweep with `jobs` workers, into a fresh results folder."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bench", "run", *SWEEP, "--jobs", str(jobs), "--out", out],
                       check=True, capture_output=True)
        return time.perf_counter() - start


@click.command()
@click.option("--jobs", default=2, show_default=True)
@click.option("--repeats", default=2, show_default=True)
def main(jobs: int, repeats: int) -> None:
    serial, parallel = [], []
    for _ in range(repeats):
        serial.append(sweep_seconds(1))
        parallel.append(sweep_seconds(jobs))
    ratio = min(serial) / min(parallel)
    click.echo(f"6 cells: --jobs 1 {min(serial):.1f}s, --jobs {jobs} {min(parallel):.1f}s, speedup {ratio:.2f}x")


if __name__ == "__main__":
    main()
