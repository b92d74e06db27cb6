"""What a sweep will cost on this machine, measured rather than guessed.

A training step of a recurrent model costs a + b * T for a sequence of T steps (the recurrence is
sequential in T; a and b depend on the model, its width and depth, the batch, the device and the thread
count). For each distinct shape the driver times steps at two short lengths, in three alternating rounds
(the median of each length; their spread says how noisy the machine was), fits a and b, and caches them per
machine (CPU, GPU, library versions) in ~/.cache/bench (`BENCH_CACHE` moves it), with when and under what
load they were timed. A fit is never trusted blindly:

- an impossible one (a step that costs nothing, or less at the longer length) is timed again, and if it is
  still impossible the long length's cost is taken as proportional to T (an upper bound);
- a cached fit older than STALE_SECONDS, or from an older fitting method, is timed again;
- a finished cell whose steps took over DISAGREEMENT times more or less than the fit said drops the fit, so
  the next estimate times the shape again (`bench run --refit-costs` drops a sweep's fits on demand).

A cell's estimate is its whole step budget plus its evaluations: an upper bound when cells stop at a solve.
Every estimate is printed as a range, widened by the timing spread (at least BAND either way). Attention's
cost grows faster than linearly in T, so the transformer's estimate at long lengths is a lower bound.

The estimates weigh the progress bar's ETA, decide whether worker processes pay for their start-up,
feed `bench run --dry-run`, and are said before a run starts.
"""

from __future__ import annotations

import heapq
import json
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from bench.sweep import Cell, content_hash

MIN_TIMED_SECONDS = 0.02  # per length and round: short steps are repeated until the timing means something
MAX_TIMED_STEPS = 20
TIMING_ROUNDS = 3
FIT_FORMAT = 2  # the fitting method: cached fits of another method are timed again
STALE_SECONDS = 30 * 86400  # a month: a driver update or a new neighbour on the machine changes costs
DISAGREEMENT = 2.0  # a finished cell this many times off its estimate (either way) drops the fit
BAND = 1.25  # every estimate's range is at least estimate / BAND .. estimate * BAND
MAX_BAND = 3.0
OBSERVED_MIN_SECONDS = 2.0  # shorter cells are mostly start-up: they say nothing about the step cost
CALIBRATION_LENGTHS = (16, 64)  # task lengths (raised to the task's minimum) the fit is timed at
EVAL_FORWARD_SHARE = 1 / 3  # a forward pass without backward or the optimizer, as a share of a step
WORKER_START_SECONDS = 4.0  # spawn + import torch and numba + load kernels, before the first measurement


@dataclass(frozen=True)
class StepCost:
    """Seconds of one training step at sequence length T: fixed + per_step * T; `spread`: the largest
    ratio between timing rounds of one length (1: no noise); when and under what load (the 1-minute load
    average per core) it was timed."""

    fixed: float
    per_step: float
    spread: float = 1.0
    timed_at: float = 0.0
    load: float = 0.0
    format: int = 0  # FIT_FORMAT for fits made by fit_step_cost; a cache entry without one is stale

    def at(self, steps: int) -> float:
        return max(self.fixed + self.per_step * steps, 1e-6)

    @property
    def possible(self) -> bool:
        """A recurrence costs something per time step, and a step costs something."""
        return self.per_step > 0 and self.fixed >= 0

    def stale(self, now: float | None = None) -> bool:
        return (self.format != FIT_FORMAT or not self.possible
                or (now or time.time()) - self.timed_at > STALE_SECONDS)


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

    def cached(self, cell: Cell) -> StepCost | None:
        """The cached fit of `cell`'s shape, or None when there is none, or it is stale or impossible."""
        entry = self.entries.get(shape_key(cell))
        try:
            fit = StepCost(**entry) if isinstance(entry, dict) else None
        except TypeError:  # written by another version of this module
            return None
        return None if fit is None or fit.stale() else fit

    def step_cost(self, cell: Cell) -> StepCost:
        """The fitted step cost of `cell`'s shape, timed now unless a fresh, possible fit is cached."""
        fit = self.cached(cell)
        if fit is None:
            fit = fit_step_cost(cell)
            self.entries[shape_key(cell)] = asdict(fit)
            self.save()
        return fit

    def cell_seconds(self, cell: Cell, steps: int | None = None) -> float:
        """Seconds for `cell` to train its whole budget (or `steps` steps) and run its evaluations."""
        import longdep_tasks as tasks

        budget = cell.train
        steps = budget.steps if steps is None else steps
        step = self.step_cost(cell).at(tasks.get(cell.task).seq_len(cell.length))
        evaluations = steps // budget.eval_every + 2  # the curve's points, then the test split
        eval_batches = evaluations * max(1, budget.eval_size / budget.batch_size)
        return step * (steps + EVAL_FORWARD_SHARE * eval_batches)

    def band(self, cells: Iterable[Cell]) -> float:
        """How far either way the estimate of these cells may be off: the widest timing spread of their
        shapes, at least BAND, at most MAX_BAND."""
        spreads = [fit.spread for fit in map(self.cached, cells) if fit is not None]
        return min(max([BAND, *spreads]), MAX_BAND)

    def forget(self, cells: Iterable[Cell]) -> int:
        """Drop the fits of these cells' shapes (`--refit-costs`): they are timed again when next needed."""
        shapes = {shape_key(cell) for cell in cells} & set(self.entries)
        for shape in shapes:
            del self.entries[shape]
        if shapes:
            self.save()
        return len(shapes)

    def observe(self, cell: Cell, record: dict[str, Any]) -> bool:
        """Check a finished cell's measured time against its fit; drop the fit (it is timed again next time)
        when they disagree by more than DISAGREEMENT either way. True when it was dropped."""
        seconds, steps = record.get("seconds") or 0.0, record.get("steps") or 0
        if record.get("status") == "failed" or seconds < OBSERVED_MIN_SECONDS or not steps or \
                self.cached(cell) is None:
            return False
        ratio = seconds / max(self.cell_seconds(cell, steps), 1e-9)
        if 1 / DISAGREEMENT <= ratio <= DISAGREEMENT:
            return False
        return self.forget([cell]) > 0

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


def fit_step_cost(cell: Cell, timer: Any = None) -> StepCost:
    """Time training steps of `cell`'s shape at two short lengths and fit fixed + per_step * T; an
    impossible fit is timed again once, then replaced by the proportional upper bound (see the module)."""
    import longdep_tasks as tasks

    timer = timer or step_timer(cell)
    task = tasks.get(cell.task)
    short = max(task.min_length, CALIBRATION_LENGTHS[0])
    long = max(short * 4, CALIBRATION_LENGTHS[1])
    t1, t2 = task.seq_len(short), task.seq_len(long)
    for _ in range(2):
        (s1, spread1), (s2, spread2) = _timed_rounds(cell, timer, (short, long))
        per_step = (s2 - s1) / (t2 - t1)
        fit = StepCost(s1 - per_step * t1, per_step, max(spread1, spread2), time.time(), _load(), FIT_FORMAT)
        if fit.possible:
            return fit
    return StepCost(0.0, max(s2, s1, 1e-6) / t2, fit.spread, fit.timed_at, fit.load, FIT_FORMAT)


def _timed_rounds(cell: Cell, timer: Any, lengths: tuple[int, int]) -> list[tuple[float, float]]:
    """Per length: the median seconds per step over TIMING_ROUNDS rounds (the lengths alternating, so a
    slow spell falls on both) and the ratio of its slowest round to its fastest."""
    rounds = [[timer(cell, length) for length in lengths] for _ in range(TIMING_ROUNDS)]
    results = []
    for times in zip(*rounds):
        ordered = sorted(times)
        results.append((ordered[len(ordered) // 2], ordered[-1] / max(ordered[0], 1e-9)))
    return results


def _load() -> float:
    """The 1-minute load average per core (0 where the system does not say)."""
    try:
        return round(os.getloadavg()[0] / (os.cpu_count() or 1), 2)
    except OSError:
        return 0.0


def step_timer(cell: Cell) -> Callable[[Cell, int], float]:
    """A timer of `cell`'s shape: its model and optimizer are built once, and each call times training steps
    at a length (the first call at a length warms it up: allocations, kernel selection, the task's kernel)."""
    import torch

    import longdep_tasks as tasks
    from bench.train import backward, seeded_model, to_device

    task, device = tasks.get(cell.task), torch.device(cell.device)
    with _threads(cell):
        model = seeded_model(cell, task).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cell.train.lr)
    warm: set[int] = set()

    def step(length: int) -> None:
        batch = to_device(task.generate(cell.train.batch_size, length, cell.seed, "train", 0), device)
        backward(model, optimizer, task, batch, cell.train.clip)
        optimizer.step()

    def timed(_: Cell, length: int) -> float:
        with _threads(cell):
            if length not in warm:
                step(length)
                warm.add(length)
            _synchronize(device)
            started, steps = time.perf_counter(), 0
            while steps < MAX_TIMED_STEPS and (steps < 2 or time.perf_counter() - started < MIN_TIMED_SECONDS):
                step(length)
                steps += 1
            _synchronize(device)
            return (time.perf_counter() - started) / steps

    return timed


@contextmanager
def _threads(cell: Cell) -> Iterator[None]:
    """Run with the cell's CPU thread count, as the cell will train."""
    import torch

    threads = torch.get_num_threads()
    if cell.device_kind == "cpu":
        torch.set_num_threads(cell.threads)
    try:
        yield
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


def range_text(seconds: float, band: float = BAND) -> str:
    """`8-13 min`: an estimate as the range it may fall in (see `CostModel.band`)."""
    low, high = seconds_text(seconds / band), seconds_text(seconds * band)
    low_number, low_unit = low.split(" ")
    high_number, high_unit = high.split(" ")
    if low == high:
        return low
    return f"{low_number}-{high}" if low_unit == high_unit else f"{low}-{high}"


def seconds_text(seconds: float) -> str:
    """`3 s`, `12 min`, `2.5 h`, `4.1 days`."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 3 * 86400 else f"{seconds / 86400:.1f} days"
