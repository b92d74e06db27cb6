"""`bench speed`: every speed figure of the project as a ratio to a baseline measured in the same run.

Shared, noisy machines make absolute timings meaningless from one day to the next; a ratio against a
baseline timed alternately with it, best of a few repeats, is what a target can be held to. Each row
names its figure, value, baseline, ratio and target; `bench speed` exits 1 when a target is missed.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

START_UP_MARGIN = 0.3  # seconds `bench --help` may take beyond `python -c pass`
LOOP_SHARE = 0.95  # the harness's training loop keeps at least this share of a bare loop's steps/s
GENERATOR_GBPS = 8.0
JOBS_SHORT_RATIO = 1.0  # --jobs 2 against --jobs 1 on 1-step cells
JOBS_LONG_RATIO = 1.5  # ... and on the benchmark's sweep of 300-step cells
NOISE = 0.05  # a ratio whose target is parity passes within this timing noise
TAIL_SECONDS = 2.0  # a 9-cell run's tail, plots included (#25)
REPORT_SECONDS = 0.5  # rebuilding an unchanged report (plots current)


@dataclass
class Row:
    """One measured figure against its baseline."""

    figure: str
    value: float
    baseline: float | None
    unit: str
    ratio: float | None
    target: str
    ok: bool | None  # None: informational, no target

    def cells(self) -> list[str]:
        baseline = "-" if self.baseline is None else f"{self.baseline:.3g} {self.unit}"
        ratio = "-" if self.ratio is None else f"{self.ratio:.2f}x"
        verdict = {True: "ok", False: "MISSED", None: ""}[self.ok]
        return [self.figure, f"{self.value:.3g} {self.unit}", baseline, ratio, self.target, verdict]


def table(rows: list[Row]) -> str:
    """The rows as an aligned plain-text table (also valid Markdown)."""
    head = ["figure", "value", "baseline", "ratio", "target", ""]
    body = [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    lines = ["| " + " | ".join(text.ljust(width) for text, width in zip(line, widths)) + " |" for line in [head, *body]]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def best_of(repeats: int, *timers: Callable[[], float], pick: Callable[[list[float]], float] = min) -> list[float]:
    """The best (or `pick`ed) time of each timer over `repeats` rounds, the timers alternating so noise
    hits all."""
    times: list[list[float]] = [[] for _ in timers]
    for _ in range(repeats):
        for kept, timer in zip(times, timers):
            kept.append(timer())
    return [pick(kept) for kept in times]


def paired(rounds: int, baseline: Callable[[], float], timer: Callable[[], float]) -> tuple[float, float, list[float]]:
    """(median baseline, median time, the per-round ratios baseline / time, sorted), the two run back to
    back each round, in turns as to which goes first. For whole commands of seconds: a slow spell of a
    shared machine lasts about as long as a command, so a ratio within a pair is steadier than the best
    of each side taken from different rounds, and the turns keep either side from always running second."""
    pairs = [in_turns(round_, lambda first, second: (first(), second()), baseline, timer) for round_ in range(rounds)]
    bases, founds = zip(*pairs)
    return statistics.median(bases), statistics.median(founds), sorted(b / f for b, f in pairs)


def in_turns(round_: int, run: Callable[[Any, Any], tuple], first: Any, second: Any) -> tuple:
    """run(first, second), the two handed over the other way round on odd rounds (so neither always goes
    first); the results in (first, second) order either way."""
    if round_ % 2:
        of_second, of_first = run(second, first)
        return of_first, of_second
    return run(first, second)


def _wall(command: list[str]) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        return time.perf_counter() - started
    return run


# --- start-up ---------------------------------------------------------------------------------------

def startup_rows(repeats: int) -> Iterator[Row]:
    """`bench --help`, `bench tasks` and `bench models` against `python -c pass` (median of `repeats`)."""
    python = [sys.executable, "-c", "pass"]
    commands = {"--help": ["--help"], "tasks": ["tasks"], "models": ["models"]}
    timers = [_wall(python), *(_wall([sys.executable, "-m", "bench", *args]) for args in commands.values())]
    base, *others = best_of(repeats, *timers, pick=statistics.median)
    for (name, _), seconds in zip(commands.items(), others):
        target = name == "--help"
        yield Row(f"start-up: bench {name}", seconds, base, "s", seconds / base,
                  f"<= python -c pass + {START_UP_MARGIN} s" if target else "", seconds - base <= START_UP_MARGIN if target else None)


# --- generators -------------------------------------------------------------------------------------

def generator_rows(n: int, length: int, repeats: int, names: list[str] | None = None) -> Iterator[Row]:
    """GB/s of each task's kernel (x, y and mask bytes) at n sequences of length L, against the task's
    numpy reference where it has one (a peer's generator ported to vectorized numpy, tasks/_reference.py)."""
    import longdep_tasks as tasks
    from longdep_tasks._reference import REFERENCES

    largest = 0
    for name in names or tasks.names():
        task = tasks.get(name)
        x, y, mask = task.generate(n, length, 0, "train")  # compiles or loads the kernel
        size = x.nbytes + y.nbytes + mask.nbytes
        largest = max(largest, size)
        del x, y, mask
        reference = REFERENCES.get(name)
        counter = iter(range(1, 10**9))
        timers = [lambda: _warm_then_timed(lambda: task.generate(n, length, 0, "train", n * next(counter)))]
        if reference:
            timers.append(lambda: _warm_then_timed(lambda: reference(n, length)))
        ours, *theirs = best_of(repeats, *timers)
        gbps = size / ours / 1e9
        if theirs:
            ratio = theirs[0] / ours
            yield Row(f"generator {name} (n={n}, L={length})", gbps, size / theirs[0] / 1e9, "GB/s", ratio,
                      f">= {GENERATOR_GBPS:g} GB/s, > numpy", gbps >= GENERATOR_GBPS and ratio > 1)
        else:
            yield Row(f"generator {name} (n={n}, L={length}; no numpy reference)", gbps, None, "GB/s", None,
                      f">= {GENERATOR_GBPS:g} GB/s", gbps >= GENERATOR_GBPS)
    yield memory_floor_row(largest, repeats)


def memory_floor_row(nbytes: int, repeats: int) -> Row:
    """GB/s of allocating `nbytes` fresh and writing them in parallel (what every generator that returns
    new arrays must do at least once), against rewriting the same bytes already mapped: the ceiling for
    the rows above on this machine. Informational."""
    import numpy as np
    from numba import njit, prange

    @njit(parallel=True)
    def write(rows):
        for i in prange(rows.shape[0]):
            rows[i] = 1

    shape = (max(1, nbytes // 8000), 1000)
    mapped = np.empty(shape, dtype=np.int64)
    write(mapped)
    fresh, again = best_of(repeats, lambda: _timed(lambda: write(np.empty(shape, dtype=np.int64))),
                           lambda: _timed(lambda: write(mapped)))
    size = mapped.nbytes
    return Row(f"ceiling: {size / 1e6:.0f} MB written to fresh memory", size / fresh / 1e9, size / again / 1e9,
               "GB/s", again / fresh, "", None)


def _warm_then_timed(work: Callable[[], object]) -> float:
    """Seconds of `work` run a second time in a row. The timers alternate, and the first call after the
    other side's run pays for its memory: right after the numpy reference frees its large temporaries, a
    kernel's fresh arrays fault in at half the speed of the next call's (adding: 3.1 against 6.2 GB/s).
    A training loop calls its generator back to back, so each side is timed as its second call in a row."""
    work()
    return _timed(work)


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


# --- training loop ----------------------------------------------------------------------------------

def bare_loop_seconds(cell: "Cell") -> float:  # noqa: F821
    """Seconds for cell.train.steps steps of a fresh batch from the task's generator, forward, loss,
    backward, clip and Adam: the loop a researcher would write by hand (as the peers' training scripts
    do, a new batch every step). What the harness adds beyond it is its overhead. The model starts from
    the weights the harness gives the cell, so both loops compute the same numbers."""
    import torch

    import longdep_tasks as tasks
    from bench.train import mean_loss, seeded_model

    task, budget = tasks.get(cell.task), cell.train
    torch.set_flush_denormal(True)
    model = seeded_model(cell, task)
    optimizer = torch.optim.Adam(model.parameters(), lr=budget.lr)
    size = budget.batch_size
    started = time.perf_counter()
    for step in range(budget.steps):
        x, y, mask = (torch.from_numpy(a) for a in task.generate(size, cell.length, 0, "train", step * size))
        loss = mean_loss(task, model(x), y, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), budget.clip)
        optimizer.step()
    seconds = time.perf_counter() - started
    torch.set_flush_denormal(False)
    return seconds


def harness_loop_seconds(cell: "Cell") -> float:  # noqa: F821
    """Seconds of `train_cell` for the same budget (fresh data every step, divergence checks, gradient
    norms), with its evaluations shrunk to one sequence so only the loop is timed."""
    from bench.train import train_cell

    return train_cell(cell)["seconds"]


def lockstep_step_seconds(first: Callable[[], object], second: Callable[[], object]) -> tuple[list[float], list[float]]:
    """Each loop's step times, the two loops run in two threads that take turns one training step at a
    time (a step lasts from one training forward pass of a recurrent model to the next). Only one thread
    runs at any moment, so the loops never compete, and the slow swings of a shared machine (a loop run
    whole can read 20% slower than the next: CPU taken by neighbours) fall on both loops step by step
    instead of on whichever ran then."""
    import threading

    import torch

    from bench.models.recurrent import SequenceModel

    turn, running, errors = threading.Condition(), {0, 1}, []
    state, local, times = {"turn": 0}, threading.local(), ([], [])

    def wait_for_turn() -> None:
        with turn:
            turn.wait_for(lambda: state["turn"] == local.me)

    def hand_over(done: bool = False) -> None:
        with turn:
            if done:
                running.discard(local.me)
            if 1 - local.me in running:
                state["turn"] = 1 - local.me
                turn.notify_all()

    def at_forward(module: torch.nn.Module, _args: tuple) -> None:
        if not isinstance(module, SequenceModel) or not torch.is_grad_enabled():  # evaluation is not a step
            return
        if local.resumed is not None:
            times[local.me].append(time.perf_counter() - local.resumed)
        hand_over()
        wait_for_turn()
        local.resumed = time.perf_counter()

    def worker(me: int, loop: Callable[[], object]) -> None:
        local.me, local.resumed = me, None
        wait_for_turn()
        try:
            loop()
        except BaseException as error:  # re-raised in the caller
            errors.append(error)
        finally:
            hand_over(done=True)

    hook = torch.nn.modules.module.register_module_forward_pre_hook(at_forward)
    try:
        threads = [threading.Thread(target=worker, args=pair) for pair in enumerate((first, second))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        hook.remove()
    if errors:
        raise errors[0]
    return times


def loop_rows(lengths: tuple[int, ...], steps: dict[int, int], repeats: int,
              model_names: tuple[str, ...] = ("rnn", "lstm", "gru")) -> Iterator[Row]:
    """The harness's training steps per second against a bare loop's, per model and length: the median
    step time of each, the two run in lockstep `repeats` times (who starts alternating)."""
    import torch

    from bench.sweep import Cell, ModelConfig, TrainConfig

    torch.set_num_threads(1)  # as every cell trains
    for length in lengths:
        for name in model_names:
            budget = TrainConfig(steps=steps[length], eval_every=steps[length], eval_size=1, lr=1e-9,
                                 diagnostics=False)  # a rate no model solves at: every step runs
            cell = Cell("adding", length, name, 0, ModelConfig(), budget)
            warm = Cell("adding", length, name, 0, ModelConfig(), TrainConfig(steps=2, eval_every=2, eval_size=1))
            bare_loop_seconds(warm), harness_loop_seconds(warm)
            bare, harness = _pooled_lockstep(lambda: bare_loop_seconds(cell), lambda: harness_loop_seconds(cell), repeats)
            share = bare / harness
            yield Row(f"training loop {name} L={length}", 1 / harness, 1 / bare, "steps/s",
                      share, f">= {LOOP_SHARE:.0%} of the bare loop", share >= LOOP_SHARE)


def _pooled_lockstep(bare: Callable[[], object], harness: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median step seconds of each loop over `repeats` lockstep runs."""
    bare_steps: list[float] = []
    harness_steps: list[float] = []
    for round_ in range(repeats):
        found_bare, found_harness = in_turns(round_, lockstep_step_seconds, bare, harness)
        bare_steps += found_bare
        harness_steps += found_harness
    return statistics.median(bare_steps), statistics.median(harness_steps)


# --- worker processes -------------------------------------------------------------------------------

SHORT_SWEEP = ["--task", "adding", "--lengths", "20,40", "--models", "rnn,lstm,gru", "--steps", "1",
               "--eval-size", "64", "--hidden", "32", "--no-progress"]
LONG_SWEEP = ["--task", "adding", "--lengths", "50,100", "--models", "rnn,lstm,gru", "--steps", "300",
              "--eval-every", "100", "--no-progress"]  # benchmarks/jobs_speedup.py's sweep


def jobs_rows(repeats: int, long: bool) -> Iterator[Row]:
    """Whole `bench run` commands (start-up included, as a user sees them) with --jobs 2 against --jobs 1."""
    sweeps = [("1-step cells", SHORT_SWEEP, JOBS_SHORT_RATIO)] + ([("300-step cells", LONG_SWEEP, JOBS_LONG_RATIO)] if long else [])
    for what, sweep, target in sweeps:
        _time_shapes(sweep)
        # the short sweep's commands take seconds and vary by about a second between runs (start-up):
        # twice the repeats, so the median is not one lucky pair
        rounds = repeats * 2 if sweep is SHORT_SWEEP else repeats
        serial, parallel, ratios = paired(rounds, lambda: _sweep_seconds(sweep, 1), lambda: _sweep_seconds(sweep, 2))
        ratio, allowed = statistics.median(ratios), target - NOISE if target == 1.0 else target
        text = f">= {target:.1f}x" + (f" (within {NOISE:.0%} noise)" if target == 1.0 else "")
        spread = f"{len(ratios)} pair{'s' * (len(ratios) > 1)}: {ratios[0]:.2f}-{ratios[-1]:.2f}x"  # how far one pair alone can stray
        yield Row(f"--jobs 2 vs --jobs 1, 6 {what} ({spread})", parallel, serial, "s", ratio, text, ratio >= allowed)


def _time_shapes(sweep: list[str]) -> None:
    """Fit the sweep's step costs first (`--dry-run`), so neither timed command pays for it."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "-m", "bench", "run", *sweep, "--out", out, "--dry-run"], check=True,
                       capture_output=True)


def _sweep_seconds(sweep: list[str], jobs: int) -> float:
    """Wall seconds of the whole command, as a user waits for it (its plots drawn before it returns)."""
    with tempfile.TemporaryDirectory() as out:
        return _wall([sys.executable, "-m", "bench", "run", *sweep, "--jobs", str(jobs), "--out", out])()


# --- report -----------------------------------------------------------------------------------------

def report_rows(repeats: int) -> Iterator[Row]:
    """A 9-cell run's tail (tables, plots, report.md and report.html, all written before the run returns)
    and rebuilding it unchanged (the plots are current: not drawn again), each against writing its tables
    alone."""
    from bench.reporting.plotdigest import DIGEST_FILE
    from bench.reporting.publish import build_report
    from bench.runner import rebuild_report, run_sweep
    from bench.store import Store, read_manifest, write_tables
    from bench.analysis import results_frame
    from bench.sweep import ModelConfig, Sweep, TrainConfig

    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stderr(io.StringIO()):
        sweep = Sweep(("adding",), (10, 20, 40), ("rnn", "lstm", "gru"), (0,), ModelConfig(hidden=8),
                      TrainConfig(steps=2, eval_every=1, eval_size=16, batch_size=8))
        run_dir = Path(run_sweep(sweep, Store(out), "speed", progress=False).run_dir)
        manifest = read_manifest(run_dir)
        records = Store(out).load_cells(manifest["cells"])
        plots = run_dir / "plots"

        def tail() -> float:
            (plots / DIGEST_FILE).unlink(missing_ok=True)
            return _timed(lambda: build_report(run_dir, records, manifest))

        tables = lambda: _timed(lambda: write_tables(run_dir, results_frame(records)))  # noqa: E731
        rebuild = lambda: _timed(lambda: rebuild_report(run_dir))  # noqa: E731
        first, again, base = best_of(repeats, tail, rebuild, tables)
    yield Row("run's tail, 9-cell run (tables, plots, reports)", first, base, "s", first / base,
              f"<= {TAIL_SECONDS} s", first <= TAIL_SECONDS)
    yield Row("report rebuild, unchanged 9-cell run", again, base, "s", again / base, f"<= {REPORT_SECONDS} s",
              again <= REPORT_SECONDS)


SCAN_MODELS = ("mingru", "minlstm", "s6", "mlstm")
SCAN_WIDTH = 64
# the two forms a model may train with, timed against each other (up to ALTERNATIVES_ON_CPU steps on a CPU:
# beyond, s6's chunked scan takes minutes a step there)
ALTERNATIVES = {"s6": (("scan", "chunked"), ("scan", "looped")), "mlstm": (("form", "parallel"), ("form", "recurrent"))}
ALTERNATIVES_ON_CPU = 200


def scan_rows(lengths: tuple[int, ...], repeats: int, steps: int = 3, device: str = "cpu") -> Iterator[Row]:
    """Each parallel-scan model's training step (forward, backward, Adam; batch 64, adding) against the
    same model's step-by-step form and against nn.GRU at matched parameters (the best of `repeats`
    alternating rounds each): what its scan buys, and where it stands beside the fused GRU; for s6 and mlstm
    also their two training forms against each other (see S6.forward, MLSTM.forward)."""
    import torch

    import longdep_tasks as tasks
    from bench import models

    torch.set_num_threads(1)  # as every cell trains
    task = tasks.get("adding")
    for length in lengths:
        x, y, _ = (torch.as_tensor(a).to(device) for a in task.generate(64, length, 0, "train"))
        for name in SCAN_MODELS:
            scan = models.build(name, task.n_inputs, task.n_outputs, SCAN_WIDTH, 1, False).to(device)
            target = models.count_parameters(scan)
            width = models.width_for_params("gru", target, task.n_inputs, task.n_outputs, False)
            gru = models.build("gru", task.n_inputs, task.n_outputs, width, 1, False).to(device)
            timers = [_step_timer(scan, scan, x, y, steps),
                      _step_timer(scan, lambda inputs: scan.forward_with_states(inputs)[0], x, y, steps),
                      _step_timer(gru, gru, x, y, steps)]
            forms = ALTERNATIVES.get(name) if device != "cpu" or length <= ALTERNATIVES_ON_CPU else None
            for form in forms or ():  # e.g. s6's chunked scan and its looped one, both forced
                timers.append(_step_timer(scan, lambda inputs, form=form: _forced(scan, form, inputs), x, y, steps))
            times = best_of(repeats, *timers)
            path, sequential, fused = times[:3]
            yield Row(f"{name} training step L={length}, its training path vs its step-by-step form", 1 / path,
                      1 / sequential, "steps/s", sequential / path, "", None)
            yield Row(f"{name} training step L={length} vs nn.GRU at {target:,} parameters", 1 / path,
                      1 / fused, "steps/s", fused / path, "", None)
            if forms:
                (attribute, first), (_, second) = forms
                yield Row(f"{name} training step L={length}, {first} {attribute} vs {second}", 1 / times[3],
                          1 / times[4], "steps/s", times[4] / times[3], "", None)


def _forced(model: Any, form: tuple[str, str], inputs: Any) -> Any:
    """The model's outputs with every layer that has the attribute `form[0]` set to `form[1]` (then back to
    "auto", choosing by device or length)."""
    attribute, value = form
    layers = [module for module in model.modules() if hasattr(module, attribute)]
    for layer in layers:
        setattr(layer, attribute, value)
    try:
        return model(inputs)
    finally:
        for layer in layers:
            setattr(layer, attribute, "auto")


def _step_timer(model: Any, forward: Callable[[Any], Any], x: Any, y: Any, steps: int) -> Callable[[], float]:
    """Seconds per training step (MSE on the last step, backward, Adam) of `forward` over `model`."""
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-9)

    def step() -> None:
        optimizer.zero_grad()
        (forward(x)[:, -1, 0] - y[:, -1].reshape(len(y), -1)[:, 0]).square().mean().backward()
        optimizer.step()

    def timed() -> float:
        step()  # warm-up: allocations, kernel selection
        _synchronize(x)
        started = time.perf_counter()
        for _ in range(steps):
            step()
        _synchronize(x)
        return (time.perf_counter() - started) / steps

    return timed


def _synchronize(tensor: Any) -> None:
    import torch

    if tensor.is_cuda:
        torch.cuda.synchronize(tensor.device)


def measure(quick: bool) -> Iterator[Row]:
    """Every figure, row by row as each is measured; `quick` keeps to what fits in under a minute: no long
    lengths, and no --jobs rows (four whole `bench run` commands and a cost fit take about 40 s alone)."""
    yield from startup_rows(3 if quick else 7)
    yield from generator_rows(1024 if quick else 4096, 1000, 2 if quick else 5, ["adding", "copy"] if quick else None)
    if quick:
        yield from loop_rows((50,), {50: 40}, 1)
        yield from scan_rows((200,), 1, steps=1)
    else:
        yield from loop_rows((50, 200, 1000), {50: 200, 200: 60, 1000: 12}, 3)
        yield from scan_rows((200, 1000), 3)
        yield from jobs_rows(2, long=True)
    yield from report_rows(1 if quick else 3)
