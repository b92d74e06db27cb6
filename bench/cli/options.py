"""The options `bench run`, `bench horizon` and `bench probe` share, and their translation into a plan.

The training settings' options are derived from their declarations in bench/settings.py (flag, type, range,
default, help), so a setting is declared once; a `--config` file's keys and the `BENCH_<COMMAND>_<OPTION>`
environment variables follow from the options. `request_from_options` turns parsed options into a
bench.plan.Request (only the values that were given: precedence is the command line over the environment
over a config file or preset) and `plan_or_exit` makes the plan, turning bad input into exit code 2.
"""

from __future__ import annotations

import math
import re
from typing import Any

import click
from click.core import ParameterSource

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from bench import plan, settings
from bench.cli.common import FiniteFloat, IntList, NameList


class Device(click.ParamType):
    """auto | cpu | cuda | cuda:N, checked for form here; the plan asks torch what exists once every other
    option has passed (so a typo elsewhere costs no torch import)."""

    name = "device"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        try:
            return plan.device_form(value)
        except plan.PlanError as error:
            self.fail(str(error), param, ctx)


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



def setting_option(setting: settings.Setting, **overrides: Any) -> Any:
    """The click option of a declared setting."""
    kinds = {"int": lambda: click.IntRange(int(setting.low), int(setting.high)),
             "float": lambda: FiniteFloat(setting.low, setting.high, min_open=setting.low_open),
             "choice": lambda: click.Choice(list(setting.choices)),
             "lengths": lambda: IntList("length", int(setting.low), int(setting.high)),
             "flag": lambda: None}
    extra = {"type": kinds[setting.kind]()} if setting.kind != "flag" else {}
    default = None if setting.kind == "lengths" else setting.default
    return click.option(setting.flag, setting.name, default=default, show_default=setting.kind != "lengths",
                        help=setting.help, **{**extra, **overrides})


def declared(*names: str) -> Any:
    return _options(*(setting_option(settings.BY_NAME[name]) for name in names))


training_options = _options(
    click.option("--models", "model_names", type=NameList("model"), default="rnn,lstm,gru", show_default=True,
                 help="Models, comma list, each NAME or NAME:key=value (`bench models` lists them and their "
                      "parameters, e.g. lstm:forget_bias=1)."),
    click.option("--seeds", type=IntList("seed", 0, plan.MAX_SEED), default="0", show_default=True,
                 help="A LIST of seed numbers, e.g. 0,1,2 (`--seeds 3` is the one seed number 3; use --n-seeds 3 "
                      "for three seeds)."),
    click.option("--n-seeds", type=click.IntRange(1, 10_000), default=None,
                 help="Seeds 0..K-1: every cell is trained K times, and reports show the mean, its 95% interval "
                      "and the share of seeds solved. Not with --seeds."),
    declared("steps", "batch_size", "hidden"),
    click.option("--params", type=Count(), default=None,
                 help="Pick each model's width so its parameter count is within 5% of this (e.g. 70k); "
                      "replaces --hidden, and each cell records its count."),
    declared("layers", "lr", "clip", "eval_every", "eval_size", "time_limit", "stop", "diagnostics"),
    click.option("--device", type=Device(), default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
    declared("amp", "compile"),
    click.option("--jobs", type=click.IntRange(1, 4096), default=None,
                 help="Cells at a time (local) [default: fill the cores, or cells-per-gpu x GPUs; one at a time "
                      "when every cell is short]."),
    click.option("--threads", type=click.IntRange(1, 1024), default=1, show_default=True,
                 help="Torch threads per cell on CPU (part of the cell key: it can change the last bits). More "
                      "jobs x threads than cores is allowed, with a warning."),
    click.option("--cells-per-gpu", type=click.IntRange(1, 256), default=1, show_default=True,
                 help="Cells sharing one GPU at a time."),
    click.option("--checkpoint-every", type=FiniteFloat(0, 10**7), default=60, show_default=True,
                 help="Seconds of wall time between a running cell's checkpoints (its whole training state, "
                      "beside its claim); an interrupted cell resumes from its last one with the same numbers. "
                      "0 turns them off."),
    click.option("--out", default="results", show_default=True, help="Results root (cells are shared in it)."),
    click.option("--name", default=None, help="Run folder name (default: tasks + a hash of the sweep)."),
    click.option("--progress/--no-progress", default=True, show_default=True,
                 help="Progress bars (only on a terminal)."),
    click.option("--wide", is_flag=True,
                 help="Print the end-of-run grid with every cell's whole text, however wide (by default it fits "
                      "the terminal, or COLUMNS: cells abbreviated, lengths split over blocks; a pipe or a log "
                      "gets whole lines)."),
)

# hyperparameter axes: `run` only (`bench horizon` searches lengths for one setting per model)
setting_axes = _options(
    click.option("--hiddens", type=IntList("hidden size", 1, 65536), default=None,
                 help="Sweep widths as an axis, comma list (instead of --hidden)."),
    click.option("--lrs", type=FloatList(), default=None,
                 help="Sweep learning rates as an axis, comma list (instead of --lr). With several settings the "
                      "report selects per (model, L) on the validation split."),
    click.option("--batch-sizes", type=IntList("batch size", 1, 65536), default=None,
                 help="Sweep batch sizes as an axis, comma list (instead of --batch-size)."),
)


def request_from_options(ctx: click.Context, options: dict[str, Any], lengths: tuple[int, ...] | None = None,
                         kind: str = "grid") -> plan.Request:
    """The plan's request: every option that was given, from the command line, the environment, a config
    file or a preset. Where two conflicting options come from different places, the command line's wins
    (`--hidden 64` over a preset's `params`); both on the command line is the plan's to refuse."""
    given = {name for name in options if _source(ctx, name) not in (None, ParameterSource.DEFAULT)}
    for one, other in plan.CONFLICTS:
        if {one, other} <= given:
            sources = _source(ctx, one), _source(ctx, other)
            if sources.count(ParameterSource.COMMANDLINE) == 1:
                given.discard(one if sources[1] == ParameterSource.COMMANDLINE else other)
    pick = {name: options[name] for name in given}
    ray = {key: pick.get(key) for key in ("ray_address", "cpus_per_cell", "gpus_per_cell")}
    return plan.Request(
        options["task_names"], lengths or options["lengths"], options["model_names"], pick.get("seeds"),
        pick.get("n_seeds"), pick.get("hiddens"), pick.get("lrs"), pick.get("batch_sizes"), pick.get("params"),
        {s.name: pick[s.name] for s in settings.ALL if s.name in pick}, options["device"], options["threads"],
        options["jobs"], options.get("executor", "local"), options["cells_per_gpu"], ray, options["out"],
        options["name"], kind, options["checkpoint_every"])


def _source(ctx: click.Context, name: str) -> ParameterSource | None:
    return ctx.get_parameter_source(name)


def plan_or_exit(request: plan.Request) -> plan.Plan:
    """The plan, or exit code 2 with the plan's one line naming the option."""
    try:
        return plan.make_plan(request)
    except plan.PlanError as error:
        raise bad_input(error) from None


def bad_input(error: plan.PlanError) -> click.BadParameter:
    return click.BadParameter(str(error), param_hint=f"'{error.option}'" if error.option else None)
