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

import tasks
from bench import models
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
            code = super().main(arguments, prog_name or "bench", standalone_mode=False, **extra)
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


def one_line(message: str) -> str:
    """The message with newlines and other control characters (a user's value may hold any) escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in message)


class IntList(click.ParamType):
    """`50,200,1000` -> (50, 200, 1000), sorted and without repeats, each within [low, high]."""

    name = "list"

    def __init__(self, what: str, low: int, high: int) -> None:
        self.what, self.low, self.high = what, low, high

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        items = [item.strip() for item in str(value).split(",")]
        if not items or any(not re.fullmatch(r"[+-]?\d+", item) for item in items):
            self.fail(f"{value!r} is not a comma-separated list of whole numbers, e.g. 50,200,1000", param, ctx)
        numbers = sorted(set(int(item) for item in items))
        for number in numbers:
            if not self.low <= number <= self.high:
                self.fail(f"{self.what} {number} is outside {self.low}..{self.high:,}", param, ctx)
        return tuple(numbers)


class NameList(click.ParamType):
    """`rnn,lstm` -> ('rnn', 'lstm'), each a registered name (unknown ones get suggestions)."""

    name = "names"

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        if self.kind == "task":  # task strings may carry parameters: adding:markers=anywhere,copy
            return tuple(dict.fromkeys(self._task(item, param, ctx) for item in tasks.split_task_list(str(value))))
        names = list(dict.fromkeys(item.strip() for item in str(value).split(",")))
        for name in names:
            if name not in models.registry.names():
                self.fail(models.registry.unknown_message(name), param, ctx)
        return tuple(names)

    def _task(self, text: str, param: Any, ctx: Any) -> str:
        """The canonical task string (defaults left out), or a one-line error saying what is wrong."""
        try:
            return tasks.get(text).variant
        except (tasks.UnknownNameError, tasks.VariantError) as error:
            self.fail(str(error), param, ctx)


class Device(click.ParamType):
    """auto | cpu | cuda | cuda:N, resolved to a concrete device that exists here."""

    name = "device"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        import torch

        value = str(value).strip().lower()
        if value == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if value == "cpu":
            return value
        match = re.fullmatch(r"cuda(?::(\d+))?", value)
        if not match:
            self.fail(f"{value!r} is not one of auto, cpu, cuda, cuda:N", param, ctx)
        if not torch.cuda.is_available():
            self.fail(f"{value} was asked for but no CUDA GPU is visible to PyTorch", param, ctx)
        if match.group(1) and int(match.group(1)) >= torch.cuda.device_count():
            self.fail(f"{value}: only {torch.cuda.device_count()} GPU(s) are visible", param, ctx)
        return value


class FiniteFloat(click.FloatRange):
    """A float range that also refuses nan and inf (click's FloatRange lets nan through)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


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


def load_plugins(ctx: click.Context, param: click.Parameter, paths: tuple[str, ...]) -> tuple[str, ...]:
    """`--plugin FILE.py` (repeatable): import each file before any other option is checked, so the
    tasks and models it registers are valid names."""
    from bench.plugins import load_plugin

    for path in paths:
        try:
            load_plugin(path)
        except PluginError as error:  # unreadable, or raised on import (a name registered twice included)
            raise click.BadParameter(str(error), param=param) from None
    return paths


plugin_option = click.option(
    "--plugin", "plugins", multiple=True, type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
    callback=load_plugins, help="A Python file that registers tasks or models (repeatable).")


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bench", prog_name="bench")
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
    options = {flag.lstrip("-"): p for p in ctx.command.params if p.name not in ("config", "plugins")
               for flag in p.opts}
    defaults = {}
    for key, setting in data.get("run", data).items():
        option = options.get(key) or options.get(key.replace("_", "-"))
        if option is None:
            raise click.BadParameter(f"unknown key '{key}' in {value} (known: {', '.join(sorted(options))})",
                                     param=param)
        if isinstance(setting, bool) != bool(getattr(option, "is_flag", False)) or isinstance(setting, dict):
            wanted = "true or false" if getattr(option, "is_flag", False) else f"a value for --{key}"
            raise click.BadParameter(f"key '{key}' in {value} must be {wanted}, not {setting!r}", param=param)
        defaults[option.name] = ",".join(map(str, setting)) if isinstance(setting, list) else setting
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


@cli.command()
@plugin_option
@click.option("--config", type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
              callback=load_config, help="A TOML file with the same keys as these options.")
@click.option("--task", "task_names", type=NameList("task"), required=True,
              help="Task or comma list; parameters as NAME:key=value[,key=value] (e.g. adding:markers=anywhere; "
                   "`bench tasks` lists each task's parameters).")
@click.option("--lengths", type=IntList("length", 1, MAX_LENGTH), required=True,
              help="Dependency lengths, comma list, e.g. 50,200,1000.")
@click.option("--models", "model_names", type=NameList("model"), default="rnn,lstm,gru", show_default=True)
@click.option("--seeds", type=IntList("seed", 0, 2**31 - 1), default="0", show_default=True)
@click.option("--steps", type=click.IntRange(1, 10**8), default=4000, show_default=True,
              help="Optimizer steps budget per cell.")
@click.option("--batch-size", type=click.IntRange(1, 65536), default=64, show_default=True)
@click.option("--hidden", type=click.IntRange(1, 65536), default=128, show_default=True)
@click.option("--layers", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--lr", type=FiniteFloat(0, 1e6, min_open=True), default=1e-3, show_default=True)
@click.option("--clip", type=FiniteFloat(0, 1e9), default=1.0, show_default=True,
              help="Gradient-norm clipping; 0 turns it off.")
@click.option("--eval-every", type=click.IntRange(1, 10**8), default=200, show_default=True)
@click.option("--eval-size", type=click.IntRange(1, 10**6), default=1000, show_default=True)
@click.option("--time-limit", type=FiniteFloat(0, 10**7), default=0, show_default=True,
              help="Wall-clock seconds per cell; 0 means none.")
@click.option("--stop", type=click.Choice(["solved", "budget"]), default="solved", show_default=True,
              help="Stop a cell once it is solved (cheap sweeps), or train the whole budget and still record "
                   "when it was solved (final numbers comparable with papers that train to a budget).")
@click.option("--device", type=Device(), default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--jobs", type=click.IntRange(1, 4096), default=None,
              help="Cells at a time (local) [default: fill the cores, or cells-per-gpu x GPUs].")
@click.option("--threads", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="Torch threads per cell on CPU (part of the cell key: it can change the last bits).")
@click.option("--cells-per-gpu", type=click.IntRange(1, 256), default=1, show_default=True)
@click.option("--ray-address", default=None, help="Ray cluster to join ('auto', 'ray://host:10001').")
@click.option("--cpus-per-cell", type=FiniteFloat(0, 1024, min_open=True), default=None,
              help="Ray CPUs per cell [default: --threads].")
@click.option("--gpus-per-cell", type=FiniteFloat(0, 64), default=None,
              help="Ray GPUs per cell, may be fractional [default: 1/cells-per-gpu on CUDA].")
@click.option("--fresh", is_flag=True, help="Recompute every cell, even those already stored.")
@click.option("--retry-failed", is_flag=True, help="Recompute stored cells whose status is failed.")
@click.option("--out", default="results", show_default=True, help="Results root (cells are shared in it).")
@click.option("--name", default=None, help="Run folder name (default: tasks + a hash of the sweep).")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress bars (only on a terminal).")
@click.pass_obj
def run(obj: dict[str, Any], **options: Any) -> int:
    """Train every model on every task at every dependency length and seed."""
    from bench.executors import make_executor
    from bench.runner import StorageError, run_sweep
    from bench.store import Store

    sweep, root = _sweep_from_options(options)
    executor = make_executor(options["executor"], sweep.device, sweep.threads, options["jobs"],
                             options["cells_per_gpu"], options["ray_address"], options["cpus_per_cell"],
                             options["gpus_per_cell"])
    _check_memory(sweep, getattr(executor, "jobs", 1))
    if options["executor"] == "ray":
        _require_ray()
    try:
        summary = run_sweep(sweep, Store(root), options["name"], executor, options["progress"], obj["argv"],
                            options["fresh"], options["retry_failed"])
    except StorageError as error:  # disk full or permissions, mid-run: a failure (exit 1), not bad input
        raise click.ClickException(str(error)) from None
    click.echo(summary_table(summary.records), err=True, nl=False)
    click.echo(f"{len(summary.records)} cells ({summary.computed} computed, {summary.reused} reused, "
               f"{summary.failed} failed) -> {summary.run_dir}")
    if summary.failed:
        click.echo(f"{summary.failed} cell(s) failed; errors are in {summary.run_dir / 'results.csv'}; "
                   "--retry-failed recomputes them", err=True)
    return 1 if summary.failed else 0


def _sweep_from_options(options: dict[str, Any]) -> tuple[Any, Path]:
    from bench.sweep import ModelConfig, Sweep, TrainConfig

    _check_lengths(options["task_names"], options["lengths"])
    name = options["name"]
    if name is not None and not NAME_PATTERN.match(name):
        raise click.BadParameter(f"{name!r}: use letters, digits, '.', '_', '+' and '-'", param_hint="'--name'")
    root = writable_root(options["out"])
    train = TrainConfig(options["steps"], options["batch_size"], options["lr"], options["clip"],
                        options["eval_every"], options["eval_size"], options["time_limit"], options["stop"])
    sweep = Sweep(options["task_names"], options["lengths"], options["model_names"], options["seeds"],
                  ModelConfig(options["hidden"], options["layers"]), train, options["device"], options["threads"])
    return sweep, root


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
        raise click.UsageError("--executor ray needs Ray: pip install 'bench[ray]'") from None


def summary_table(records: list[dict[str, Any]]) -> str:
    """The end-of-run grid per task (model x length), as plain text."""
    from bench.report import shown_number, grid_texts, summarize
    from bench.showing import length_meaning
    from bench.store import results_frame

    if not records:
        return ""
    summary = summarize(results_frame(records))
    lines = []
    for task, rows in summary.groupby("task"):
        grid = grid_texts(rows)
        first = rows.iloc[0]
        lines.append(f"{task} (L = {length_meaning(task)}; test accuracy, chance {shown_number(first['chance_accuracy'], '.3f')}, "
                     f"short memory {shown_number(first['short_memory_accuracy'], '.3f')}):")
        width = max(len(str(v)) for v in grid.values.ravel()) + 2
        names = max(len(str(model)) for model in [*grid.index, "model"]) + 2
        lines.append("  " + "model".ljust(names) + "".join(str(column).ljust(width) for column in grid.columns))
        for model, values in grid.iterrows():
            lines.append("  " + model.ljust(names) + "".join(str(v).ljust(width) for v in values))
    return "\n".join(lines) + "\n"


def _check_lengths(task_names: tuple[str, ...], lengths: tuple[int, ...]) -> None:
    for name in task_names:
        task = tasks.get(name)
        if lengths[0] < task.min_length:
            raise click.BadParameter(f"task {name} needs lengths of at least {task.min_length}",
                                     param_hint="'--lengths'")


@cli.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--open", "open_page", is_flag=True, help="Open report.html in the web browser afterwards.")
def report(run_dir: Path, open_page: bool) -> None:
    """Rebuild a run's tables, plots and reports (HTML, Markdown) from its stored cells (no training)."""
    from bench.runner import rebuild_report

    _require_run(run_dir)
    records = rebuild_report(run_dir)
    page = run_dir.absolute() / "report.html"
    click.echo(f"report rebuilt from {len(records)} cells -> {page} and report.md")
    if open_page:
        _open_in_browser(page)


def _open_in_browser(page: Path) -> None:
    import webbrowser

    if not webbrowser.open(page.as_uri()):
        click.echo(f"bench: no web browser found; open {page} by hand", err=True)


def _writable_file(path: Path) -> Path:
    folder = path.absolute().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(f"{path} cannot be written (no folder {folder} with write permission)",
                                 param_hint="'--html'")
    return path


def _require_run(run_dir: Path) -> None:
    if not (run_dir / "manifest.json").is_file():
        raise click.BadParameter(f"{run_dir} has no manifest.json: not a bench run folder", param_hint="RUN")


class GateParam(click.ParamType):
    """`accuracy:-0.05` -> Gate."""

    name = "metric:delta"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        from bench.compare import Gate

        try:
            return value if isinstance(value, Gate) else Gate.parse(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


@cli.command()
@click.argument("run_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--only-changed", is_flag=True, help="Hide rows whose marker is 'not significant'.")
@click.option("--fail-on", "gate", type=GateParam(), default=None,
              help="Exit 1 when a cell's accuracy dropped by more than this (e.g. accuracy:-0.05) "
                   "or a cell newly diverged or failed.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=lambda ctx, param, value: value and _writable_file(value),
              help="Also write the two grids side by side with the difference grid to this HTML file.")
def compare(run_a: Path, run_b: Path, only_changed: bool, gate: Any, html_path: Path | None) -> int:
    """Compare two runs cell by cell (grouped over seeds): better, worse, not significant, ..."""
    from bench.compare import (comparable, compare_runs, format_table, gate_failures, load_records,
                               marker_counts, write_compare_html)
    from bench.provenance import fingerprint_note
    from bench.store import results_frame

    for run_dir in (run_a, run_b):
        _require_run(run_dir)
    records_a, records_b = load_records(run_a), load_records(run_b)
    frame_a, frame_b = results_frame(records_a), results_frame(records_b)
    table = compare_runs(frame_a, frame_b)
    if html_path is not None:
        write_compare_html(html_path, table, frame_a, frame_b, (run_a.name, run_b.name))
    shown = table[table["marker"] != "not significant"] if only_changed else table
    click.echo(format_table(shown))
    click.echo(marker_counts(table))
    click.echo(fingerprint_note({"A": records_a, "B": records_b}))
    if gate is not None and comparable(table).empty:
        click.echo(f"bench: --fail-on {gate.metric}:{gate.threshold:g} fails: no cell of A and B was comparable "
                   "(see the markers above)", err=True)
        return 1
    if gate is not None and len(failures := gate_failures(table, gate)):
        click.echo(f"bench: {len(failures)} cell(s) broke --fail-on {gate.metric}:{gate.threshold:g}", err=True)
        return 1
    return 0


@cli.command()
@plugin_option
@click.argument("names", nargs=-1)
@click.option("--lengths", type=IntList("length", 1, 100_000), default=None,
              help="Dependency lengths to check tasks at [default: the minimum, 7 and 40].")
def check(names: tuple[str, ...], lengths: tuple[int, ...] | None) -> int:
    """Check tasks and models against their contracts (all when no NAMES): exit 1 if any fails."""
    from bench.checks import check_model
    from tasks._check import check_task

    task_names, model_names = _split_names(names)
    failed = 0
    for name in task_names:
        task = tasks.get(name)
        at = tuple(length for length in lengths if length >= task.min_length) if lengths else None
        failed += _print_check("task", name, check_task(task, at or None))
    for name in model_names:
        failed += _print_check("model", name, check_model(name))
    click.echo(f"{len(task_names) + len(model_names) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _split_names(names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    task_names, model_names = tasks.names(), models.registry.names()
    if not names:
        return task_names, model_names
    for name in names:
        if ":" in name:  # a task variant: its parameters are validated like --task's
            NameList("task").convert(name, None, None)
        elif name not in task_names and name not in model_names:
            raise click.BadParameter(f"no task or model '{name}' (tasks: {', '.join(task_names)}; models: "
                                     f"{', '.join(model_names)})", param_hint="NAMES")
    return [n for n in names if n in task_names or ":" in n], [n for n in names if n in model_names]


def _print_check(kind: str, name: str, problems: list[str]) -> int:
    if not problems:
        click.echo(f"✓ {kind} {name}")
        return 0
    click.echo(f"✗ {kind} {name}: {len(problems)} problem(s)")
    for problem in problems:
        click.echo(f"    {problem}")
    return 1


@cli.command("tasks")
@plugin_option
@click.option("--json", "as_json", is_flag=True,
              help="Every task's spec as JSON: parameters, length meaning and spans, baselines, solve rule, peers.")
def list_tasks(as_json: bool) -> None:
    """List registered tasks and the parameters a task string may set."""
    from bench.showing import task_spec

    if as_json:
        import json

        click.echo(json.dumps([task_spec(tasks.get(name)) for name in tasks.names()], indent=1))
        return
    for name in tasks.names():
        task = tasks.get(name)
        click.echo(f"{name:20} v{task.version}  L = {task.length_meaning}  {task.description}")
        for key, option in task.options.items():
            click.echo(f"{'':22}{key}={option.describe()} (default {option.default}): {option.help}")


@cli.command("models")
@plugin_option
def list_models() -> None:
    """List registered models."""
    for name in models.registry.names():
        click.echo(f"{name:20} {models.descriptions.get(name, '')}")


@cli.command()
@plugin_option
@click.argument("task_name", metavar="TASK", type=NameList("task"))
@click.option("--length", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True)
def show(task_name: tuple[str, ...], length: int, seed: int) -> None:
    """Print one generated example of TASK, so you can see what the model must do."""
    from bench.showing import describe_example

    task = tasks.get(task_name[0])
    if length < task.min_length:
        raise click.BadParameter(f"task {task.name} needs a length of at least {task.min_length}",
                                 param_hint="'--length'")
    click.echo(describe_example(task, length, seed))


main = cli
