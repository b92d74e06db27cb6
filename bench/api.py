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



def run(tasks: str | Iterable[str], lengths: Iterable[int], models: Iterable[str] = ("rnn", "lstm", "gru"),
        seeds: Iterable[int] | None = None, *, n_seeds: int | None = None, out: str | Path = "results",
        name: str | None = None, device: str = "cpu", threads: int = 1, jobs: int = 1, force: bool = False,
        hiddens: Iterable[int] | None = None, lrs: Iterable[float] | None = None,
        batch_sizes: Iterable[int] | None = None, params: int | None = None, checkpoint_every: float = 60.0,
        **settings: Any) -> Path:
    """Train every cell of the sweep not yet stored under `out`, write the run's tables and report, and
    return its folder. The same plan as `bench run` (bench/plan.py): task and model strings canonical,
    lengths sorted, every check and conflict rule the command line has. `device` is "auto", "cpu", "cuda"
    or "cuda:N"; `settings` takes the declared settings (bench/settings.py: hidden, layers, steps,
    batch_size, lr, clip, eval_every, eval_size, time_limit, stop, eval_lengths, diagnostics, amp, compile).
    Raises bench.plan.UnknownName (a LookupError) for an unknown task or model, UnknownSetting (a TypeError)
    for an unknown setting, PlanError (a ValueError) for any other bad input, and bench.runner.NameTaken
    for a `name` taken by another sweep (unless `force`)."""
    from bench import plan
    from bench.executors import release
    from bench.runner import run_sweep
    from bench.store import Store

    request = plan.Request(
        [tasks] if isinstance(tasks, str) else list(tasks), list(lengths), list(models),
        None if seeds is None else list(seeds), n_seeds, _listed(hiddens), _listed(lrs), _listed(batch_sizes),
        params, settings, device, threads, jobs, out=out, name=name, checkpoint_every=checkpoint_every)
    the_plan = plan.make_plan(request)
    executor = the_plan.executor()
    try:
        the_plan.check_name_free(force)
        return run_sweep(the_plan.sweep, Store(the_plan.root), the_plan.name, executor, progress=False,
                         argv=["bench.api.run"], force=True, checkpoint_every=checkpoint_every).run_dir
    finally:
        release(executor)


def _listed(values: Iterable[Any] | None) -> list[Any] | None:
    return None if values is None else list(values)


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


def report(run_dir: str | Path, svg: bool = False) -> Path:
    """Rebuild the run's tables, plots (PNG; SVG too with `svg`), report.html and report.md from its stored
    cells; the HTML's path."""
    from bench.runner import rebuild_report

    rebuild_report(Path(run_dir), svg)
    return Path(run_dir) / "report.html"
