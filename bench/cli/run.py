"""`bench run` (a grid: every task x length x model x setting x seed) and `bench horizon` (an adaptive
search over lengths). Both translate their options into a plan (bench/plan.py), which checks everything,
then call the library function that runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bench import plan
from bench.cli.common import FiniteFloat, IntList, NameList, plugin_option
from bench.cli.options import (bad_input, complete_preset, load_config, load_preset, plan_or_exit,
                               request_from_options, setting_axes, setting_option, training_options)
from bench.cli.reports import summary_json, summary_table
from bench.settings import BY_NAME


@click.command()
@plugin_option
@click.option("--config", type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
              callback=load_config, help="A TOML file with the same keys as these options.")
@click.option("--preset", is_eager=True, callback=load_preset, default=None, shell_complete=complete_preset,
              help="Run a published experiment with its settings (`bench presets` lists them); other options "
                   "given here override its settings.")
@click.option("--task", "task_names", type=NameList("task"), required=True,
              help="Task or comma list; parameters as NAME:key=value[,key=value] (e.g. adding:markers=anywhere; "
                   "`bench tasks` lists each task's parameters).")
@click.option("--lengths", type=IntList("length", 1, plan.MAX_LENGTH), required=True,
              help="Dependency lengths, comma list, e.g. 50,200,1000.")
@setting_option(BY_NAME["eval_lengths"])
@training_options
@setting_axes
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Local worker processes, or Ray tasks on a local instance or a cluster.")
@click.option("--ray-address", default=None, help="Ray cluster to join ('auto', 'ray://host:10001').")
@click.option("--cpus-per-cell", type=FiniteFloat(0, 1024, min_open=True), default=None,
              help="Ray CPUs per cell [default: --threads].")
@click.option("--gpus-per-cell", type=FiniteFloat(0, 64), default=None,
              help="Ray GPUs per cell, may be fractional [default: 1/cells-per-gpu on CUDA].")
@click.option("--fresh", is_flag=True, help="Recompute every cell, even those already stored.")
@click.option("--retry-failed", is_flag=True, help="Recompute stored cells whose status is failed.")
@click.option("--refit-costs", is_flag=True,
              help="Time the sweep's model shapes again for the cost estimate (their cached fits are dropped).")
@click.option("--dry-run", is_flag=True,
              help="Print the cells, the estimated time per model and length and in total, and the memory "
                   "estimate, then stop: nothing is trained or written (timings are cached per machine).")
@click.option("--force", is_flag=True,
              help="Reuse a --name taken by a run with another sweep, replacing its manifest (its cells stay).")
@click.option("--json", "as_json", is_flag=True,
              help="End with one JSON object on stdout (the run, its counts, the seed-aggregated grid and the "
                   "horizons); everything else goes to stderr.")
@click.pass_context
def run(ctx: click.Context, **options: Any) -> int:
    """Train every model on every task at every dependency length, setting and seed."""
    the_plan = plan_or_exit(request_from_options(ctx, options))  # every check first: bad input imports no torch
    if options["executor"] == "ray":
        _require_ray()
    executor = _executor(the_plan, options["force"])
    if options["refit_costs"]:
        from bench.cost import CostModel

        CostModel().forget(the_plan.sweep.expand())
    _announce_cost(the_plan, getattr(executor, "jobs", 1), options)
    if options["dry_run"]:
        return 0
    from bench.runner import StorageError, run_sweep
    from bench.store import Store

    try:  # the plan has checked the run name
        summary = run_sweep(the_plan.sweep, Store(the_plan.root), the_plan.name, executor, options["progress"],
                            ctx.obj["argv"], options["fresh"], options["retry_failed"], options["preset"], force=True,
                            checkpoint_every=the_plan.request.checkpoint_every)
    except StorageError as error:  # disk full or permissions, mid-run: a failure (exit 1), not bad input
        raise click.ClickException(str(error)) from None
    click.echo(summary_table(summary.records, wide=options["wide"]), err=True, nl=False)
    click.echo(f"{len(summary.records)} cells ({summary.computed} computed, {summary.reused} reused, "
               f"{summary.failed} failed) -> {summary.run_dir}", err=options["as_json"])
    if summary.timing is not None and summary.timing.count:
        click.echo(f"bench: {summary.timing.text()}", err=True)
    if options["as_json"]:
        click.echo(summary_json(summary))
    if summary.failed:
        click.echo(f"{summary.failed} cell(s) failed; errors are in {summary.run_dir / 'results.csv'}; "
                   "--retry-failed recomputes them", err=True)
    return 1 if summary.failed else 0


def _executor(the_plan: plan.Plan, force: bool) -> Any:
    """The plan's executor, once memory and the run name are checked (exit 2 otherwise); warnings said."""
    from bench.runner import NameTaken

    for warning in the_plan.warnings:
        click.echo(f"bench: warning: {warning}", err=True)
    try:
        executor = the_plan.executor()
        the_plan.check_name_free(force)
    except plan.PlanError as error:
        raise bad_input(error) from None
    except NameTaken as error:
        raise click.BadParameter(str(error), param_hint="'--name'") from None
    return executor


def _announce_cost(the_plan: plan.Plan, concurrent: int, options: dict[str, Any]) -> None:
    """The plan with --dry-run; otherwise the estimate before a run of more than a minute starts, and for a
    preset what it runs and its expected cost here. Beyond SUGGEST_SECONDS, a shorter sweep that tells the
    same story, with its own estimate."""
    from bench.cost import range_text
    from bench.runner import sweep_plan
    from bench.store import Store

    sweep = the_plan.sweep
    lines, wall, band = sweep_plan(sweep, Store(the_plan.root), concurrent, options["fresh"], options["retry_failed"])
    if options["dry_run"]:
        click.echo("\n".join(lines))
    elif options["preset"]:
        _announce_preset(options["preset"], sweep, concurrent, range_text(wall, band))
    elif wall > ANNOUNCE_SECONDS:
        click.echo(f"bench: this sweep may take up to {range_text(wall, band)} here at {concurrent} cell(s) at a time "
                   "(every cell's whole budget; a cell stops early once solved); --dry-run shows the plan. Ctrl-C "
                   "stops it; re-running resumes.", err=True)
    if wall > SUGGEST_SECONDS and not options["preset"]:
        _suggest_shorter(the_plan, concurrent)


ANNOUNCE_SECONDS = 60  # a run estimated longer says so before it starts
SUGGEST_SECONDS = 15 * 60  # ... and beyond this, which shorter sweep tells the same story
SHORT_LENGTHS, SHORT_STEPS = (25, 50, 100), 3000  # the README's main job: the story at short spans


def _suggest_shorter(the_plan: plan.Plan, concurrent: int) -> None:
    """One line: the same tasks and models at short lengths and budget, with its own estimate here."""
    from dataclasses import replace

    from bench.cost import range_text
    from bench.runner import sweep_plan
    from bench.store import Store

    sweep = the_plan.sweep
    lengths = tuple(sorted({max(length, spec_min) for length, spec_min in zip(SHORT_LENGTHS, _task_minimums(sweep.tasks))
                            if length <= max(sweep.lengths)})) or sweep.lengths[:1]
    shorter = replace(sweep, lengths=lengths, seeds=sweep.seeds[:1],
                      train=replace(sweep.train, steps=min(sweep.train.steps, SHORT_STEPS)))
    if shorter == sweep:
        return
    _, wall, band = sweep_plan(shorter, Store(the_plan.root), concurrent)
    command = (f"bench run --task {','.join(sweep.tasks)} --lengths {','.join(map(str, lengths))} "
               f"--steps {shorter.train.steps} --models {','.join(sweep.models)}")
    click.echo(f"bench: the same comparison at short lengths tells the story in {range_text(wall, band)} here: "
               f"{command}", err=True)


def _task_minimums(names: tuple[str, ...]) -> list[int]:
    import longdep_tasks as tasks

    low = max(tasks.get(name).min_length for name in names)
    return [low] * len(SHORT_LENGTHS)


def _announce_preset(name: str, sweep: Any, concurrent: int, wall: str) -> None:
    """Say what the preset runs and, for one that needs a GPU run elsewhere, its expected cost here."""
    from bench import presets

    preset = presets.get(name)
    click.echo(f"preset {name}: {preset.title} ({preset.source}); {len(preset.differences)} stated differences, "
               "listed by `bench presets`", err=True)
    needs = " needs a GPU for its full budget;" if preset.gpu and not sweep.device.startswith("cuda") else ":"
    click.echo(f"bench: preset {name}{needs} on this machine ({sweep.device}) it would take {wall} at "
               f"{concurrent} cell(s) at a time (timed from a few steps of each cell's shape; an upper bound when "
               "cells stop at a solve). Ctrl-C stops it; re-running resumes.", err=True)


@click.command()
@plugin_option
@click.option("--task", "task_names", type=NameList("task"), required=True,
              help="The task (one task string, e.g. adding or copy:delimiter=repeat).")
@click.option("--max-length", type=click.IntRange(1, plan.MAX_LENGTH), required=True,
              help="The longest length to try.")
@click.option("--min-length", type=click.IntRange(1, plan.MAX_LENGTH), default=None,
              help="The shortest length to try [default: the task's minimum, at least 10].")
@click.option("--ratio", type=FiniteFloat(1.05, 100), default=2.0, show_default=True,
              help="Factor between neighbouring candidate lengths.")
@click.option("--force", is_flag=True,
              help="Reuse a --name taken by another search or run, replacing its manifest (its cells stay).")
@training_options
@click.pass_context
def horizon(ctx: click.Context, **options: Any) -> int:
    """Find each model's horizon adaptively: grow the length while it solves, then bisect (3 seeds unless
    --seeds or --n-seeds says otherwise)."""
    from bench.search import candidate_lengths

    if len(options["task_names"]) != 1:
        raise click.BadParameter("give one task; run `bench horizon` once per task", param_hint="'--task'")
    low = options["min_length"] or max(_min_length(options["task_names"][0]), 10)
    if options["max_length"] < low:
        raise click.BadParameter(f"{options['max_length']} is below the smallest length tried ({low})",
                                 param_hint="'--max-length'")
    candidates = candidate_lengths(low, options["max_length"], options["ratio"])
    the_plan = plan_or_exit(request_from_options(ctx, {**options, "lengths": candidates}, kind="horizon"))
    executor = _executor(the_plan, options["force"])
    from bench.runner import StorageError
    from bench.search import find_horizons
    from bench.store import Store

    try:  # the plan has checked the run name
        result = find_horizons(the_plan.sweep, candidates, Store(the_plan.root), executor, the_plan.name,
                               options["progress"], ctx.obj["argv"], force=True,
                               checkpoint_every=the_plan.request.checkpoint_every)
    except StorageError as error:
        raise click.ClickException(str(error)) from None
    click.echo(summary_table(result.records, wide=options["wide"]), err=True, nl=False)
    for model, probed in result.probed.items():
        click.echo(f"{model}: probed L={','.join(map(str, probed))}", err=True)
    click.echo(f"trained {result.trained} cells ({len(result.cells)} probed) where a grid over the "
               f"{len(candidates)} candidate lengths needs {result.grid_cells} -> {result.run_dir}")
    return 0


def _min_length(task: str) -> int:
    import longdep_tasks as tasks

    return tasks.get(task).min_length


def _require_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        raise click.UsageError("--executor ray needs Ray: pip install -e '.[ray]' in the bench checkout "
                               "(or pip install 'ray>=2.9')") from None


