"""bench from Python (a notebook, a script): run a sweep, load a run's results as a pandas DataFrame,
compare two runs, build a report. The same functions `bench run`, `bench report` and `bench compare`
call; cells are stored and shared exactly as there, so a sweep run here resumes from the command line
and back.

    from bench import api
    run_dir = api.run("adding", [50, 100], models=["lstm", "gru"], steps=2000)
    api.results(run_dir).groupby(["model", "length"])["accuracy"].mean()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from bench.sweep import ModelConfig, Sweep, TrainConfig


def run(tasks: str | Iterable[str], lengths: Iterable[int], models: Iterable[str] = ("rnn", "lstm", "gru"),
        seeds: Iterable[int] = (0,), *, out: str | Path = "results", name: str | None = None, hidden: int = 128,
        layers: int = 1, device: str = "cpu", threads: int = 1, jobs: int = 1, force: bool = False,
        **training: Any) -> Path:
    """Train every cell of the sweep not yet stored under `out`, write the run's tables and report, and
    return its folder. `device` is "cpu", "cuda" or "cuda:N"; `training` takes TrainConfig's fields (steps, batch_size, lr, clip, eval_every,
    eval_size, time_limit, stop, ...). Raises LookupError for an unknown task or model, TypeError for an
    unknown training setting, and bench.runner.NameTaken for a `name` taken by another sweep (unless
    `force`)."""
    from bench.executors import make_executor, release
    from bench.runner import run_sweep
    from bench.store import Store

    sweep = Sweep((tasks,) if isinstance(tasks, str) else tuple(tasks), tuple(sorted(set(lengths))), tuple(models),
                  tuple(seeds), ModelConfig(hidden, layers), TrainConfig(**training), device, threads)
    _check_names(sweep)
    executor = make_executor("local", device, threads, jobs)
    try:
        return run_sweep(sweep, Store(Path(out)), name, executor, progress=False, argv=["bench.api.run"],
                         force=force).run_dir
    finally:
        release(executor)


def _check_names(sweep: Sweep) -> None:
    import longdep_tasks as tasks

    from bench import models

    for task in sweep.tasks:  # each raises a LookupError naming close matches
        tasks.get(task)
    for model in sweep.models:
        models.registry.get(model)


def results(run_dir: str | Path) -> pd.DataFrame:
    """One row per stored cell of the run, the columns of its results.csv at full precision. Raises
    bench.store.CellsUnreachable when the run's finished cells cannot be found."""
    from bench.reporting.compare import load_run

    return load_run(Path(run_dir))


def compare(run_a: str | Path, run_b: str | Path) -> pd.DataFrame:
    """The rows of `bench compare A B`: per (task, model, setting, length), both runs' seed means, the
    difference, and its marker (better, worse, not significant, ...)."""
    from bench.reporting.compare import compare_runs, load_run

    return compare_runs(load_run(Path(run_a)), load_run(Path(run_b)))


def report(run_dir: str | Path) -> Path:
    """Rebuild the run's tables, plots, report.html and report.md from its stored cells; the HTML's path."""
    from bench.runner import rebuild_report

    rebuild_report(Path(run_dir))
    return Path(run_dir) / "report.html"
