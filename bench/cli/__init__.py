"""The `bench` command line: parse and validate, then call a library function.

Every input error ends with one line on stderr and exit code 2, before anything is written.
"""

from __future__ import annotations

import math
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

import click

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from bench import models  # the registry only: torch is imported when a model is built
from bench.cli.catalog import COMMANDS as CATALOG_COMMANDS
from bench.cli.common import FiniteFloat, IntList, NameList, one_line, plugin_option
from bench.cli.reports import COMMANDS as REPORT_COMMANDS
from bench.cli.reports import summary_json, summary_table
from bench.cli.runs import COMMANDS as RUN_COMMANDS
from bench.registry import PluginError

MAX_LENGTH = 10_000_000
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


class OneLineErrors(click.Group):
    """A click group whose usage errors are one line (`bench: error: ...`) and exit 2."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any) -> Any:
        extra.pop("standalone_mode", None)
        arguments = list(sys.argv[1:] if args is None else args)
        extra["obj"] = {"argv": ["bench", *arguments]}  # what the user typed, for the manifest
        try:
            # every option may also come from BENCH_<COMMAND>_<OPTION> (BENCH_RUN_STEPS=2000); the command
            # line wins over the environment, which wins over a --config file's and a preset's defaults
            code = super().main(arguments, prog_name or "bench", standalone_mode=False, auto_envvar_prefix="BENCH",
                                **extra)
        except click.ClickException as error:  # usage errors included: their exit code is 2
            click.echo(f"bench: error: {one_line(error.format_message())}", err=True)
            sys.exit(error.exit_code)
        except PluginError as error:  # a broken installed entry point, met while listing names
            click.echo(f"bench: error: {one_line(str(error))}", err=True)
            sys.exit(2)
        except (click.Abort, KeyboardInterrupt):
            click.echo("bench: interrupted; finished cells are kept, re-run the command to resume", err=True)
            sys.exit(130)
        if args is None:  # the real command, not an in-process caller such as a test runner
            # the work is done and stored: a Ctrl-C arriving now must not become a traceback on the way out
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.exit(code if isinstance(code, int) else 0)


class Device(click.ParamType):
    """auto | cpu | cuda | cuda:N, checked for form here; `resolve_device` asks torch what exists once
    every other option has passed (so a typo elsewhere costs no torch import)."""

    name = "device"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        value = str(value).strip().lower()
        if value not in ("auto", "cpu") and not re.fullmatch(r"cuda(?::\d+)?", value):
            self.fail(f"{value!r} is not one of auto, cpu, cuda, cuda:N", param, ctx)
        return value


def resolve_device(value: str) -> str:
    """The concrete device `value` names on this machine ('auto' -> cuda or cpu); a one-line error for a
    GPU that is not there."""
    if value == "cpu":
        return value
    import torch

    if value == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise click.BadParameter(f"{value} was asked for but no CUDA GPU is visible to PyTorch", param_hint="'--device'")
    index = value.partition(":")[2]
    if index and int(index) >= torch.cuda.device_count():
        raise click.BadParameter(f"{value}: only {torch.cuda.device_count()} GPU(s) are visible", param_hint="'--device'")
    return value


def writable_root(value: str) -> Path:
    """The output root, if it is (or can be created as) a writable folder; nothing is created here."""
    path = Path(value).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise click.BadParameter(f"{path} exists and is not a folder", param_hint="'--out'")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise click.BadParameter(f"{path} cannot be written (no write permission in {probe})",
                                 param_hint="'--out'")
    return path


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="longdep-bench", prog_name="bench")
def cli() -> None:
    """Benchmark how long a dependency recurrent models learn, on synthetic memory tasks."""


def load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """`--config sweep.toml`: its keys are the run options (flags given on the command line win);
    an unknown key is an error that names it."""
    if value is None:
        return None
    try:
        with open(value, "rb") as file:
            data = tomllib.load(file)
    except OSError as error:
        raise click.BadParameter(f"cannot read {value}: {error.strerror}", param=param) from None
    except tomllib.TOMLDecodeError as error:
        raise click.BadParameter(f"{value} is not valid TOML: {error}", param=param) from None
    table = data.get("run", data)  # the options at the top level, or under a [run] table
    if not isinstance(table, dict):
        raise click.BadParameter(f"'run' in {value} must be a table of run options ([run]), not {table!r}", param=param)
    _set_defaults(ctx, param, table, value)
    return value


def complete_preset(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from bench import presets

    return [name for name in sorted(presets.presets()) if name.startswith(incomplete)]


def load_preset(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """`--preset NAME`: a published experiment's options become the defaults (the command line wins)."""
    if value is None:
        return None
    from bench import presets

    try:
        preset = presets.get(value)
    except presets.UnknownPreset as error:
        raise click.BadParameter(str(error), param=param) from None
    _set_defaults(ctx, param, preset.run, f"preset {value}")
    return value


def _set_defaults(ctx: click.Context, param: click.Parameter, data: dict[str, Any], source: str) -> None:
    """Make `data` (option name -> value) the defaults of this command, checking every key and type."""
    options = {flag.lstrip("-"): p for p in ctx.command.params if p.name not in ("config", "plugins", "preset")
               for flag in p.opts}
    defaults = {}
    for key, setting in data.items():
        option = options.get(key) or options.get(key.replace("_", "-"))
        if option is None:
            raise click.BadParameter(f"unknown key '{key}' in {source} (known: {', '.join(sorted(options))})",
                                     param=param)
        if isinstance(setting, bool) != bool(getattr(option, "is_flag", False)) or isinstance(setting, dict):
            wanted = "true or false" if getattr(option, "is_flag", False) else f"a value for --{key}"
            raise click.BadParameter(f"key '{key}' in {source} must be {wanted}, not {setting!r}", param=param)
        defaults[option.name] = ",".join(map(str, setting)) if isinstance(setting, list) else setting
    ctx.default_map = {**(ctx.default_map or {}), **defaults}


class FloatList(click.ParamType):
    """`1e-3,3e-3` -> (0.001, 0.003), sorted, positive and finite."""

    name = "list"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[float, ...]:
        if isinstance(value, tuple):
            return value
        try:
            numbers = sorted(set(float(item) for item in str(value).split(",")))
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of numbers, e.g. 1e-3,3e-3", param, ctx)
        if any(not math.isfinite(n) or not 0 < n <= 1e6 for n in numbers):
            self.fail(f"{value!r}: every learning rate must be a finite number in (0, 1e6]", param, ctx)
        return tuple(numbers)


class Count(click.ParamType):
    """`70k`, `1.5M` or `70000` -> 70000: a parameter count."""

    name = "count"
    SUFFIXES = {"": 1, "k": 1_000, "m": 1_000_000}

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", str(value))
        if not match or not 1 <= float(match.group(1)) * self.SUFFIXES[match.group(2).lower()] <= 10**9:
            self.fail(f"{value!r} is not a parameter count such as 70k, 1.5M or 20000", param, ctx)
        return round(float(match.group(1)) * self.SUFFIXES[match.group(2).lower()])


def _options(*decorators: Any) -> Any:
    """Apply several click option decorators as one (options shared by `run` and `horizon`)."""
    def apply(function: Any) -> Any:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function
    return apply


training_options = _options(
    click.option("--models", "model_names", type=NameList("model"), default="rnn,lstm,gru", show_default=True,
                 help="Models, comma list (`bench models` lists them)."),
    click.option("--seeds", type=IntList("seed", 0, 2**31 - 1), default="0", show_default=True,
                 help="A LIST of seed numbers, e.g. 0,1,2 (`--seeds 3` is the one seed number 3; use --n-seeds 3 "
                      "for three seeds)."),
    click.option("--n-seeds", type=click.IntRange(1, 10_000), default=None,
                 help="Seeds 0..K-1: every cell is trained K times, and reports show the mean, its 95% interval "
                      "and the share of seeds solved. Not with --seeds."),
    click.option("--steps", type=click.IntRange(1, 10**8), default=4000, show_default=True,
                 help="Optimizer steps budget per cell."),
    click.option("--batch-size", type=click.IntRange(1, 65536), default=64, show_default=True,
                 help="Training sequences per optimizer step."),
    click.option("--hidden", type=click.IntRange(1, 65536), default=128, show_default=True,
                 help="Hidden units per layer (model width)."),
    click.option("--params", type=Count(), default=None,
                 help="Pick each model's width so its parameter count is within 5% of this (e.g. 70k); "
                      "replaces --hidden, and each cell records its count."),
    click.option("--layers", type=click.IntRange(1, 64), default=1, show_default=True, help="Stacked layers."),
    click.option("--lr", type=FiniteFloat(0, 1e6, min_open=True), default=1e-3, show_default=True,
                 help="Adam learning rate."),
    click.option("--clip", type=FiniteFloat(0, 1e9), default=1.0, show_default=True,
                 help="Gradient-norm clipping; 0 turns it off."),
    click.option("--eval-every", type=click.IntRange(1, 10**8), default=200, show_default=True,
                 help="Optimizer steps between validation points of the learning curve."),
    click.option("--eval-size", type=click.IntRange(1, 10**6), default=1000, show_default=True,
                 help="Sequences in the validation and the test split."),
    click.option("--time-limit", type=FiniteFloat(0, 10**7), default=0, show_default=True,
                 help="Wall-clock seconds per cell; 0 means none."),
    click.option("--stop", type=click.Choice(["solved", "budget"]), default="solved", show_default=True,
                 help="Stop a cell once it is solved (cheap sweeps), or train the whole budget and still record "
                      "when it was solved (final numbers comparable with papers that train to a budget)."),
    click.option("--diagnostics/--no-diagnostics", default=True, show_default=True,
                 help="Record each cell's gradient norms (median, 95th percentile, max, share of steps clipped) and "
                      "its gradient-flow profile at the end of training; they change no training number."),
    click.option("--device", type=Device(), default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
    click.option("--amp", type=click.Choice(["none", "bf16"]), default="none", show_default=True,
                 help="Mixed precision: bf16 runs forward passes under autocast (losses, gradients and Adam stay "
                      "float32). Part of the cell key: its numbers differ from float32 ones."),
    click.option("--compile", "compile_models", is_flag=True,
                 help="torch.compile the transformer and the LRU (the recurrences already run fused kernels); part "
                      "of those cells' keys. The first steps of each cell pay the compilation."),
    click.option("--jobs", type=click.IntRange(1, 4096), default=None,
                 help="Cells at a time (local) [default: fill the cores, or cells-per-gpu x GPUs]."),
    click.option("--threads", type=click.IntRange(1, 1024), default=1, show_default=True,
                 help="Torch threads per cell on CPU (part of the cell key: it can change the last bits)."),
    click.option("--cells-per-gpu", type=click.IntRange(1, 256), default=1, show_default=True,
                 help="Cells sharing one GPU at a time."),
    click.option("--out", default="results", show_default=True, help="Results root (cells are shared in it)."),
    click.option("--name", default=None, help="Run folder name (default: tasks + a hash of the sweep)."),
    click.option("--progress/--no-progress", default=True, show_default=True,
                 help="Progress bars (only on a terminal)."),
    click.option("--plots", type=click.Choice(["background", "now"]), default="background", show_default=True,
                 help="When the plot files are drawn: background (the run ends once its tables and reports are "
                      "written; a separate process draws the plots and embeds them in report.html seconds later) "
                      "or now (before the run ends: for a script that reads the plots right away)."),
)

# hyperparameter axes: `run` only (`bench horizon` searches lengths for one setting per model)
setting_axes = _options(
    click.option("--hiddens", type=IntList("hidden size", 1, 65536), default=None,
                 help="Sweep widths as an axis, comma list (replaces --hidden)."),
    click.option("--lrs", type=FloatList(), default=None,
                 help="Sweep learning rates as an axis, comma list (replaces --lr). With several settings the "
                      "report selects per (model, L) on the validation split."),
    click.option("--batch-sizes", type=IntList("batch size", 1, 65536), default=None,
                 help="Sweep batch sizes as an axis, comma list (replaces --batch-size)."),
)


@cli.command()
@plugin_option
@click.option("--config", type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
              callback=load_config, help="A TOML file with the same keys as these options.")
@click.option("--preset", is_eager=True, callback=load_preset, default=None, shell_complete=complete_preset,
              help="Run a published experiment with its settings (`bench presets` lists them); other options "
                   "given here override its settings.")
@click.option("--task", "task_names", type=NameList("task"), required=True,
              help="Task or comma list; parameters as NAME:key=value[,key=value] (e.g. adding:markers=anywhere; "
                   "`bench tasks` lists each task's parameters).")
@click.option("--lengths", type=IntList("length", 1, MAX_LENGTH), required=True,
              help="Dependency lengths, comma list, e.g. 50,200,1000.")
@click.option("--eval-lengths", type=IntList("length", 1, MAX_LENGTH), default=None,
              help="After training, also test every cell at these lengths (train at L, test at L'): a table "
                   "and a plot of their own.")
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
    sweep, root = _sweep_from_options(ctx, options)  # every check first: bad input imports no torch
    _check_combination(options, sweep.device)
    from bench.executors import make_executor
    from bench.runner import StorageError, run_sweep
    from bench.store import Store

    executor = make_executor(options["executor"], sweep.device, sweep.threads, options["jobs"],
                             options["cells_per_gpu"], options["ray_address"], options["cpus_per_cell"],
                             options["gpus_per_cell"])
    concurrent = getattr(executor, "jobs", 1)
    _check_memory(sweep, concurrent)
    if options["executor"] == "ray":
        _require_ray()
    _check_name_free(Store(root), options["name"] or sweep.default_name(), sweep, options["force"])
    _announce_cost(sweep, root, concurrent, options)
    if options["dry_run"]:
        return 0
    try:
        summary = run_sweep(sweep, Store(root), options["name"], executor, options["progress"], ctx.obj["argv"],
                            options["fresh"], options["retry_failed"], options["preset"], force=True,
                            plots=options["plots"])
    except StorageError as error:  # disk full or permissions, mid-run: a failure (exit 1), not bad input
        raise click.ClickException(str(error)) from None
    click.echo(summary_table(summary.records), err=True, nl=False)
    click.echo(f"{len(summary.records)} cells ({summary.computed} computed, {summary.reused} reused, "
               f"{summary.failed} failed) -> {summary.run_dir}", err=options["as_json"])
    if options["as_json"]:
        click.echo(summary_json(summary))
    if summary.failed:
        click.echo(f"{summary.failed} cell(s) failed; errors are in {summary.run_dir / 'results.csv'}; "
                   "--retry-failed recomputes them", err=True)
    return 1 if summary.failed else 0


def _check_combination(options: dict[str, Any], device: str) -> None:
    """Options that would do nothing with the others given are bad input, not silently ignored."""
    ray_only = [flag for flag, key in (("--ray-address", "ray_address"), ("--cpus-per-cell", "cpus_per_cell"),
                                       ("--gpus-per-cell", "gpus_per_cell")) if options[key] is not None]
    if ray_only and options["executor"] != "ray":
        raise click.BadParameter(f"{ray_only[0]} applies only with --executor ray", param_hint=f"'{ray_only[0]}'")
    if options["jobs"] is not None and options["executor"] == "ray":
        raise click.BadParameter("--jobs applies to the local executor; Ray runs as many cells at once as the "
                                 "cluster's resources allow (--cpus-per-cell, --gpus-per-cell)", param_hint="'--jobs'")
    if options["cells_per_gpu"] != 1 and not str(device).startswith("cuda"):
        raise click.BadParameter(f"--cells-per-gpu applies only on a GPU, not on device {device}",
                                 param_hint="'--cells-per-gpu'")


def _check_name_free(store: Any, name: str, sweep: Any, force: bool, kind: str | None = None) -> None:
    """Before anything is written, and with --dry-run too: a --name clash is bad input (exit 2)."""
    from bench.runner import NameTaken, check_name_free

    if not force:
        try:
            check_name_free(store, name, sweep, kind)
        except NameTaken as error:
            raise click.BadParameter(str(error), param_hint="'--name'") from None


def _announce_cost(sweep: Any, root: Path, concurrent: int, options: dict[str, Any]) -> None:
    """The plan with --dry-run; otherwise a warning before a run estimated at over an hour (it still runs),
    and for a preset what it runs and its expected cost here."""
    from bench.cost import LONG_RUN_SECONDS, seconds_text
    from bench.runner import sweep_plan
    from bench.store import Store

    lines, wall = sweep_plan(sweep, Store(root), concurrent, options["fresh"], options["retry_failed"])
    if options["dry_run"]:
        click.echo("\n".join(lines))
        return
    if options["preset"]:
        _announce_preset(options["preset"], sweep, concurrent, wall)
    elif wall > LONG_RUN_SECONDS:
        click.echo(f"bench: this sweep may take up to about {seconds_text(wall)} here at {concurrent} cell(s) at a time "
                   "(every cell's whole budget; a cell stops early once solved); --dry-run shows the plan. Ctrl-C "
                   "stops it; re-running resumes.", err=True)


def _announce_preset(name: str, sweep: Any, concurrent: int, wall: float) -> None:
    """Say what the preset runs and, for one that needs a GPU run elsewhere, its expected cost here."""
    from bench import presets
    from bench.cost import seconds_text

    preset = presets.get(name)
    click.echo(f"preset {name}: {preset.title} ({preset.source}); {len(preset.differences)} stated differences, "
               "listed by `bench presets`", err=True)
    needs = " needs a GPU for its full budget;" if preset.gpu and not sweep.device.startswith("cuda") else ":"
    click.echo(f"bench: preset {name}{needs} on this machine ({sweep.device}) it would take about "
               f"{seconds_text(wall)} at {concurrent} cell(s) at a time (timed from a few steps of each cell's "
               "shape; an upper bound when cells stop at a solve). Ctrl-C stops it; re-running resumes.", err=True)


def _seeds(ctx: click.Context, options: dict[str, Any]) -> tuple[int, ...]:
    """--seeds or --n-seeds: one of them; the command line wins over a preset or a config file."""
    from click.core import ParameterSource

    if options["n_seeds"] is None:
        return options["seeds"]
    seeds_from, n_seeds_from = ctx.get_parameter_source("seeds"), ctx.get_parameter_source("n_seeds")
    if seeds_from == ParameterSource.DEFAULT:
        return tuple(range(options["n_seeds"]))
    if seeds_from == n_seeds_from:
        raise click.BadParameter("give --seeds (a list of seed numbers) or --n-seeds (seeds 0..K-1), not both",
                                 param_hint="'--n-seeds'")
    return options["seeds"] if seeds_from == ParameterSource.COMMANDLINE else tuple(range(options["n_seeds"]))


def _widths(ctx: click.Context, options: dict[str, Any]) -> tuple[tuple[int, ...], int]:
    """(--hiddens, --params); --params replaces the width options, so giving both is an error."""
    from click.core import ParameterSource

    params = options["params"] or 0
    if params and ParameterSource.COMMANDLINE in (ctx.get_parameter_source("hidden"), ctx.get_parameter_source("hiddens") if "hiddens" in options else None):
        if ctx.get_parameter_source("params") == ParameterSource.COMMANDLINE:
            raise click.BadParameter("--params picks each model's width: give it or --hidden/--hiddens, not both",
                                     param_hint="'--params'")
        params = 0  # a width on the command line overrides a preset's --params
    return options.get("hiddens") or (), params


def _sweep_from_options(ctx: click.Context, options: dict[str, Any], lengths: tuple[int, ...] | None = None) -> tuple[Any, Path]:
    from bench.sweep import ModelConfig, Sweep, TrainConfig

    lengths = lengths or options["lengths"]
    _check_lengths(options["task_names"], lengths)
    name = options["name"]
    if name is not None and not NAME_PATTERN.match(name):
        raise click.BadParameter(f"{name!r}: use letters, digits, '.', '_', '+' and '-'", param_hint="'--name'")
    root = writable_root(options["out"])
    hiddens, params = _widths(ctx, options)
    train = TrainConfig(options["steps"], options["batch_size"], options["lr"], options["clip"],
                        options["eval_every"], options["eval_size"], options["time_limit"], options["stop"],
                        options.get("eval_lengths") or (), options["diagnostics"],
                        "" if options["amp"] == "none" else options["amp"], options["compile_models"])
    sweep = Sweep(options["task_names"], lengths, options["model_names"], _seeds(ctx, options),
                  ModelConfig(options["hidden"], options["layers"]), train, resolve_device(options["device"]), options["threads"],
                  hiddens=hiddens, lrs=options.get("lrs") or (), batch_sizes=options.get("batch_sizes") or (), params=params)
    _check_widths(sweep)
    if train.amp and not sweep.device.startswith("cuda"):
        raise click.BadParameter(f"--amp {train.amp} needs a CUDA device (on {sweep.device}, oneDNN has no bf16 LSTM "
                                 "kernel on most CPUs, and small recurrences gain nothing)", param_hint="'--amp'")
    return sweep, root


def _check_widths(sweep: Any) -> None:
    """Resolve --params now, so a count no width reaches is bad input (exit 2), not a failed run."""
    from bench.models import ParamsTooSmall

    try:
        for task in sweep.tasks:
            for model in sweep.models:
                sweep.widths(task, model)
    except ParamsTooSmall as error:
        raise click.BadParameter(str(error), param_hint="'--params'") from None


@cli.command()
@plugin_option
@click.option("--task", "task_names", type=NameList("task"), required=True,
              help="The task (one task string, e.g. adding or copy:delimiter=repeat).")
@click.option("--max-length", type=click.IntRange(1, MAX_LENGTH), required=True,
              help="The longest length to try.")
@click.option("--min-length", type=click.IntRange(1, MAX_LENGTH), default=None,
              help="The shortest length to try [default: the task's minimum, at least 10].")
@click.option("--ratio", type=FiniteFloat(1.05, 100), default=2.0, show_default=True,
              help="Factor between neighbouring candidate lengths.")
@click.option("--force", is_flag=True,
              help="Reuse a --name taken by another search or run, replacing its manifest (its cells stay).")
@training_options
@click.pass_context
def horizon(ctx: click.Context, **options: Any) -> int:
    """Find each model's horizon adaptively: grow the length while it solves, then bisect."""
    import longdep_tasks as tasks
    from bench.search import candidate_lengths

    if len(options["task_names"]) != 1:
        raise click.BadParameter("give one task; run `bench horizon` once per task", param_hint="'--task'")
    task = tasks.get(options["task_names"][0])
    low = options["min_length"] or max(task.min_length, 10)
    if options["max_length"] < low:
        raise click.BadParameter(f"{options['max_length']} is below the smallest length tried ({low})",
                                 param_hint="'--max-length'")
    from click.core import ParameterSource

    if options["n_seeds"] is None and ctx.get_parameter_source("seeds") == ParameterSource.DEFAULT:
        options["n_seeds"] = 3  # a horizon needs seeds: "at least half of them solved"
    candidates = candidate_lengths(low, options["max_length"], options["ratio"])
    sweep, root = _sweep_from_options(ctx, options, candidates)
    from bench.executors import make_executor
    from bench.runner import NameTaken, StorageError
    from bench.search import find_horizons
    from bench.store import Store

    executor = make_executor("local", sweep.device, sweep.threads, options["jobs"], options["cells_per_gpu"])
    _check_memory(sweep, getattr(executor, "jobs", 1))
    try:  # a --name clash is found before anything is written
        result = find_horizons(sweep, candidates, Store(root), executor, options["name"], options["progress"],
                               ctx.obj["argv"], force=options["force"], plots=options["plots"])
    except NameTaken as error:
        raise click.BadParameter(str(error), param_hint="'--name'") from None
    except StorageError as error:
        raise click.ClickException(str(error)) from None
    click.echo(summary_table(result.records), err=True, nl=False)
    for model, probed in result.probed.items():
        click.echo(f"{model}: probed L={','.join(map(str, probed))}", err=True)
    click.echo(f"trained {result.trained} cells ({len(result.cells)} probed) where a grid over the "
               f"{len(candidates)} candidate lengths needs {result.grid_cells} -> {result.run_dir}")
    return 0


@cli.command()
@plugin_option
@click.option("--task", "task_names", type=NameList("task"), required=True,
              help="The task (one task string, e.g. adding).")
@click.option("--length", type=click.IntRange(1, MAX_LENGTH), required=True, help="The dependency length L.")
@click.option("--models", "model_names", default="rnn,lstm,gru", show_default=True,
              help="Models, comma list, or 'all' (models that expose no per-step state are then listed as not probed).")
@click.option("--train-steps", type=click.IntRange(0, 10**8), default=0, show_default=True,
              help="Also train this many steps and probe at checkpoints along the way (0: initialisation only).")
@click.option("--checkpoints", type=click.IntRange(1, 1000), default=3, show_default=True,
              help="Checkpoints evenly spaced over --train-steps, besides initialisation.")
@click.option("--init-radius", type=FiniteFloat(0, 1e6, min_open=True), default=None,
              help="Rescale the recurrent weight matrix (each gate's block for lstm/gru) to this spectral radius "
                   "before training: above 1 a vanilla RNN's gradient explodes (try it with --clip 0).")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True,
              help="The cell's seed: its initial weights and its training data.")
@click.option("--hidden", type=click.IntRange(1, 65536), default=128, show_default=True, help="Hidden units per layer.")
@click.option("--layers", type=click.IntRange(1, 64), default=1, show_default=True, help="Stacked layers.")
@click.option("--batch-size", type=click.IntRange(1, 65536), default=64, show_default=True,
              help="Training sequences per optimizer step.")
@click.option("--lr", type=FiniteFloat(0, 1e6, min_open=True), default=1e-3, show_default=True, help="Adam learning rate.")
@click.option("--clip", type=FiniteFloat(0, 1e9), default=1.0, show_default=True,
              help="Gradient-norm clipping; 0 turns it off.")
@click.option("--device", type=Device(), default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--out", default="results", show_default=True, help="Results root; the probe goes to OUT/probes/NAME.")
def probe(**options: Any) -> int:
    """Show why memory fails: the gradient of the loss reaching each time step's state, at initialisation
    and during training, with its decay per step and the spectral radii behind it."""
    if len(options["task_names"]) != 1:
        raise click.BadParameter("give one task", param_hint="'--task'")
    _check_lengths(options["task_names"], (options["length"],), "'--length'")
    names = _probe_models(options["model_names"])
    root = writable_root(options["out"])
    from bench.probe import ProbeSpec, run_probe, summary_lines, unprobeable, write_probe

    spec = ProbeSpec(options["task_names"][0], options["length"], names, options["train_steps"], options["checkpoints"],
                     options["seed"], options["hidden"], options["layers"], options["batch_size"], options["lr"],
                     options["clip"], options["init_radius"], resolve_device(options["device"]))
    refused = unprobeable(spec) if options["model_names"].strip() != "all" else {}
    if refused:  # named explicitly: an error, not a silent gap (with 'all' they are listed instead)
        name, why = next(iter(refused.items()))
        raise click.BadParameter(f"{name} cannot be probed: it {why}", param_hint="'--models'")
    result = run_probe(spec, on_model=lambda name: click.echo(f"probing {name} ...", err=True))
    folder = root / "probes" / spec.name()
    write_probe(folder, spec, result)
    click.echo("\n".join(summary_lines(result)), err=True)
    click.echo(f"-> {folder}")
    return 0


def _probe_models(value: str) -> tuple[str, ...]:
    if value.strip() == "all":
        return tuple(models.registry.names())
    return NameList("model").convert(value, None, None)


def _check_memory(sweep: Any, concurrent: int) -> None:
    from bench.runner import SweepTooLarge, check_fits

    try:
        check_fits(sweep, concurrent)
    except SweepTooLarge as error:
        raise click.UsageError(str(error)) from None


def _require_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        raise click.UsageError("--executor ray needs Ray: pip install -e '.[ray]' in the bench checkout "
                               "(or pip install 'ray>=2.9')") from None


def _check_lengths(task_names: tuple[str, ...], lengths: tuple[int, ...], hint: str = "'--lengths'") -> None:
    import longdep_tasks as tasks

    for name in task_names:
        task = tasks.get(name)
        if lengths[0] < task.min_length:
            raise click.BadParameter(f"task {name} needs lengths of at least {task.min_length}", param_hint=hint)


for _command in (*REPORT_COMMANDS, *CATALOG_COMMANDS, *RUN_COMMANDS):
    cli.add_command(_command)

main = cli
