"""How much of a generator's time is its kernel, and how much is fresh memory?

`bench speed` times each task's `generate` as a training loop calls it: every call returns new arrays,
which the kernel writes into. Memory the process has not touched yet (or gave back to the system) is
zeroed by the kernel of the operating system on first write, so those calls move each byte twice. This
script times each built-in task's `generate` twice in the same run, alternating:

- as returned: new arrays each call (what `bench speed` times), with the page faults per call;
- into arrays already written: the task module's array allocator is pointed, for the timing only, at
  one set of arrays reused by every call, so only the kernel's own work is left.

    python benchmarks/generator_memory.py --n 4096 --length 1000 --repeats 5 [--tasks copy]
"""

from __future__ import annotations

import contextlib
import resource
import sys
import time
from typing import Callable, Iterator

import click

import longdep_tasks as tasks

ALLOCATORS = ("token_arrays", "feature_arrays")  # what every built-in kernel allocates its x, y, mask with


@contextlib.contextmanager
def reused_arrays(task: tasks.Task) -> Iterator[None]:
    """Within the block, the task's kernel writes into the same arrays on every call of one shape."""
    module = sys.modules[task.kernel.__module__]
    saved = {name: getattr(module, name) for name in ALLOCATORS if hasattr(module, name)}
    kept: dict[tuple, tuple] = {}

    def reuse(allocate: Callable[..., tuple]) -> Callable[..., tuple]:
        return lambda *shape: kept.setdefault((allocate, shape), allocate(*shape))
    for name, allocate in saved.items():
        setattr(module, name, reuse(allocate))
    try:
        yield
    finally:
        for name, allocate in saved.items():
            setattr(module, name, allocate)


def seconds_and_faults(work: Callable[[], object]) -> tuple[float, int]:
    """Wall seconds and minor page faults of `work` run a second time in a row."""
    work()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    started = time.perf_counter()
    work()
    return time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults


@click.command()
@click.option("--n", default=4096, show_default=True, help="sequences per call")
@click.option("--length", default=1000, show_default=True)
@click.option("--repeats", default=5, show_default=True)
@click.option("--tasks", "names", default="", help="comma-separated task names (default: every built-in task, "
              "in one process, in order; what ran before changes what memory a call gets)")
def main(n: int, length: int, repeats: int, names: str) -> None:
    click.echo("| task | returned as new arrays (GB/s) | page faults per call | into arrays already written (GB/s) |")
    click.echo("|---|---|---|---|")
    for name in names.split(",") if names else tasks.names():
        task = tasks.get(name)
        size = sum(array.nbytes for array in task.generate(n, length, 0, "train"))
        fresh, mapped, faults = [], [], []
        for round_ in range(repeats):
            call = lambda: task.generate(n, length, 0, "train", n * (round_ + 1))  # noqa: E731
            seconds, count = seconds_and_faults(call)
            fresh.append(seconds)
            faults.append(count)
            with reused_arrays(task):
                mapped.append(seconds_and_faults(call)[0])
        click.echo(f"| {name} | {size / min(fresh) / 1e9:.1f} | {min(faults)}-{max(faults)} | "
                   f"{size / min(mapped) / 1e9:.1f} |")


if __name__ == "__main__":
    main()
