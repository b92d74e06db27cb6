"""run_sweep: the library function behind `bench run` (the CLI only parses and calls it).

Flow: expand the sweep into cells, skip cells already stored, train the rest through an executor,
store each result atomically as it arrives, then rebuild the run's tables, plots and report.
"""

from __future__ import annotations

import json

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

import torch

import longdep_tasks as tasks
from bench import models, provenance
from bench.checkpoint import DEFAULT_EVERY
from bench.checkpoint import discard as discard_checkpoint
from bench.claims import Claims, remove_temporaries, run_in_progress
from bench.cost import CostModel, makespan, range_text, seconds_text, shape_key, workers_pay
from bench.executors import Executor, InProcessExecutor, LocalExecutor, release
from bench.plugins import loaded_plugins
from bench.progress import Display
from bench.reporting.publish import build_report
from bench.store import Store, read_manifest, run_records, write_json
from bench.sweep import Cell, Sweep

BYTES_PER_FLOAT = 4


class SweepTooLarge(ValueError):
    """A cell would not fit in memory; the message says how to shrink the sweep."""


@dataclass
class RunSummary:
    """What one `run_sweep` did."""

    run_dir: Path
    records: list[dict[str, Any]]
    computed: int
    reused: int
    timing: "Computed | None" = None

    @property
    def failed(self) -> int:
        return sum(record["status"] == "failed" for record in self.records)


@dataclass
class Computed:
    """What `compute_cells` did: how many cells it trained, the wall time it estimated for them (every
    cell's whole budget, at its concurrency) with the range's factor, and the wall time it took."""

    count: int = 0
    estimated: float = 0.0
    band: float = 1.0
    elapsed: float = 0.0
    refitted: int = 0  # shapes whose fit a finished cell contradicted (timed again next time)

    def text(self) -> str:
        """`took 9 min; estimated at most 8-12 min (...)`, for the end of a run."""
        if not self.count:
            return ""
        note = (f"; the fits of {self.refitted} model shape(s) disagreed with what their cells took and will be "
                "timed again") if self.refitted else ""
        return (f"took {seconds_text(self.elapsed)}; estimated at most {range_text(self.estimated, self.band)} "
                f"(every cell's whole budget; cells that stop at a solve take less){note}")


def estimate_cell_bytes(cell: Cell) -> int:
    """A generous estimate of one cell's peak memory: activations kept for backward, the eval chunk,
    and the held-out set."""
    task, budget, size = tasks.get(cell.task), cell.train, cell.model_config
    steps = task.seq_len(cell.length)
    per_step = (size.layers * size.hidden * models.state_floats_per_step(cell.model, steps, size.hidden)
                + task.n_inputs + 3 * task.n_outputs)
    training = 2 * budget.batch_size * steps * per_step * BYTES_PER_FLOAT
    evaluation = min(budget.eval_size, 250) * steps * (2 * size.hidden + task.n_inputs + task.n_outputs) * BYTES_PER_FLOAT
    input_bytes = 8 if task.inputs == "tokens" else task.n_inputs * BYTES_PER_FLOAT
    held_out = budget.eval_size * steps * (input_bytes + 8 + 1)
    return training + evaluation + held_out


def available_bytes(device: str) -> int:
    """Memory a cell may use on `device`: most of a GPU, or the machine's available memory."""
    if device.startswith("cuda"):
        return int(0.9 * torch.cuda.get_device_properties(torch.device(device)).total_memory)
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(sweep: Sweep, concurrent: int = 1) -> None:
    """Refuse a sweep with a cell that cannot fit (`concurrent` cells share the memory), before
    anything is written."""
    limit = available_bytes(sweep.device) // max(1, concurrent)
    largest = max(sweep.expand(), key=estimate_cell_bytes)
    need = estimate_cell_bytes(largest)
    if need > limit:
        raise SweepTooLarge(
            f"cell {largest.label()} needs about {need / 2**30:.1f} GiB but {sweep.device} has "
            f"{limit / 2**30:.1f} GiB available per cell; use shorter --lengths, a smaller --batch-size "
            f"or --hidden, or fewer --jobs")


def cells_to_compute(cells: list[Cell], store: Store, fresh: bool = False,
                     retry_failed: bool = False) -> list[Cell]:
    """The cells without a stored result; all with `fresh`; stored failures too with `retry_failed`."""
    if fresh:
        return list(cells)
    todo = []
    for cell in cells:
        stored = store.load_cell(cell.key)
        if stored is None or (retry_failed and stored["status"] == "failed"):
            todo.append(cell)
    return todo


class NameTaken(ValueError):
    """A run name already used by a run of another sweep: refused, so that run's manifest is not replaced."""


def check_name_free(store: Store, name: str, sweep: Sweep, kind: str | None = None) -> None:
    """Raise NameTaken when run `name` exists in `store` with a sweep other than `sweep`, or is another kind
    of run (`kind`: None for a grid, "horizon search" for `bench horizon`, whose sweep holds its candidate
    lengths while its cells grow round by round). The same sweep resumes (its cells may still differ: an
    edited plug-in or task version gives new keys, computed anew)."""
    run_dir = store.run_dir(name)
    if not (run_dir / "manifest.json").is_file():
        return
    try:
        manifest = read_manifest(run_dir)
        stored = (manifest["sweep"], manifest.get("kind"))
    except (OSError, ValueError, KeyError, TypeError):
        stored = None
    if stored != (json.loads(json.dumps(sweep.to_dict(), default=str)), kind):
        what = "an unreadable manifest" if stored is None else "another sweep" if stored[1] == kind else (
            f"a {stored[1] or 'grid run'}")
        raise NameTaken(f"run {name!r} already exists in {store.root / 'runs'} with {what}; choose another "
                        "--name, or add --force to replace its manifest (stored cells are kept)")


def run_sweep(sweep: Sweep, store: Store, name: str | None = None, executor: Executor | None = None,
              progress: bool = True, argv: list[str] | None = None, fresh: bool = False,
              retry_failed: bool = False, preset: str | None = None, force: bool = False,
              checkpoint_every: float = DEFAULT_EVERY) -> RunSummary:
    """Compute every cell of `sweep` not yet in `store`, then write the run's tables and report.

    Another run may share the store: a cell it is computing is waited for and reused, never computed
    twice. A failed write (disk full, permissions) stops the sweep with StorageError; what was
    stored before stays. A name taken by a run with other cells raises NameTaken unless `force`. The
    run's tables, plots and reports exist when it returns."""
    cells = sweep.expand()
    name = name or sweep.default_name()
    if not force:
        check_name_free(store, name, sweep)
    run_dir = store.run_dir(name)
    manifest = new_manifest(sweep, run_dir.name, cells, argv or provenance.argv())
    if preset:
        manifest["preset"] = preset
    computed, executor = 0, executor or InProcessExecutor()
    with run_in_progress(store):  # gc deletes nothing from here to the report
        start_run(store, run_dir, manifest)
        try:
            computed = compute_cells(cells, store, executor, progress, fresh, retry_failed, checkpoint_every)
        finally:  # also on Ctrl-C: the run's tables describe what did finish
            release(executor)
            records = finish_run(store, run_dir, manifest, cells)
    return RunSummary(run_dir, records, computed=computed.count, reused=len(cells) - computed.count, timing=computed)


def start_run(store: Store, run_dir: Path, manifest: dict[str, Any]) -> None:
    """Write the run's manifest before any cell trains, and clear what an interrupted write left."""
    try:  # the run already exists: it keeps the time it was first created ("updated" says when it last ran)
        manifest["created"] = read_manifest(run_dir).get("created", manifest["created"])
    except (OSError, ValueError):
        pass
    with _storing(store):
        write_json(run_dir / "manifest.json", manifest)
        remove_temporaries(run_dir)


def compute_cells(cells: list[Cell], store: Store, executor: Executor, progress: bool = True,
                  fresh: bool = False, retry_failed: bool = False, checkpoint_every: float = DEFAULT_EVERY) -> Computed:
    """Train the cells of `cells` that are not stored yet (all with `fresh`), storing each as it
    finishes; says how many this process trained, and its estimate against what it took. A running cell
    saves its state every `checkpoint_every` seconds (0: never) beside its claim, and an interrupted one
    resumes from it. Each finished cell checks the cost model's fit of its shape (CostModel.observe)."""
    started = time.perf_counter()
    todo = [replace(cell, checkpoint_dir=str(store.root.absolute() / "cells"), checkpoint_every=checkpoint_every)
            for cell in cells_to_compute(cells, store, fresh, retry_failed)]
    costs = CostModel()
    estimates = estimate_todo(todo, costs)
    executor = _worth_starting(executor, todo, sum(estimates.values()), costs)
    jobs = getattr(executor, "jobs", 1)
    result = Computed(estimated=makespan((estimates[cell.key] for cell in todo), jobs), band=costs.band(todo))
    by_key = {cell.key: cell for cell in todo}

    def observed(record: dict[str, Any]) -> None:
        if record["key"] in by_key and costs.observe(by_key[record["key"]], record):
            result.refitted += 1

    with Display(len(cells), len(cells) - len(todo), progress, estimates, jobs) as display, Claims(store) as claims:
        result.count = _compute(todo, store, executor, display, claims,
                                lambda stored: fresh or _needs_computing(stored, retry_failed), observed)
    if getattr(executor, "ready_seconds", None):
        costs.record_worker_start(executor.ready_seconds)
    result.elapsed = time.perf_counter() - started
    return result


def estimate_todo(todo: list[Cell], costs: CostModel) -> dict[str, float]:
    """Estimated seconds per cell (timing the shapes this machine has not timed yet, which it says)."""
    new = {shape_key(cell) for cell in todo if costs.cached(cell) is None}
    if new:
        print(f"bench: timing {len(new)} model shape(s) for the cost estimate (once per machine) ...",
              file=sys.stderr, flush=True)
    estimates = {}
    for cell in todo:
        try:
            estimates[cell.key] = costs.cell_seconds(cell)
        except Exception:  # a cell that cannot even be timed will fail on its own, recorded as such
            estimates[cell.key] = 0.0
    return estimates


def _worth_starting(executor: Executor, todo: list[Cell], serial_seconds: float, costs: CostModel) -> Executor:
    """Worker processes only when they finish sooner than this process alone (short cells, or a single
    one, train here); when they do, start them now, so they load while the driver prepares."""
    if not isinstance(executor, LocalExecutor):
        return executor
    if not workers_pay(serial_seconds, min(executor.jobs, len(todo)), costs.worker_start):
        return InProcessExecutor()
    executor.start(sorted({cell.task for cell in todo}))
    return executor


def finish_run(store: Store, run_dir: Path, manifest: dict[str, Any], cells: list[Cell]) -> list[dict[str, Any]]:
    """Rewrite the manifest and rebuild the run's tables, plots and report from the stored cells."""
    records = store.load_cells(cell.key for cell in cells)
    manifest.update(cells=[cell.key for cell in cells], finished=len(records), updated=time.time())
    with _storing(store, quiet=sys.exc_info()[0] is not None):
        write_json(run_dir / "manifest.json", manifest)
        build_report(run_dir, records, manifest)
    return records


def _needs_computing(stored: dict[str, Any] | None, retry_failed: bool) -> bool:
    return stored is None or (retry_failed and stored["status"] == "failed")


def _compute(todo: list[Cell], store: Store, executor: Executor, display: Display, claims: Claims,
             needed: Any, observed: Any = None) -> int:
    """Train the cells of `todo` that this run can claim; wait for the ones another run holds, then
    reuse what it stored. Returns how many cells this run trained."""
    pending, computed = list(todo), 0
    while pending:
        mine = [cell for cell in pending if claims.claim(cell.key)]
        if not mine:  # all that is left is being computed by another run: wait for one of them
            claims.claim(pending[0].key, wait=True)
            mine = [pending[0]]
        claimed = {cell.key for cell in mine}
        pending = [cell for cell in pending if cell.key not in claimed]
        mine = [cell for cell in mine if _still_needed(cell, store, claims, display, needed)]
        for record in executor.map(mine, display.step):
            with _storing(store):
                store.save_cell(record)
            discard_checkpoint(store.root / "cells", record["key"])  # the cell is stored: its state is done
            claims.release(record["key"])
            display.finished(record)
            if observed is not None:
                observed(record)
            computed += 1
    return computed


def _still_needed(cell: Cell, store: Store, claims: Claims, display: Display, needed: Any) -> bool:
    """Under the cell's claim: is it still to be computed, or did another run store it meanwhile?"""
    stored = store.load_cell(cell.key)
    if needed(stored):
        return True
    claims.release(cell.key)
    display.finished(stored)
    return False


class StorageError(OSError):
    """Results could not be written (disk full, permissions); the message says what is kept."""


@contextmanager
def _storing(store: Store, quiet: bool = False) -> Iterator[None]:
    """Turn a failed write into StorageError naming the cause and what is kept (nothing on `quiet`,
    when another error is already on its way out)."""
    try:
        yield
    except OSError as error:
        if quiet:
            return
        raise StorageError(f"cannot write results under {store.root}: {error.strerror or error}"
                           f"{f' ({error.filename})' if error.filename else ''}; every cell stored before "
                           "is kept: free space or fix permissions, then re-run to resume") from error


def rebuild_report(run_dir: Path, svg: bool = False) -> list[dict[str, Any]]:
    """`bench report`: rebuild a run's tables, plots (with SVGs: `svg`) and report from its stored cells, no
    training. A run that finishes between reading its cells and writing is not overwritten: its cells are
    read again."""
    while True:
        manifest, records = run_records(run_dir)  # refuses, writing nothing, when its cells are out of reach
        manifest["finished"] = len(records)
        if build_report(run_dir, records, manifest, unless_rewritten=True, svg=svg) is not None:
            return records


def new_manifest(sweep: Sweep, name: str, cells: list[Cell], argv: list[str]) -> dict[str, Any]:
    """A run's manifest before any cell finishes: the sweep, the command, the cell keys, provenance."""
    return {
        "name": name, "created": time.time(), "argv": argv, "sweep": sweep.to_dict(),
        "cells": [cell.key for cell in cells], "finished": 0, "environment": provenance.environment(),
        "task_versions": {task: tasks.get(task).version for task in sweep.tasks},
        "plugins": [plugin.describe() for plugin in loaded_plugins()],
    }


def sweep_plan(sweep: Sweep, store: Store, concurrent: int, fresh: bool = False,
               retry_failed: bool = False) -> tuple[list[str], float, float]:
    """`bench run --dry-run`: the cells, estimated time per model and length and in total, and memory,
    as lines of text; the estimated wall seconds and its range's factor. Nothing is written (the cost cache
    aside)."""
    cells = sweep.expand()
    todo = cells_to_compute(cells, store, fresh, retry_failed)
    costs = CostModel()
    estimates = estimate_todo(todo, costs)
    band = costs.band(todo)
    lines = [f"{len(cells)} cells, {len(todo)} to train ({len(cells) - len(todo)} already stored):"]
    if len(cells) <= PLAN_CELL_LINES:
        lines += [f"  {cell.label():40} {_plan_cost(estimates.get(cell.key), band)}" for cell in cells]
    lines += _plan_grid(todo, estimates, band)
    serial = sum(estimates.values())
    wall = makespan((estimates[cell.key] for cell in todo), concurrent)
    lines.append(f"total: {range_text(serial, band)} of training at most (every cell's whole budget; a cell stops "
                 f"early once solved), {range_text(wall, band)} at {concurrent} cell(s) at a time")
    if todo:
        largest = max(todo, key=estimate_cell_bytes)
        need, have = estimate_cell_bytes(largest), available_bytes(sweep.device)
        lines.append(f"memory: largest cell {largest.label()} about {_mib(need)}; {concurrent} at a time need about "
                     f"{_mib(need * concurrent)} of {_mib(have)} available on {sweep.device}")
    return lines, wall, band


PLAN_CELL_LINES = 60  # list every cell up to this many; the grid always


def _plan_cost(seconds: float | None, band: float) -> str:
    return "stored" if seconds is None else range_text(seconds, band)


def _plan_grid(todo: list[Cell], estimates: dict[str, float], band: float) -> list[str]:
    """Estimated time to train, per model (rows) and length (columns), summed over seeds and settings."""
    if not todo:
        return []
    lengths = sorted({cell.length for cell in todo})
    names = sorted({cell.model for cell in todo}, key=[cell.model for cell in todo].index)
    total = {(cell.model, cell.length): 0.0 for cell in todo}
    for cell in todo:
        total[cell.model, cell.length] += estimates[cell.key]
    width = max(14, *(len(f"L={length}") + 2 for length in lengths))
    first = max(14, *(len(name) + 2 for name in names))
    lines = ["time to train, per model and length:", "  " + "model".ljust(first) + "".join(f"L={n}".ljust(width) for n in lengths)]
    for name in names:
        texts = [range_text(total[name, n], band) if (name, n) in total else "-" for n in lengths]
        lines.append("  " + name.ljust(first) + "".join(text.ljust(width) for text in texts))
    return lines


def _mib(size: float) -> str:
    if size < 2**20:
        return "under 1 MiB"
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"
