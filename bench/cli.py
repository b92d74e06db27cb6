"""The `bench` command line: parse and validate, then call a library function.

Every input error ends with one line on stderr and exit code 2, before anything is written.
"""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path
from typing import Any, Sequence

import click

import tasks
from bench import models

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
        except click.UsageError as error:
            click.echo(f"bench: error: {error.format_message()}", err=True)
            sys.exit(2)
        except click.ClickException as error:
            click.echo(f"bench: error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except (click.Abort, KeyboardInterrupt):
            click.echo("bench: interrupted; finished cells are kept, re-run the command to resume", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


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
        names = list(dict.fromkeys(item.strip() for item in str(value).split(",")))
        known = tasks.names() if self.kind == "task" else models.registry.names()
        for name in names:
            if name not in known:
                message = tasks.unknown_message(name) if self.kind == "task" else models.registry.unknown_message(name)
                self.fail(message, param, ctx)
        return tuple(names)


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


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bench", prog_name="bench")
def cli() -> None:
    """Benchmark how long a dependency recurrent models learn, on synthetic memory tasks."""


@cli.command()
@click.option("--task", "task_names", type=NameList("task"), required=True, help="Task name or comma list.")
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
@click.option("--device", type=Device(), default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--out", default="results", show_default=True, help="Results root (cells are shared in it).")
@click.option("--name", default=None, help="Run folder name (default: tasks + a hash of the sweep).")
@click.option("--threads", type=click.IntRange(1, 1024), default=None,
              help="Torch and numba threads for training [default: all cores].")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress bar (only on a terminal).")
@click.pass_obj
def run(obj: dict[str, Any], task_names: tuple[str, ...], lengths: tuple[int, ...], model_names: tuple[str, ...],
        seeds: tuple[int, ...], steps: int, batch_size: int, hidden: int, layers: int, lr: float,
        clip: float, eval_every: int, eval_size: int, time_limit: float, device: str, out: str,
        name: str | None, threads: int | None, progress: bool) -> int:
    """Train every model on every task at every dependency length and seed."""
    from bench.executors import InProcessExecutor
    from bench.runner import SweepTooLarge, check_fits, run_sweep
    from bench.store import Store
    from bench.sweep import ModelConfig, Sweep, TrainConfig

    _check_lengths(task_names, lengths)
    if name is not None and not NAME_PATTERN.match(name):
        raise click.BadParameter(f"{name!r}: use letters, digits, '.', '_', '+' and '-'", param_hint="'--name'")
    root = writable_root(out)
    sweep = Sweep(task_names, lengths, model_names, seeds, ModelConfig(hidden, layers),
                  TrainConfig(steps, batch_size, lr, clip, eval_every, eval_size, time_limit), device)
    try:
        check_fits(sweep)
    except SweepTooLarge as error:
        raise click.UsageError(str(error)) from None
    summary = run_sweep(sweep, Store(root), name, InProcessExecutor(threads), progress, obj["argv"])
    click.echo(f"{len(summary.records)} cells ({summary.computed} computed, {summary.reused} reused, "
               f"{summary.failed} failed) -> {summary.run_dir}")
    return 1 if summary.failed else 0


def _check_lengths(task_names: tuple[str, ...], lengths: tuple[int, ...]) -> None:
    for name in task_names:
        task = tasks.get(name)
        if lengths[0] < task.min_length:
            raise click.BadParameter(f"task {name} needs lengths of at least {task.min_length}",
                                     param_hint="'--lengths'")


@cli.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def report(run_dir: Path) -> None:
    """Rebuild a run's tables, plots and report from its stored cells (no training)."""
    from bench.runner import rebuild_report
    from bench.store import Store

    if not (run_dir / "manifest.json").is_file():
        raise click.BadParameter(f"{run_dir} has no manifest.json: not a bench run folder", param_hint="RUN_DIR")
    records = rebuild_report(run_dir, Store(run_dir.resolve().parent.parent))
    click.echo(f"report rebuilt from {len(records)} cells -> {run_dir / 'report.md'}")


@cli.command("tasks")
def list_tasks() -> None:
    """List registered tasks."""
    for name in tasks.names():
        task = tasks.get(name)
        click.echo(f"{name:16} v{task.version}  chance acc {task.chance_accuracy:.4f}  {task.description}")


@cli.command("models")
def list_models() -> None:
    """List registered models."""
    for name in models.registry.names():
        click.echo(f"{name:16} {models.descriptions.get(name, '')}")


@cli.command()
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
