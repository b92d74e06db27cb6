"""What a sweep will cost on this machine, measured rather than guessed.

A training step of a recurrent model costs a + b * T for a sequence of T steps (the recurrence is
sequential in T; a and b depend on the model, its width and depth, the batch, the device and the thread
count). For each distinct shape the driver times a few steps at two short lengths, fits a and b, and
caches them per machine (CPU, GPU, library versions) in ~/.cache/bench (`BENCH_CACHE` moves it), so
a shape is timed once per machine. A cell's estimate is its whole step budget plus its evaluations: an
upper bound when cells stop at a solve. Attention's cost grows faster than linearly in T, so the
transformer's estimate at long lengths is a lower bound.

The estimates weigh the progress bar's ETA, decide whether worker processes pay for their start-up,
feed `bench run --dry-run`, and warn before a run of more than an hour.
"""

from __future__ import annotations

import heapq
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from bench.sweep import Cell, content_hash

MIN_TIMED_SECONDS = 0.05  # per length: short steps are repeated until the timing means something
MAX_TIMED_STEPS = 20
CALIBRATION_LENGTHS = (16, 64)  # task lengths (raised to the task's minimum) the fit is timed at
EVAL_FORWARD_SHARE = 1 / 3  # a forward pass without backward or the optimizer, as a share of a step
WORKER_START_SECONDS = 4.0  # spawn + import torch and numba + load kernels, before the first measurement
LONG_RUN_SECONDS = 3600


@dataclass(frozen=True)
class StepCost:
    """Seconds of one training step at sequence length T: fixed + per_step * T."""

    fixed: float
    per_step: float

    def at(self, steps: int) -> float:
        return max(self.fixed + self.per_step * steps, 1e-6)


def cache_path() -> Path:
    """Where fitted step costs and the measured worker start-up are kept between runs."""
    root = os.environ.get("BENCH_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bench"
    return Path(root) / "cost.json"


def _machine_key() -> str:
    from bench.provenance import machine

    return content_hash(machine())[:16]


class CostModel:
    """Fitted step costs per shape on this machine, loaded from and saved to the cache file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_path()
        self.machine = _machine_key()
        self._all = self._load()
        self.entries: dict[str, Any] = self._all.setdefault(self.machine, {})

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}  # no cache yet, or an unreadable one: time again

    def save(self) -> None:
        """Write the cache (renamed into place, so a reader never sees half of it); a cache that cannot be
        written only costs a re-timing. Not a result: it bypasses the store's fsynced writes."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".cost.", suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(handle, "w") as file:
                json.dump(self._all, file, indent=1, sort_keys=True)
            os.replace(temporary, self.path)
        except OSError:
            Path(temporary).unlink(missing_ok=True)

    def step_cost(self, cell: Cell) -> StepCost:
        """The fitted step cost of `cell`'s shape, timed now if this machine has not timed it before."""
        shape = shape_key(cell)
        if shape not in self.entries:
            self.entries[shape] = fit_step_cost(cell).__dict__
            self.save()
        return StepCost(**self.entries[shape])

    def cell_seconds(self, cell: Cell) -> float:
        """Seconds for `cell` to train its whole budget and run its evaluations."""
        import longdep_tasks as tasks

        budget = cell.train
        step = self.step_cost(cell).at(tasks.get(cell.task).seq_len(cell.length))
        evaluations = budget.steps // budget.eval_every + 2  # the curve's points, then the test split
        eval_batches = evaluations * max(1, budget.eval_size / budget.batch_size)
        return step * (budget.steps + EVAL_FORWARD_SHARE * eval_batches)

    @property
    def worker_start(self) -> float:
        """Seconds until a worker process can train: measured on this machine once workers have run."""
        return float(self.entries.get("worker_start", WORKER_START_SECONDS))

    def record_worker_start(self, seconds: float) -> None:
        self.entries["worker_start"] = round(seconds, 3)
        self.save()


def shape_key(cell: Cell) -> str:
    """What decides a step's cost besides the length."""
    size, budget = cell.model_config, cell.train
    return (f"{cell.task}|{cell.model}|h{size.hidden}x{size.layers}|b{budget.batch_size}|"
            f"{cell.device_kind}|t{cell.threads}")


def fit_step_cost(cell: Cell) -> StepCost:
    """Time training steps of `cell`'s shape at two short lengths and fit fixed + per_step * T."""
    import longdep_tasks as tasks

    task = tasks.get(cell.task)
    short = max(task.min_length, CALIBRATION_LENGTHS[0])
    long = max(short * 4, CALIBRATION_LENGTHS[1])
    (t1, s1), (t2, s2) = ((task.seq_len(length), seconds_per_step(cell, length)) for length in (short, long))
    per_step = max((s2 - s1) / (t2 - t1), 0.0)
    return StepCost(fixed=max(s1 - per_step * t1, 0.0), per_step=per_step)


def seconds_per_step(cell: Cell, length: int | None = None) -> float:
    """Wall seconds of one training step (data, forward, backward, Adam) of `cell`'s shape at `length`."""
    import torch

    import longdep_tasks as tasks
    from bench.train import backward, seeded_model, to_device

    task, length = tasks.get(cell.task), length or cell.length
    device = torch.device(cell.device)
    threads = torch.get_num_threads()
    if cell.device_kind == "cpu":
        torch.set_num_threads(cell.threads)
    try:
        model = seeded_model(cell, task).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=cell.train.lr)

        def step() -> None:
            batch = to_device(task.generate(cell.train.batch_size, length, cell.seed, "train", 0), device)
            backward(model, optimizer, task, batch, cell.train.clip)
            optimizer.step()

        step()  # warm-up: allocations, kernel selection, compiling the task's kernel
        _synchronize(device)
        started, steps = time.perf_counter(), 0
        while steps < MAX_TIMED_STEPS and (steps < 2 or time.perf_counter() - started < MIN_TIMED_SECONDS):
            step()
            steps += 1
        _synchronize(device)
        return (time.perf_counter() - started) / steps
    finally:
        torch.set_num_threads(threads)


def _synchronize(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def makespan(seconds: Iterable[float], slots: int) -> float:
    """Wall seconds for cells of these durations, in this order, each taken by the first free slot of
    `slots` (as the executors hand them out): one long cell cannot be shared out."""
    free = [0.0] * max(1, slots)
    for duration in seconds:
        heapq.heapreplace(free, free[0] + duration)
    return max(free)


def workers_pay(serial_seconds: float, jobs: int, worker_start: float) -> bool:
    """Do `jobs` worker processes finish sooner than training in this process? They start together in
    about `worker_start` seconds, then share the work; this process has already paid its start-up."""
    return jobs > 1 and worker_start + serial_seconds / jobs < serial_seconds


def seconds_text(seconds: float) -> str:
    """`3 s`, `12 min`, `2.5 h`, `4.1 days`."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 3 * 86400 else f"{seconds / 86400:.1f} days"
